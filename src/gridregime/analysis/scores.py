"""The §5 scores from percentile ranks (0–100). Work on scalars and on NumPy arrays alike.

A NaN rank makes the score NaN: the engine never scores an hour whose ranks are missing
(it returns ``status="insufficient_data"`` instead).
"""
from __future__ import annotations

import math

import numpy as np

from gridregime.config import RegimeConfig

__all__ = ["trend_score", "mean_rev_score", "vol_change_score", "grid_spacing", "grid_capacity",
           "trend_streak", "trend_streaks"]


def trend_score(adx, slope_r2, er, di_spread, config: RegimeConfig = RegimeConfig()):
    """TrendScore = 0.35·pct(adx) + 0.25·pct(|slope|·r2) + 0.25·pct(er) + 0.15·pct(|+DI − −DI|)."""
    c = config
    return (c.trend_weight_adx * adx + c.trend_weight_slope_r2 * slope_r2
            + c.trend_weight_er * er + c.trend_weight_di * di_spread)


def mean_rev_score(vr, ac1, mid_cross, er, config: RegimeConfig = RegimeConfig()):
    """MeanRevScore = 0.30·(100 − pct(vr)) + 0.20·(100 − pct(ac1)) + 0.30·pct(mid_cross) + 0.20·(100 − pct(er))."""
    c = config
    return (c.meanrev_weight_vr * (100.0 - vr) + c.meanrev_weight_ac1 * (100.0 - ac1)
            + c.meanrev_weight_mid_cross * mid_cross + c.meanrev_weight_er * (100.0 - er))


def vol_change_score(vol_ratio, atr_change):
    """VolChangeScore = max(pct(vol_ratio), pct(atr_change)); NaN if either rank is NaN."""
    scalar = type(vol_ratio) is float and type(atr_change) is float  # the per-hour case, without np.ndim
    if not scalar and (np.ndim(vol_ratio) or np.ndim(atr_change)):
        a, b = np.asarray(vol_ratio, float), np.asarray(atr_change, float)
        out = np.maximum(a, b)  # np.maximum propagates NaN
        return out
    if math.isnan(vol_ratio) or math.isnan(atr_change):
        return math.nan
    return max(vol_ratio, atr_change)


def grid_spacing(price: float, atr: float, config: RegimeConfig = RegimeConfig()) -> float:
    """Smallest sensible grid step, price units: max(0.5·ATR, price·(2·fee + min_edge))."""
    return max(config.spacing_atr * atr, price * (2.0 * config.fee + config.min_edge))


def grid_capacity(width: float, price: float, atr: float, config: RegimeConfig = RegimeConfig()) -> tuple[int, float]:
    """GridCapacity = floor(width / spacing) and the spacing used (0 levels when not computable)."""
    spacing = grid_spacing(price, atr, config)
    if not (math.isfinite(width) and math.isfinite(spacing)) or spacing <= 0 or width <= 0:
        return 0, spacing
    # A tiny epsilon keeps exact multiples (width = k·spacing) at k despite rounding.
    return int(math.floor(width / spacing + 1e-9)), spacing


def trend_streaks(score: np.ndarray, direction: np.ndarray, threshold: float) -> np.ndarray:
    """For each bar, the number of consecutive bars ending there with score >= threshold and
    the same non-zero direction. NaN scores break a streak. O(n)."""
    out = []
    run = 0
    prev_dir = 0
    for s, d in zip(np.asarray(score, dtype=np.float64).tolist(), np.asarray(direction).tolist()):
        d = int(d)
        if s >= threshold and d != 0:  # NaN >= threshold is False
            run = run + 1 if (run and d == prev_dir) else 1
        else:
            run = 0
        prev_dir = d
        out.append(run)
    return np.array(out, dtype=np.int64)


def trend_streak(scores, directions, threshold: float) -> int:
    """Streak ending at the last bar of ``scores`` (see :func:`trend_streaks`)."""
    run = 0
    scores = list(scores)
    directions = list(directions)
    last_dir = int(directions[-1]) if directions else 0
    for s, d in zip(reversed(scores), reversed(directions)):
        if s >= threshold and int(d) == last_dir and last_dir != 0:
            run += 1
        else:
            break
    return run
