"""Per-symbol overrides: the one scheme every frozen settings object uses.

A settings dataclass (``RegimeConfig``, ``GateConfig``, ``GridPolicy``) has a field
``symbol_overrides`` mapping a symbol to ``{field: value}``. :func:`check_symbol_overrides` validates
it once, in ``__post_init__`` (symbols, field names, and the values by building the overridden
object, so a bad override fails at load time naming the symbol), and :func:`for_symbol` gives the
object with one symbol's values applied. The overrides are not parameters: they take no part in
equality or in a config hash.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import orjson

from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol

T = TypeVar("T")

FIELD = "symbol_overrides"


class FrozenOverrides(dict):
    """A dict that refuses mutation, so a frozen settings object stays frozen."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{FIELD} is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __hash__(self) -> int:  # pragma: no cover - settings hash their parameters, not this
        return hash(orjson.dumps(self, option=orjson.OPT_SORT_KEYS))


def parameter_names(cls: type) -> list[str]:
    """The fields of a settings dataclass that are parameters (all but ``symbol_overrides``)."""
    return [f.name for f in dataclasses.fields(cls) if f.name != FIELD]


def check_symbol_overrides(obj: Any, names: Iterable[str] | None = None) -> None:
    """Validate ``obj.symbol_overrides`` and store it frozen (call from ``__post_init__``).

    Each key must be a symbol, each value a mapping of parameter names; every symbol's overridden
    object is built once so that an out-of-range value fails here. Errors name the class, the
    symbol and the field.
    """
    owner = type(obj).__name__
    raw = getattr(obj, FIELD)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidParameterError(f"{owner}.{FIELD}: expected a mapping symbol -> {{field: value}}, "
                                    f"got {type(raw).__name__}")
    known = set(parameter_names(type(obj)) if names is None else names)
    checked: dict[str, dict[str, Any]] = {}
    for symbol, values in raw.items():
        validate_symbol(symbol, name=f"{owner}.{FIELD} symbol")
        if not isinstance(values, Mapping):
            raise InvalidParameterError(f"{owner}.{FIELD}[{symbol!r}]: expected a table of fields, "
                                        f"got {type(values).__name__}")
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidParameterError(f"{owner}.{FIELD}[{symbol!r}]: unknown field(s) {unknown} "
                                        f"(expected some of {', '.join(sorted(known))})")
        try:
            dataclasses.replace(obj, **{FIELD: {}}, **values)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{owner}.{FIELD}[{symbol!r}]: {exc}") from None
        checked[symbol] = dict(values)
    object.__setattr__(obj, FIELD, FrozenOverrides(checked))


def for_symbol(obj: T, symbol: str) -> T:
    """``obj`` with ``symbol``'s overrides applied and none left (``obj`` itself when the symbol has none)."""
    values = getattr(obj, FIELD).get(symbol)
    return dataclasses.replace(obj, **{FIELD: {}}, **values) if values else obj
