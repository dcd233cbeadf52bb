"""Configured grid versus discovered range (SPEC §5 ``compare_discovered_vs_configured``).

Takes any object with ``lower``, ``upper`` and ``levels`` attributes (a grid configuration), so
the analysis layer never depends on the grid package.

Definitions:

- overlap ratio = |grid ∩ range| / |grid ∪ range| (1 for identical intervals, 0 for disjoint);
- bound deviations: ``grid.lower − range.lower`` (and upper) in % of the range bound and in ATR;
- grid spacing = (upper − lower) / (levels − 1) (``levels`` counts order prices, both bounds
  included); recommended spacing = the §5 spacing; ``spacing_ratio`` = grid / recommended;
- status: ``OUTSIDE`` when the intervals are disjoint, or when price has left the grid while it
  trades inside the discovered range; else ``ALIGNED`` when overlap >= 0.8 and both bounds are
  within 1 ATR; ``DRIFTED`` when overlap >= 0.5; ``MISALIGNED`` otherwise;
- suggested adjustment: ``none`` when aligned, else move the grid to the discovered range with
  ``floor(width / recommended spacing) + 1`` levels, capped at the grid's own level count and
  at least ``min_grid_levels``.
"""
from __future__ import annotations

import math
from typing import Any

from gridregime.analysis.result import RangeCandidate, RangeComparison
from gridregime.config import RegimeConfig
from gridregime.errors import InvalidParameterError

__all__ = ["compare_discovered_vs_configured", "ALIGNED_OVERLAP", "DRIFTED_OVERLAP", "ALIGNED_BOUND_ATR"]

ALIGNED_OVERLAP = 0.8
DRIFTED_OVERLAP = 0.5
ALIGNED_BOUND_ATR = 1.0


def _grid_bounds(grid: Any) -> tuple[float, float, int]:
    try:
        lower, upper, levels = float(grid.lower), float(grid.upper), int(grid.levels)
    except AttributeError as exc:
        raise InvalidParameterError(f"grid: expected an object with lower, upper and levels ({exc})") from None
    if not (math.isfinite(lower) and math.isfinite(upper)) or not 0 < lower < upper:
        raise InvalidParameterError(f"grid.lower/grid.upper: expected 0 < lower < upper, got {lower}, {upper}")
    if levels < 2:
        raise InvalidParameterError(f"grid.levels: expected at least 2, got {levels}")
    return lower, upper, levels


def compare_discovered_vs_configured(grid: Any, discovered: RangeCandidate, price: float, atr: float,
                                     config: RegimeConfig = RegimeConfig()) -> RangeComparison:
    """Compare a configured grid with the discovered range at the current price and ATR."""
    g_lo, g_hi, levels = _grid_bounds(grid)
    r_lo, r_hi = float(discovered.lower), float(discovered.upper)
    if not r_lo < r_hi:
        raise InvalidParameterError(f"discovered range: expected lower < upper, got {r_lo}, {r_hi}")
    inter = max(0.0, min(g_hi, r_hi) - max(g_lo, r_lo))
    union = max(g_hi, r_hi) - min(g_lo, r_lo)
    overlap = inter / union if union > 0 else 1.0
    atr_ok = math.isfinite(atr) and atr > 0
    lo_atr = (g_lo - r_lo) / atr if atr_ok else math.nan
    hi_atr = (g_hi - r_hi) / atr if atr_ok else math.nan
    grid_spacing = (g_hi - g_lo) / (levels - 1)
    recommended = max(config.spacing_atr * atr if atr_ok else 0.0, price * (2 * config.fee + config.min_edge))
    inside_grid = g_lo <= price <= g_hi
    inside_range = r_lo <= price <= r_hi

    if inter <= 0.0 or (not inside_grid and inside_range):
        status = "OUTSIDE"
    elif overlap >= ALIGNED_OVERLAP and atr_ok and max(abs(lo_atr), abs(hi_atr)) <= ALIGNED_BOUND_ATR:
        status = "ALIGNED"
    elif overlap >= DRIFTED_OVERLAP:
        status = "DRIFTED"
    else:
        status = "MISALIGNED"

    if status == "ALIGNED":
        suggestion: dict[str, Any] = {"action": "none"}
    else:
        fit = int(math.floor((r_hi - r_lo) / recommended + 1e-9)) + 1 if recommended > 0 else levels
        new_levels = max(config.min_grid_levels, min(levels, fit))
        suggestion = {"action": "reposition" if status in ("OUTSIDE", "MISALIGNED") else "adjust",
                      "lower": r_lo, "upper": r_hi, "levels": new_levels}
    return RangeComparison(
        status=status, overlap_ratio=overlap,
        lower_deviation_pct=(g_lo - r_lo) / r_lo * 100.0, upper_deviation_pct=(g_hi - r_hi) / r_hi * 100.0,
        lower_deviation_atr=lo_atr, upper_deviation_atr=hi_atr,
        grid_spacing=grid_spacing, recommended_spacing=recommended,
        spacing_ratio=grid_spacing / recommended if recommended > 0 else math.nan,
        price_inside_grid=inside_grid, price_inside_range=inside_range, suggested_adjustment=suggestion,
    )
