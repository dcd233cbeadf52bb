"""Slow, obviously-correct twin of gridregime.kernels.discover_many (range discovery, SPEC §5).

Written from the definitions (SPEC §5 and the docstring of gridregime.analysis.ranges), one
lookback window at a time over plain Python lists; nothing is shared with the kernel.

NaN convention: a window that holds a non-finite price or volume, or a negative volume, is not
analysed (status BAD_BARS); inside a window every value is finite.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

METHODS = ("percentile", "donchian", "pivots", "volume_profile")
SETTLED, BAD_ATR, NARROW_SPAN, BAD_BARS = 0, 1, 2, 3


@dataclass(frozen=True)
class Params:
    lookback: int = 72
    trim_atr: float = 0.25
    pivot_order: int = 2
    cluster_atr: float = 0.5
    bins: int = 24
    va_share: float = 0.70
    touch_atr: float = 0.25
    ideal_min: float = 4.0
    ideal_max: float = 20.0
    age_full: float = 24.0
    w_contain: float = 40.0
    w_touch: float = 30.0
    w_width: float = 20.0
    w_age: float = 10.0


def width_suitability(w: float, p: Params) -> float:
    """1 for an ideal width, w / ideal_min below it, 1 - (w - ideal_max) / ideal_max above it, never < 0."""
    if not (math.isfinite(w) and w > 0):
        return 0.0
    if w < p.ideal_min:
        return w / p.ideal_min
    if w <= p.ideal_max:
        return 1.0
    return max(0.0, 1.0 - (w - p.ideal_max) / p.ideal_max)


def quality(containment: float, touches_lower: int, touches_upper: int, width_atr: float, age: int, p: Params) -> float:
    both_touched = 0.5 * (touches_lower > 0) + 0.5 * (touches_upper > 0)
    return (p.w_contain * containment + p.w_touch * both_touched + p.w_width * width_suitability(width_atr, p)
            + p.w_age * min(1.0, age / p.age_full))


def _episodes(high, low, bound, tol) -> int:
    """Runs of consecutive bars whose [low, high] comes within tol of the bound."""
    touching = [lo <= bound + tol and hi >= bound - tol for hi, lo in zip(high, low)]
    return sum(1 for k, now in enumerate(touching) if now and (k == 0 or not touching[k - 1]))


def measure(lower, upper, high, low, close, atr, p: Params) -> dict:
    tol = p.touch_atr * atr
    mid = (lower + upper) / 2
    sides = [1 if c > mid else -1 for c in close if c != mid]
    age = 0
    for c in reversed(close):
        if not lower - tol <= c <= upper + tol:
            break
        age += 1
    containment = sum(1 for c in close if lower <= c <= upper) / len(close)
    t_lo, t_hi = _episodes(high, low, lower, tol), _episodes(high, low, upper, tol)
    width = (upper - lower) / atr
    return {
        "lower": lower, "upper": upper, "width_atr": width, "containment": containment,
        "touches_lower": t_lo, "touches_upper": t_hi,
        "mid_crosses": sum(1 for a, b in zip(sides, sides[1:]) if a != b), "age": age,
        "position": (close[-1] - lower) / (upper - lower),
        "quality": quality(containment, t_lo, t_hi, width, age, p),
    }


def _pivot_levels(high, low, order) -> list[float]:
    """Highs of fractal pivot highs and lows of pivot lows, each needing ``order`` bars of the
    window on both sides."""
    levels = []
    for j in range(order, len(high) - order):
        others = [k for k in range(j - order, j + order + 1) if k != j]
        if all(high[j] > high[k] for k in others):
            levels.append(high[j])
        if all(low[j] < low[k] for k in others):
            levels.append(low[j])
    return levels


def _clusters(levels, tol) -> list[list[float]]:
    """Ascending levels chained into clusters: each joins the previous level's cluster within tol."""
    groups: list[list[float]] = []
    for v in sorted(levels):
        if groups and v - groups[-1][-1] <= tol:
            groups[-1].append(v)
        else:
            groups.append([v])
    return groups


def pivot_bounds(high, low, price, atr, p: Params) -> tuple[float, float]:
    """The most-populated cluster at or below price (ties: the nearest to price) and the most-populated
    at or above it; NaN when either side has none."""
    groups = _clusters(_pivot_levels(high, low, p.pivot_order), p.cluster_atr * atr)
    centers = [(sum(g) / len(g), len(g)) for g in groups]
    below = [(n, c) for c, n in centers if c <= price]
    above = [(n, -c) for c, n in centers if c >= price]
    if not below or not above:
        return math.nan, math.nan
    return max(below)[1], -max(above)[1]


def value_area_bounds(high, low, close, volume, p: Params) -> tuple[float, float] | None:
    """The 70 % value area of the volume-by-close profile between the lowest low and the
    highest high; (nan, nan) when there is no span or no volume, None when the bins would be empty."""
    lo, hi = min(low), max(high)
    if not (hi > lo and any(v > 0 for v in volume)):
        return math.nan, math.nan
    edges = [float(e) for e in np.linspace(lo, hi, p.bins + 1)]
    if any(not edges[b + 1] > edges[b] for b in range(p.bins)):
        return None
    profile = [0.0] * p.bins
    for c, v in zip(close, volume):
        for b in range(p.bins):  # edges[b] <= c < edges[b + 1], the last bin closed
            if edges[b] <= c and (c < edges[b + 1] or (b == p.bins - 1 and c <= edges[b + 1])):
                profile[b] += v
                break
    total = sum(profile)
    if not total > 0:
        return math.nan, math.nan
    poc = profile.index(max(profile))
    a = b = poc
    inside = profile[poc]
    while inside < p.va_share * total and (a > 0 or b < p.bins - 1):
        below = profile[a - 1] if a > 0 else -1.0
        above = profile[b + 1] if b < p.bins - 1 else -1.0
        if above >= below:
            b += 1
            inside += above
        else:
            a -= 1
            inside += below
    return edges[a], edges[b + 1]


def discover_at(high, low, close, volume, i, atr, pct_lo, pct_hi, p: Params) -> tuple[int, list[dict]]:
    """(status, candidates) at bar ``i``: each usable method's bounds measured over the lookback."""
    lo = max(0, i - p.lookback + 1)
    h, l, c, v = (list(map(float, x[lo:i + 1])) for x in (high, low, close, volume))
    if not all(math.isfinite(x) for x in h + l + c + v) or any(x < 0 for x in v):
        return BAD_BARS, []
    if not (math.isfinite(atr) and atr >= 0):
        return BAD_ATR, []
    area = value_area_bounds(h, l, c, v, p)
    if area is None:
        return NARROW_SPAN, []
    trim = p.trim_atr * atr
    bounds = {
        "percentile": (pct_lo, pct_hi),
        "donchian": (min(l) + trim, max(h) - trim),
        "pivots": pivot_bounds(h, l, c[-1], atr, p),
        "volume_profile": area,
    }
    out = []
    for method in METHODS:
        lower, upper = bounds[method]
        if atr > 0 and math.isfinite(lower) and math.isfinite(upper) and upper > lower:
            out.append({"method": method, **measure(lower, upper, h, l, c, atr, p)})
    return SETTLED, out
