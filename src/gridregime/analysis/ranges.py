"""Range discovery over the last ``range_lookback`` hourly bars (SPEC §5).

Four methods each propose ``[lower, upper]``:

- ``percentile``: 10th–90th percentile of closes (linear interpolation);
- ``donchian``: highest high and lowest low, each trimmed inwards by 0.25 ATR;
- ``pivots``: fractal swing highs and lows (``pivot_order`` bars each side) clustered within
  0.5 ATR; the lower bound is the most-touched cluster at or below price (ties: the nearest),
  the upper bound the most-touched cluster at or above price;
- ``volume_profile``: the 70 % value area around the point of control of a volume-by-close
  profile (``volume_profile_bins`` bins between the lowest low and the highest high).

Each candidate is measured over the same bars: width in ATR, containment (share of closes
inside), touch episodes of each bound (within ``touch_tolerance_atr``), crossings of the mid-line
by closes, age (consecutive closes ending at H inside the bounds widened by the touch tolerance),
position of price (0 = lower, 1 = upper; outside the range it leaves [0, 1]) and quality:

    quality = 40·containment + 15·[lower touched] + 15·[upper touched]
              + 20·width_suitability + 10·min(age / age_full_hours, 1)

with width suitability 1 for 4–20 ATR, ``w/4`` below 4 ATR, ``1 − (w − 20)/20`` above 20 ATR
(0 from 40 ATR). The chosen range is the best quality (ties: the first method in the order above).
"""
from __future__ import annotations

import math

import numpy as np

from gridregime import kernels as K
from gridregime._libs import discovery as _discovery
from gridregime.analysis.result import RangeCandidate
from gridregime.config import RegimeConfig

__all__ = ["METHODS", "discover_ranges", "discover_ranges_at", "measure_range", "measure_ranges", "width_suitability",
           "range_quality", "percentile_bands", "choose_range"]

METHODS = ("percentile", "donchian", "pivots", "volume_profile")


def width_suitability(width_atr: float, config: RegimeConfig = RegimeConfig()) -> float:
    """1 inside the ideal width, linear ramps outside it, 0 from twice the ideal maximum."""
    lo, hi = config.width_ideal_min_atr, config.width_ideal_max_atr
    if not math.isfinite(width_atr) or width_atr <= 0:
        return 0.0
    if width_atr < lo:
        return width_atr / lo
    if width_atr <= hi:
        return 1.0
    return max(0.0, 1.0 - (width_atr - hi) / hi)


def range_quality(containment: float, touches_lower: int, touches_upper: int, width_atr: float, age: int,
                  config: RegimeConfig = RegimeConfig()) -> float:
    """Quality score 0–100 of a range (see the module docstring)."""
    c = config
    touch = 0.5 * (touches_lower > 0) + 0.5 * (touches_upper > 0)
    return (c.quality_weight_containment * containment + c.quality_weight_touches * touch
            + c.quality_weight_width * width_suitability(width_atr, c)
            + c.quality_weight_age * min(1.0, age / c.age_full_hours))


def measure_range(method: str, lower: float, upper: float, high: np.ndarray, low: np.ndarray,
                  close: np.ndarray, atr: float, config: RegimeConfig = RegimeConfig()) -> RangeCandidate | None:
    """Measure ``[lower, upper]`` over the lookback bars; None when the bounds are unusable."""
    return measure_ranges([(method, lower, upper)], high, low, close, atr, config)[0]


def measure_ranges(bounds, high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: float,
                   config: RegimeConfig = RegimeConfig()) -> list[RangeCandidate | None]:
    """:func:`measure_range` for several ``(method, lower, upper)`` at once (one pass of each
    array operation over all candidates); None for unusable bounds."""
    out: list[RangeCandidate | None] = [None] * len(bounds)
    usable = [k for k, (_, lo, hi) in enumerate(bounds)
              if math.isfinite(lo) and math.isfinite(hi) and hi > lo and math.isfinite(atr) and atr > 0]
    if not usable:
        return out
    lo = np.array([bounds[k][1] for k in usable], dtype=np.float64)
    hi = np.array([bounds[k][2] for k in usable], dtype=np.float64)
    n = close.size
    tol = config.touch_tolerance_atr * atr
    c = close[None, :]
    containment = np.count_nonzero((c >= lo[:, None]) & (c <= hi[:, None]), axis=1) / n
    side = np.sign(c - 0.5 * (lo + hi)[:, None])
    loose = (c >= (lo - tol)[:, None]) & (c <= (hi + tol)[:, None])
    # age: closes since the last one outside the widened bounds (all n when none is outside)
    outside_rev = ~loose[:, ::-1]
    age = np.where(outside_rev.any(axis=1), np.argmax(outside_rev, axis=1), n)
    position = (float(close[-1]) - lo) / (hi - lo)
    for row, k in enumerate(usable):
        method, lower, upper = bounds[k]
        srow = side[row]
        if not srow.all():  # a close exactly on the mid-line does not cross it
            srow = srow[srow != 0]
        mid_crosses = int(np.count_nonzero(srow[1:] != srow[:-1]))
        n_lo, n_hi = K.touch_counts(high, low, float(lower), float(upper), tol)
        width_atr = (float(upper) - float(lower)) / atr
        cont = float(containment[row])
        quality = range_quality(cont, int(n_lo), int(n_hi), width_atr, int(age[row]), config)
        out[k] = RangeCandidate(method, float(lower), float(upper), float(width_atr), cont, int(n_lo), int(n_hi),
                                mid_crosses, int(age[row]), float(position[row]), float(quality))
    return out


