"""Day-block bootstrap intervals.

Hours of one UTC day move together (a range holds or breaks for the whole day, across symbols as
well), so the resampling unit is a day: a block holds every symbol-range's hours of one UTC day.
Each statistic is a ratio of sums over the resampled blocks, so a day that appears twice counts
twice. Seeded and reproducible: the same data and seed give the same interval.
"""
from __future__ import annotations

import numpy as np

DEFAULT_RESAMPLES = 2000
LEVEL = 0.90


def block_sums(day: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``columns`` per day. Returns the sorted distinct days and a (days × columns) array."""
    days, inverse = np.unique(day, return_inverse=True)
    out = np.zeros((days.size, len(columns)))
    for j, col in enumerate(columns):
        np.add.at(out[:, j], inverse, col)
    return days, out


def interval(sums: np.ndarray, stat, *, seed: int = 0, resamples: int = DEFAULT_RESAMPLES,
             level: float = LEVEL) -> dict[str, float | int | None]:
    """Point estimate and a percentile interval of ``stat(column_totals)`` over day blocks.

    ``sums`` is (days × columns); ``stat`` maps the column totals of a resample (a 1-D array) to a
    number (NaN when undefined, e.g. a zero denominator: such resamples are dropped).
    """
    n = sums.shape[0]
    if n == 0:
        return {"estimate": None, "low": None, "high": None, "days": 0, "resamples": 0}
    est = float(stat(sums.sum(axis=0)))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.repeat(np.arange(resamples), n), idx.ravel()), 1.0)
    totals = counts @ sums  # (resamples × columns)
    vals = np.array([stat(t) for t in totals], dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return {"estimate": est if np.isfinite(est) else None, "low": None, "high": None, "days": n, "resamples": 0}
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(vals, [a, 1.0 - a])
    return {"estimate": est if np.isfinite(est) else None, "low": float(lo), "high": float(hi), "days": n,
            "resamples": int(vals.size)}


def ratio_difference(sums: np.ndarray) -> float:
    """(a / b) - (c / d) for column totals (a, b, c, d); NaN on a zero denominator."""
    a, b, c, d = sums[:4]
    if b <= 0 or d <= 0:
        return float("nan")
    return a / b - c / d


def mean_difference(sums: np.ndarray) -> float:
    """(a - c) / n for column totals (a, n, c): a mean difference per unit of the second column."""
    a, n, c = sums[:3]
    return float("nan") if n <= 0 else (a - c) / n
