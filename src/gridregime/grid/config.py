"""Grid configuration (SPEC §6): a frozen, validated ``GridConfig`` and its price levels.

A grid has ``levels`` price levels *including both bounds*, so ``levels - 1`` intervals. Arithmetic
grids have a constant price step, geometric grids a constant price ratio.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import Enum
from typing import Any

from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import UTC, to_utc

MIN_LEVELS = 2
MAX_LEVELS = 1000


class SpacingMode(str, Enum):
    """How the levels are spread between the bounds."""

    ARITHMETIC = "ARITHMETIC"
    GEOMETRIC = "GEOMETRIC"


class GridMode(str, Enum):
    """``PROBATION`` is the reduced grid run right after a restart; ``NORMAL`` otherwise."""

    NORMAL = "NORMAL"
    PROBATION = "PROBATION"


def iso_utc(dt: datetime) -> str:
    """ISO-8601 with a ``Z`` suffix, keeping microseconds so times round-trip exactly."""
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _finite_positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterError(f"{name}: expected a number, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out) or out <= 0.0:
        raise InvalidParameterError(f"{name}: expected a finite number > 0, got {value!r}")
    return out


def _enum(name: str, enum: type[Enum], value: object) -> Any:
    try:
        return enum(value.upper() if isinstance(value, str) else value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidParameterError(f"{name}: expected one of {allowed}, got {value!r}") from None


def grid_levels(lower: float, upper: float, levels: int, spacing_mode: SpacingMode | str) -> tuple[float, ...]:
    """Price levels from ``lower`` to ``upper`` inclusive, ascending.

    Parameters
    ----------
    lower, upper : float
        Bounds, ``0 < lower < upper``.
    levels : int
        Number of levels including both bounds (>= 2).
    spacing_mode : SpacingMode or str
        ``ARITHMETIC`` (constant step ``(upper - lower) / (levels - 1)``) or ``GEOMETRIC``
        (constant ratio ``(upper / lower) ** (1 / (levels - 1))``).

    Returns
    -------
    tuple of float
        ``levels`` values; the first is exactly ``lower`` and the last exactly ``upper``.
    """
    mode = _enum("spacing_mode", SpacingMode, spacing_mode)
    lower = _finite_positive("lower", lower)
    upper = _finite_positive("upper", upper)
    if upper <= lower:
        raise InvalidParameterError(f"upper: expected upper > lower ({lower!r}), got {upper!r}")
    if isinstance(levels, bool) or not isinstance(levels, int) or not MIN_LEVELS <= levels <= MAX_LEVELS:
        raise InvalidParameterError(f"levels: expected an integer in [{MIN_LEVELS}, {MAX_LEVELS}], got {levels!r}")
    n = levels - 1
    if mode is SpacingMode.ARITHMETIC:
        step = (upper - lower) / n
        inner = [lower + i * step for i in range(1, n)]
    else:
        log_lo, log_hi = math.log(lower), math.log(upper)
        inner = [math.exp(log_lo + (log_hi - log_lo) * i / n) for i in range(1, n)]
    # Clamp the interior so rounding can never put a level outside the bounds or out of order.
    out = [lower]
    for value in inner:
        out.append(min(max(value, out[-1]), upper))
    out.append(upper)
    return tuple(out)


@dataclass(frozen=True)
class GridConfig:
    """One version of a symbol's grid.

    Attributes
    ----------
    symbol : str
        ``BASE-QUOTE``.
    lower, upper : float
        Grid bounds in quote currency, ``0 < lower < upper``.
    levels : int
        Number of price levels including both bounds, in [2, 1000].
    spacing_mode : SpacingMode
        ``ARITHMETIC`` or ``GEOMETRIC``.
    allocation : float
        Capital allocated to the grid, in quote currency (> 0).
    enabled : bool
        Whether the grid is running.
    mode : GridMode
        ``NORMAL`` or ``PROBATION``.
    version : int
        1 for the first stored version; the history store assigns it (0 = not stored yet).
    created_at : datetime
        Aware UTC time this version was created.
    reason : str
        Why this version exists (free text, may be empty for unsaved proposals).
    """

    symbol: str
    lower: float
    upper: float
    levels: int
    allocation: float
    spacing_mode: SpacingMode = SpacingMode.ARITHMETIC
    enabled: bool = True
    mode: GridMode = GridMode.NORMAL
    version: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    reason: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "symbol", validate_symbol(self.symbol))
        set_(self, "lower", _finite_positive("lower", self.lower))
        set_(self, "upper", _finite_positive("upper", self.upper))
        if self.upper <= self.lower:
            raise InvalidParameterError(f"upper: expected upper > lower ({self.lower!r}), got {self.upper!r}")
        if isinstance(self.levels, bool) or not isinstance(self.levels, int):
            raise InvalidParameterError(f"levels: expected an integer, got {type(self.levels).__name__}")
        if not MIN_LEVELS <= self.levels <= MAX_LEVELS:
            raise InvalidParameterError(f"levels: expected an integer in [{MIN_LEVELS}, {MAX_LEVELS}], got {self.levels}")
        set_(self, "allocation", _finite_positive("allocation", self.allocation))
        set_(self, "spacing_mode", _enum("spacing_mode", SpacingMode, self.spacing_mode))
        set_(self, "mode", _enum("mode", GridMode, self.mode))
        if not isinstance(self.enabled, bool):
            raise InvalidParameterError(f"enabled: expected true or false, got {self.enabled!r}")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0:
            raise InvalidParameterError(f"version: expected an integer >= 0, got {self.version!r}")
        if not isinstance(self.created_at, (datetime, str)):
            raise InvalidParameterError(f"created_at: expected an ISO-8601 time, got {type(self.created_at).__name__}")
        set_(self, "created_at", to_utc(self.created_at, name="created_at"))
        if not isinstance(self.reason, str):
            raise InvalidParameterError(f"reason: expected a string, got {type(self.reason).__name__}")

    # -- derived -------------------------------------------------------------------------------
    @property
    def level_prices(self) -> tuple[float, ...]:
        """The ``levels`` prices, ascending (see :func:`grid_levels`)."""
        return grid_levels(self.lower, self.upper, self.levels, self.spacing_mode)

    @property
    def width(self) -> float:
        return self.upper - self.lower

    @property
    def spacing(self) -> float:
        """Arithmetic step in price units; for geometric grids the mean step."""
        return self.width / (self.levels - 1)

    def contains(self, price: float) -> bool:
        """True when ``lower <= price <= upper``."""
        return self.lower <= price <= self.upper

    def with_changes(self, **changes: Any) -> GridConfig:
        """A validated copy with some fields replaced (unknown field names are refused)."""
        known = {f.name for f in fields(self)}
        for key in changes:
            if key not in known:
                raise InvalidParameterError(f"{key}: not a GridConfig field (expected one of {', '.join(sorted(known))})")
        return replace(self, **changes)

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "lower": self.lower,
            "upper": self.upper,
            "levels": self.levels,
            "spacing_mode": self.spacing_mode.value,
            "allocation": self.allocation,
            "enabled": self.enabled,
            "mode": self.mode.value,
            "version": self.version,
            "created_at": iso_utc(self.created_at),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GridConfig:
        """Inverse of :meth:`to_dict`; missing or unknown fields are refused by name."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"grid config: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidParameterError(f"{unknown[0]}: not a GridConfig field")
        required = ("symbol", "lower", "upper", "levels", "allocation")
        for key in required:
            if key not in data:
                raise InvalidParameterError(f"{key}: required GridConfig field is missing")
        return cls(**dict(data))
