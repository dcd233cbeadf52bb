"""Range-discovery primitives: quantile bands, swing pivots, level clusters, bound touches,
volume profile and value area. Prices in price units, volumes in base-asset units."""
from __future__ import annotations

import math

import numpy as np

from gridregime._libs import ranges as _ranges
from gridregime.errors import InvalidParameterError, InvalidParameterTypeError
from gridregime.kernels._validate import (
    as_float64,
    check_min_periods,
    check_same_length,
    check_window,
)

__all__ = [
    "cluster_levels",
    "fractal_pivots",
    "rolling_quantile_band",
    "touch_counts",
    "value_area",
    "volume_profile",
]

_MAX_EFFECTIVE_WINDOW = 2**30


def _check_number(value, name: str, *, low: float | None = None, high: float | None = None) -> float:
    """A finite real number, optionally within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterTypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidParameterError(f"{name}: expected a finite number, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidParameterError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def rolling_quantile_band(x, window: int, lower_q: float = 0.10, upper_q: float = 0.90, *,
                          min_periods: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper quantiles of each trailing window.

    Each output equals ``pandas.Series(x).rolling(window, min_periods).quantile(q)``
    (linear interpolation between order statistics, NaN skipped).

    Parameters
    ----------
    x : array_like, 1-D
        Values (typically closes); ``+/-inf`` are treated as NaN.
    window : int
        Window length in samples, >= 1.
    lower_q, upper_q : float
        Quantiles in [0, 1] with ``lower_q <= upper_q``.
    min_periods : int, optional
        Minimum number of non-NaN values in the window; defaults to ``window``.

    Returns
    -------
    (lo, hi) : tuple of numpy.ndarray
        float64, same length as ``x``, NaN where the window has too few values.

    Notes
    -----
    O(n log w): dense ranks in a Fenwick tree, order statistics by binary descent.
    """
    values = as_float64(x, "x")
    window = check_window(window, "window")
    min_periods = check_min_periods(min_periods, window)
    lower_q = _check_number(lower_q, "lower_q", low=0.0, high=1.0)
    upper_q = _check_number(upper_q, "upper_q", low=0.0, high=1.0)
    if lower_q > upper_q:
        raise InvalidParameterError(f"lower_q: must be <= upper_q={upper_q}, got {lower_q}")
    if min(window, len(values)) > _MAX_EFFECTIVE_WINDOW:
        raise InvalidParameterError(f"window: at most {_MAX_EFFECTIVE_WINDOW} for arrays that long, got {window}")
    return _ranges.rolling_quantile_band(values, window, min_periods, lower_q, upper_q)


