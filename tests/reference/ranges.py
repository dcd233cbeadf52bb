"""Slow, obviously-correct twins of gridregime.kernels.ranges (loops, no cleverness)."""
from __future__ import annotations

import math

import numpy as np


def _finite_or_nan(x) -> np.ndarray:
    values = np.array(x, dtype=np.float64)
    values[np.isinf(values)] = np.nan
    return values


def _quantile_of_sorted(ordered: list[float], q: float) -> float:
    """Linear interpolation between order statistics (pandas' arithmetic)."""
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    k = int(position)
    if position == k:
        return ordered[k]
    return ordered[k] + (ordered[k + 1] - ordered[k]) * (position - k)


def rolling_quantile_band(x, window, lower_q=0.10, upper_q=0.90, *, min_periods=None):
    values = _finite_or_nan(x)
    min_periods = window if min_periods is None else min_periods
    lo = np.full(len(values), np.nan)
    hi = np.full(len(values), np.nan)
    for t in range(len(values)):
        present = sorted(v for v in values[max(0, t - window + 1) : t + 1] if not math.isnan(v))
        if present and len(present) >= min_periods:
            lo[t] = _quantile_of_sorted(present, lower_q)
            hi[t] = _quantile_of_sorted(present, upper_q)
    return lo, hi


def fractal_pivots(high, low, order=2):
    high, low = _finite_or_nan(high), _finite_or_nan(low)
    n = len(high)
    pivot_high = np.zeros(n, dtype=bool)
    pivot_low = np.zeros(n, dtype=bool)
    for i in range(order, n - order):
        others = [j for j in range(i - order, i + order + 1) if j != i]
        pivot_high[i] = all(high[i] > high[j] for j in others)
        pivot_low[i] = all(low[i] < low[j] for j in others)
    return pivot_high, pivot_low


def cluster_levels(prices, tolerance):
    levels = sorted(v for v in _finite_or_nan(prices) if not math.isnan(v))
    clusters: list[list[float]] = []
    for level in levels:
        if clusters and level - clusters[-1][-1] <= tolerance:
            clusters[-1].append(level)
        else:
            clusters.append([level])
    centers = np.array([math.fsum(c) / len(c) for c in clusters], dtype=np.float64)
    counts = np.array([len(c) for c in clusters], dtype=np.int64)
    return centers, counts


def touch_counts(high, low, lower, upper, tolerance):
    high, low = _finite_or_nan(high), _finite_or_nan(low)

    def episodes(bound):
        touching = [bool(lo <= bound + tolerance and hi >= bound - tolerance) for hi, lo in zip(high, low)]
        return sum(1 for i, now in enumerate(touching) if now and (i == 0 or not touching[i - 1]))

    return episodes(lower), episodes(upper)


def volume_profile(price, volume, lo, hi, bins):
    price, volume = _finite_or_nan(price), _finite_or_nan(volume)
    edges = np.linspace(lo, hi, bins + 1)
    out = np.zeros(bins)
    for p, v in zip(price, volume):
        if math.isnan(p) or math.isnan(v) or p < edges[0] or p > edges[-1]:
            continue
        for b in range(bins):
            last = b == bins - 1
            if edges[b] <= p and (p < edges[b + 1] or (last and p <= edges[b + 1])):
                out[b] += v
                break
    return edges, out


def value_area(edges, volume_per_bin, share=0.70):
    volume = [float(v) for v in volume_per_bin]
    total = sum(volume)
    if not total > 0:
        return math.nan, math.nan, math.nan
    poc = volume.index(max(volume))
    inside = {poc}
    while sum(volume[b] for b in inside) < share * total and len(inside) < len(volume):
        below, above = min(inside) - 1, max(inside) + 1
        below_volume = volume[below] if below >= 0 else -1.0
        above_volume = volume[above] if above < len(volume) else -1.0
        inside.add(above if above_volume >= below_volume else below)
    return (edges[poc] + edges[poc + 1]) / 2, float(edges[min(inside)]), float(edges[max(inside) + 1])
