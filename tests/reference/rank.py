"""Slow, obviously-correct twins of gridregime.kernels.rank: count by brute force."""
from __future__ import annotations

import math

import numpy as np


def _finite_or_nan(x) -> np.ndarray:
    values = np.array(x, dtype=np.float64)
    values[np.isinf(values)] = np.nan
    return values


def _average_pct_rank(value: float, window_values: np.ndarray) -> float:
    """Mean of the 1-based ranks that ``value``'s ties occupy, over the window size."""
    less = int(np.count_nonzero(window_values < value))
    equal = int(np.count_nonzero(window_values == value))
    ranks = range(less + 1, less + equal + 1)
    return (sum(ranks) / equal) / len(window_values)


def rolling_percentile_rank(x, window: int, min_periods: int | None = None) -> np.ndarray:
    values = _finite_or_nan(x)
    min_periods = window if min_periods is None else min_periods
    out = np.full(len(values), np.nan)
    for t in range(len(values)):
        if math.isnan(values[t]):
            continue
        window_values = values[max(0, t - window + 1) : t + 1]
        window_values = window_values[~np.isnan(window_values)]
        if len(window_values) >= min_periods:
            out[t] = _average_pct_rank(values[t], window_values)
    return out


def percentile_rank_last(x, min_periods: int = 1) -> float:
    values = _finite_or_nan(x)
    if len(values) == 0 or math.isnan(values[-1]):
        return math.nan
    present = values[~np.isnan(values)]
    if len(present) < min_periods:
        return math.nan
    return _average_pct_rank(values[-1], present)
