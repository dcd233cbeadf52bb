"""Errors raised by the snapshot store. Each names the file and, where it applies, the field."""
from __future__ import annotations

import os

from gridregime.errors import GridRegimeError


class SnapshotError(GridRegimeError):
    """Base class of every snapshot-store error."""


class SnapshotNotFoundError(SnapshotError, FileNotFoundError):
    """A snapshot file that was asked for does not exist."""


class SnapshotConflictError(SnapshotError):
    """A raw market file exists with different content and overwriting was not requested."""


class SnapshotValidationError(SnapshotError, ValueError):
    """A snapshot file (or the data about to be written to it) breaks a format v1 rule.

    Parameters
    ----------
    path : path-like
        The file concerned (for data being written: the file it would be written to).
    field : str
        Dotted name of the offending field, e.g. ``"bars.high"`` or ``"metadata.symbol"``.
    reason : str
        What was expected and what was found.
    """

    def __init__(self, path: str | os.PathLike, field: str, reason: str):
        self.path = os.fspath(path)
        self.field = field
        self.reason = reason
        super().__init__(f"{self.path}: {field}: {reason}")

    def __reduce__(self):  # keep the three attributes across processes
        return (type(self), (self.path, self.field, self.reason))