def percentile_bands(close: np.ndarray, config: RegimeConfig = RegimeConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Rolling 10th/90th percentile of closes over ``range_lookback`` bars (whole series)."""
    return K.rolling_quantile_band(close, config.range_lookback, config.percentile_low, config.percentile_high)


def _pivot_bounds(high, low, price, atr, config):
    ph, pl = K.fractal_pivots(high, low, config.pivot_order)
    levels = np.concatenate([high[ph], low[pl]])
    if levels.size == 0:
        return math.nan, math.nan
    centers, counts = K.cluster_levels(levels, config.pivot_cluster_atr * atr)
    below, above = centers <= price, centers >= price
    if not below.any() or not above.any():
        return math.nan, math.nan
    # Most-touched cluster on each side; ties go to the one nearest to price.
    b_idx = np.flatnonzero(below)
    lower_i = b_idx[np.lexsort((-centers[b_idx], -counts[b_idx]))[0]]
    a_idx = np.flatnonzero(above)
    upper_i = a_idx[np.lexsort((centers[a_idx], -counts[a_idx]))[0]]
    return float(centers[lower_i]), float(centers[upper_i])


def _value_area_bounds(high, low, close, volume, config):
    lo, hi = float(np.min(low)), float(np.max(high))
    if not hi > lo or not np.any(volume > 0):
        return math.nan, math.nan
    edges, vol = K.volume_profile(close, volume, lo, hi, config.volume_profile_bins)
    _, va_low, va_high = K.value_area(edges, vol, config.value_area_share)
    return float(va_low), float(va_high)


def discover_ranges(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, atr: float,
                    config: RegimeConfig = RegimeConfig(), percentile: tuple[float, float] | None = None,
                    ) -> tuple[RangeCandidate, ...]:
    """Candidates of every method over the given lookback bars (the last bar is hour H).

    ``percentile`` may pass the (lower, upper) band already computed by :func:`percentile_bands`
    over the whole series (the many-hour path); otherwise it is computed on these bars.
    """
    price = float(close[-1])
    if percentile is None:
        lo_b, hi_b = percentile_bands(close, config)
        percentile = (float(lo_b[-1]), float(hi_b[-1]))
    trim = config.donchian_trim_atr * atr
    bounds = {
        "percentile": percentile,
        "donchian": (float(np.min(low)) + trim, float(np.max(high)) - trim),
        "pivots": _pivot_bounds(high, low, price, atr, config),
        "volume_profile": _value_area_bounds(high, low, close, volume, config),
    }
    measured = measure_ranges([(m, *bounds[m]) for m in METHODS], high, low, close, atr, config)
    return tuple(c for c in measured if c is not None)


def discover_ranges_at(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, idx: np.ndarray,
                       atr: np.ndarray, pct_lo: np.ndarray, pct_hi: np.ndarray, config: RegimeConfig = RegimeConfig(),
                       ) -> list[tuple[RangeCandidate, ...] | None]:
    """:func:`discover_ranges` at many bars of one series in one compiled pass, same results.

    ``high`` .. ``volume`` are the whole series: contiguous float64, all finite, volumes >= 0
    (the caller checks once per series). For each bar ``idx[h]`` the lookback ends there;
    ``atr``, ``pct_lo`` and ``pct_hi`` hold its ATR and percentile band. An entry is None where
    :func:`discover_ranges` has to decide (it raises there on degenerate bounds).
    """
    c = config
    idx = np.ascontiguousarray(idx, dtype=np.intp)
    (status, usable, lower, upper, width, contain, tlo, thi, cross, age, pos, qual) = _discovery.discover_many(
        high, low, close, volume, idx, np.ascontiguousarray(atr, dtype=np.float64),
        np.ascontiguousarray(pct_lo, dtype=np.float64), np.ascontiguousarray(pct_hi, dtype=np.float64),
        c.range_lookback, float(c.donchian_trim_atr), c.pivot_order, float(c.pivot_cluster_atr),
        c.volume_profile_bins, float(c.value_area_share), float(c.touch_tolerance_atr),
        float(c.width_ideal_min_atr), float(c.width_ideal_max_atr), float(c.age_full_hours),
        float(c.quality_weight_containment), float(c.quality_weight_touches), float(c.quality_weight_width),
        float(c.quality_weight_age))
    # .tolist() once: Python floats and ints for the candidates without a per-field conversion
    lower, upper, width, contain, tlo, thi, cross, age, pos, qual = (
        a.tolist() for a in (lower, upper, width, contain, tlo, thi, cross, age, pos, qual))
    out: list[tuple[RangeCandidate, ...] | None] = []
    for h, (st, use) in enumerate(zip(status.tolist(), usable.tolist())):
        if st:
            out.append(None)
            continue
        lo, up, wd, ct, tl, th, cr, ag, ps, ql = (lower[h], upper[h], width[h], contain[h], tlo[h], thi[h],
                                                  cross[h], age[h], pos[h], qual[h])
        out.append(tuple(RangeCandidate(METHODS[k], lo[k], up[k], wd[k], ct[k], tl[k], th[k], cr[k], ag[k], ps[k],
                                        ql[k]) for k in range(len(METHODS)) if use[k]))
    return out


def choose_range(candidates: tuple[RangeCandidate, ...]) -> RangeCandidate | None:
    """Best quality; ties keep the earlier method."""
    best = None
    for cand in candidates:
        if best is None or cand.quality > best.quality:
            best = cand
    return best
