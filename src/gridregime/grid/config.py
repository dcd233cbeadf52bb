"""Grid configuration (SPEC §6): a frozen, validated ``GridConfig``.

Its price levels come from :func:`gridregime.levels.grid_levels` (re-exported here).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import Enum
from typing import Any

from gridregime.errors import InvalidParameterError
from gridregime.levels import (  # noqa: F401 (re-exported: grid levels live in gridregime.levels)
    MAX_LEVELS, MIN_LEVELS, SpacingMode, _enum, _finite_positive, grid_levels,
)
from gridregime.symbols import validate_symbol
from gridregime.timeutil import UTC, iso_z, to_utc


class GridMode(str, Enum):
    """``PROBATION`` is the reduced grid run right after a restart; ``NORMAL`` otherwise."""

    NORMAL = "NORMAL"
    PROBATION = "PROBATION"


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
            "created_at": iso_z(self.created_at, microseconds=True),
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
