"""Percentile ranks of a value within its trailing window (pandas ``rank(pct=True)`` semantics)."""
from __future__ import annotations

import numpy as np

from gridregime._libs import rank as _rank
from gridregime.errors import InvalidParameterError
from gridregime.kernels._validate import as_float64, check_min_periods, check_window

__all__ = ["percentile_rank_last", "rolling_percentile_rank"]

# Window multiplicities are counted in int32 inside the kernel.
_MAX_EFFECTIVE_WINDOW = 2**30


def rolling_percentile_rank(x, window: int, min_periods: int | None = None) -> np.ndarray:
    """Percentile rank of each value within its trailing window, in (0, 1].

    Equals ``pandas.Series(x).rolling(window, min_periods).rank(pct=True)`` exactly:
    ``out[t]`` is the average rank (ties share the mean of their ranks) of ``x[t]`` among
    the non-NaN values of ``x[t-window+1 .. t]``, divided by how many there are.

    Parameters
    ----------
    x : array_like, 1-D
        Values; ``+/-inf`` are treated as NaN (as pandas does).
    window : int
        Window length in samples, >= 1. A window longer than ``x`` is allowed.
    min_periods : int, optional
        Minimum number of non-NaN values in the window for a result; defaults to
        ``window``; between 1 and ``window``.

    Returns
    -------
    numpy.ndarray
        float64, same length as ``x``. NaN where ``x[t]`` is NaN or fewer than
        ``min_periods`` non-NaN values are in the window.

    Notes
    -----
    O(n log w) time and O(min(w, n)) extra memory: the values that can share a window
    with each block of ``w`` outputs are compressed to dense integer ranks and the window
    slides over a Fenwick tree of counts.
    """
    values = as_float64(x, "x")
    window = check_window(window, "window")
    min_periods = check_min_periods(min_periods, window)
    if min(window, len(values)) > _MAX_EFFECTIVE_WINDOW:
        raise InvalidParameterError(f"window: at most {_MAX_EFFECTIVE_WINDOW} for arrays that long, got {window}")
    return _rank.rolling_percentile_rank(values, window, min_periods)


def percentile_rank_last(x, min_periods: int = 1) -> float:
    """Percentile rank of the last value of ``x`` among all values of ``x``, in (0, 1].

    The same quantity as ``rolling_percentile_rank(x, len(x), min_periods)[-1]``, in one
    O(n) pass.

    Parameters
    ----------
    x : array_like, 1-D
        Values; ``+/-inf`` are treated as NaN.
    min_periods : int, default 1
        Minimum number of non-NaN values for a result, >= 1.

    Returns
    -------
    float
        NaN when ``x`` is empty, its last value is NaN, or fewer than ``min_periods``
        non-NaN values are present.
    """
    values = as_float64(x, "x")
    min_periods = check_window(min_periods, "min_periods")
    return float(_rank.percentile_rank_last(values, min_periods))