def fractal_pivots(high, low, order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Fractal swing points (Bill Williams' fractals for ``order=2``).

    Parameters
    ----------
    high, low : array_like, 1-D, equal lengths
        Bar highs and lows.
    order : int, default 2
        Bars on each side that a pivot must strictly exceed, >= 1.

    Returns
    -------
    (pivot_high, pivot_low) : tuple of numpy.ndarray of bool
        ``pivot_high[i]`` when ``high[i]`` is strictly greater than every high in
        ``i-order .. i+order`` other than itself; ``pivot_low`` likewise strictly below
        the lows. The first and last ``order`` bars are never pivots (the last ones are
        not confirmed yet); a NaN anywhere in the neighbourhood rules the bar out.
        O(n * order).
    """
    h, l = as_float64(high, "high"), as_float64(low, "low")
    check_same_length(high=h, low=l)
    order = check_window(order, "order")
    return _ranges.fractal_pivots(h, l, order)


def cluster_levels(prices, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Group price levels that chain together within ``tolerance``.

    The finite prices are sorted; consecutive prices at most ``tolerance`` apart belong to
    the same cluster (so a cluster may be wider than ``tolerance``).

    Parameters
    ----------
    prices : array_like, 1-D
        Candidate levels (e.g. pivot prices); NaN and ``+/-inf`` are ignored.
    tolerance : float
        Largest gap inside a cluster, in price units, >= 0.

    Returns
    -------
    (centers, counts) : tuple of numpy.ndarray
        Ascending cluster means (float64) and member counts (int64); the counts sum to
        the number of finite prices. O(n log n).
    """
    values = as_float64(prices, "prices")
    tolerance = _check_number(tolerance, "tolerance", low=0.0)
    levels = np.sort(values[~np.isnan(values)])
    return _ranges.cluster_sorted_levels(levels, tolerance)


def touch_counts(high, low, lower: float, upper: float, tolerance: float) -> tuple[int, int]:
    """Count touch episodes of a range's lower and upper bound.

    A bar touches a bound when its ``[low, high]`` span reaches within ``tolerance`` of it
    (``low <= bound + tolerance`` and ``high >= bound - tolerance``); consecutive touching
    bars make one episode. Bars with NaN never touch and end an episode.

    Parameters
    ----------
    high, low : array_like, 1-D, equal lengths
        Bar highs and lows.
    lower, upper : float
        The range bounds, in price units.
    tolerance : float
        Touch distance, in price units, >= 0.

    Returns
    -------
    (n_lower, n_upper) : tuple of int
        Episode counts. O(n).
    """
    h, l = as_float64(high, "high"), as_float64(low, "low")
    check_same_length(high=h, low=l)
    lower = _check_number(lower, "lower")
    upper = _check_number(upper, "upper")
    tolerance = _check_number(tolerance, "tolerance", low=0.0)
    n_lower, n_upper = _ranges.touch_counts(h, l, lower, upper, tolerance)
    return int(n_lower), int(n_upper)


def volume_profile(price, volume, lo: float, hi: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Traded volume per price bin between ``lo`` and ``hi``.

    Parameters
    ----------
    price, volume : array_like, 1-D, equal lengths
        Price of each bar (e.g. its close or typical price) and its volume (>= 0).
    lo, hi : float
        Price span, ``lo < hi``; prices outside it are ignored.
    bins : int
        Number of equal-width bins, >= 1.

    Returns
    -------
    (edges, volume_per_bin) : tuple of numpy.ndarray
        ``bins + 1`` ascending edges (``numpy.linspace(lo, hi, bins + 1)``) and the volume
        of the prices in each bin, ``edges[b] <= price < edges[b + 1]`` with the last bin
        closed (the ``numpy.histogram`` convention). NaN prices or volumes are ignored.
        O(n + bins).
    """
    p, v = as_float64(price, "price"), as_float64(volume, "volume")
    check_same_length(price=p, volume=v)
    if (v < 0).any():
        raise InvalidParameterError(f"volume: must be >= 0, got a minimum of {np.nanmin(v)}")
    lo = _check_number(lo, "lo")
    hi = _check_number(hi, "hi")
    if not lo < hi:
        raise InvalidParameterError(f"hi: must be greater than lo={lo}, got {hi}")
    bins = check_window(bins, "bins")
    edges = np.linspace(lo, hi, bins + 1)
    if not (np.diff(edges) > 0).all():  # lo and hi a few ulps apart: bins would be empty
        raise InvalidParameterError(f"hi: too close to lo={lo} to make {bins} bins of positive width, got {hi}")
    return edges, _ranges.volume_profile(p, v, edges)


def value_area(edges, volume_per_bin, share: float = 0.70) -> tuple[float, float, float]:
    """Point of control and value area of a volume profile.

    Parameters
    ----------
    edges : array_like, 1-D
        ``bins + 1`` ascending bin edges, as returned by :func:`volume_profile`.
    volume_per_bin : array_like, 1-D
        ``bins`` finite volumes, >= 0.
    share : float, default 0.70
        Share of the total volume the value area must hold, in (0, 1].

    Returns
    -------
    (poc_price, va_low, va_high) : tuple of float
        Midpoint of the first bin with the most volume, and the edges of the value area:
        starting from that bin, the neighbour with more volume (the upper one on a tie)
        is added until at least ``share`` of the total is inside. All NaN when the total
        volume is zero. O(bins).
    """
    e, v = as_float64(edges, "edges"), as_float64(volume_per_bin, "volume_per_bin")
    if len(v) < 1 or len(e) != len(v) + 1:
        raise InvalidParameterError(
            f"edges: expected len(volume_per_bin) + 1 = {len(v) + 1} edges for at least one bin, got {len(e)}"
        )
    if not (e[1:] > e[:-1]).all():  # also false for NaN
        raise InvalidParameterError("edges: expected finite, strictly increasing values")
    if not (v >= 0).all():  # also false for NaN
        raise InvalidParameterError("volume_per_bin: expected finite values >= 0")
    share = _check_number(share, "share", low=0.0, high=1.0)
    if share == 0.0:
        raise InvalidParameterError("share: must be greater than 0, got 0.0")
    poc, va_low, va_high = _ranges.value_area(e, v, share)
    return float(poc), float(va_low), float(va_high)
