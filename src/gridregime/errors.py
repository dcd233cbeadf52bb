"""Exception hierarchy. Every error a user can trigger names the file, field or parameter."""


class GridRegimeError(Exception):
    """Base class of every error raised on purpose by gridregime."""


class InvalidParameterError(GridRegimeError, ValueError):
    """A caller-supplied parameter is out of its domain; the message names it."""


class InvalidParameterTypeError(InvalidParameterError, TypeError):
    """A caller-supplied parameter has the wrong type (also a ``TypeError``); the message names it."""
