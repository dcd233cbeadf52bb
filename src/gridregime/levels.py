"""Grid price levels: the one formula for arithmetic and geometric grids (a leaf module, so the
grid layer and the grid simulator's kernel wrapper share it without importing each other).

A grid has ``levels`` price levels *including both bounds*, so ``levels - 1`` intervals. Arithmetic
grids have a constant price step, geometric grids a constant price ratio.
"""
from __future__ import annotations

import math
from enum import Enum
from typing import Any

from gridregime.errors import InvalidParameterError

__all__ = ["MIN_LEVELS", "MAX_LEVELS", "SpacingMode", "grid_levels"]

MIN_LEVELS = 2
MAX_LEVELS = 1000


class SpacingMode(str, Enum):
    """How the levels are spread between the bounds."""

    ARITHMETIC = "ARITHMETIC"
    GEOMETRIC = "GEOMETRIC"


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
