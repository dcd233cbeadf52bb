"""Range discovery (SPEC §5) at many bars of one series: the four methods' bounds, each
range's measures and its quality, in one compiled pass (:mod:`gridregime._libs.discovery`).

The settings are checked once, when :func:`discovery_params` fills the kernel's parameter
struct; :func:`discover_many` checks its arrays and calls the kernel, which validates nothing.
Prices in price units, volumes in base-asset units, widths and tolerances in ATR.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from gridregime._libs import discovery as _discovery
from gridregime.errors import InvalidParameterError, InvalidParameterTypeError
from gridregime.kernels._validate import as_float64, check_same_length, check_window

__all__ = [
    "DISCOVERY_METHODS",
    "SETTLED",
    "BAD_ATR",
    "NARROW_SPAN",
    "BAD_BARS",
    "DiscoveredRanges",
    "discovery_params",
    "discover_many",
    "measure_range",
    "range_quality",
    "width_suitability",
]

#: Method order of the candidate columns.
DISCOVERY_METHODS = ("percentile", "donchian", "pivots", "volume_profile")
#: ``status`` codes of :func:`discover_many`, per requested bar.
SETTLED = 0
BAD_ATR = 1  # the bar's ATR is not finite or negative
NARROW_SPAN = 2  # the lookback's price span is too narrow for volume-profile bins of positive width
BAD_BARS = 3  # the lookback holds a non-finite price or volume, or a negative volume


class DiscoveredRanges(NamedTuple):
    """Output of :func:`discover_many`: ``status`` (m,) uint8, the rest (m, 4) in
    :data:`DISCOVERY_METHODS` order; ``usable`` is 0 where a method gave no usable bounds
    (lower < upper, both finite) and its other entries are then NaN / 0."""

    status: np.ndarray
    usable: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    width_atr: np.ndarray
    containment: np.ndarray
    touches_lower: np.ndarray
    touches_upper: np.ndarray
    mid_crosses: np.ndarray
    age: np.ndarray
    position: np.ndarray
    quality: np.ndarray


def _number(value, name: str, *, low: float = 0.0, high: float = math.inf, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterTypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and (value > low if open_low else value >= low) and value <= high):
        bound = f"> {low}" if open_low else f">= {low}"
        raise InvalidParameterError(f"{name}: expected a finite number {bound} and <= {high}, got {value}")
    return value


def discovery_params(*, lookback: int, trim_atr: float, pivot_order: int, cluster_atr: float, bins: int,
                     va_share: float, touch_atr: float, ideal_min: float, ideal_max: float, age_full: float,
                     w_contain: float, w_touch: float, w_width: float, w_age: float) -> _discovery.DiscoveryParams:
    """The kernel's parameter struct, checked once.

    Parameters
    ----------
    lookback : int
        Bars each range is discovered and measured over, ending at the analysed bar, >= 1.
    trim_atr : float
        Donchian bounds are the extremes moved inwards by this many ATR, >= 0.
    pivot_order : int
        Bars on each side a fractal pivot must strictly exceed, >= 1.
    cluster_atr : float
        Pivot levels chain into one cluster within this many ATR, >= 0.
    bins : int
        Volume-profile bins between the lowest low and the highest high, >= 1.
    va_share : float
        Share of the volume the value area holds, in (0, 1].
    touch_atr : float
        A bar touches a bound within this many ATR; also widens the bounds for the age, >= 0.
    ideal_min, ideal_max : float
        Ideal width in ATR (width suitability 1 between them), 0 < ideal_min <= ideal_max.
    age_full : float
        Age (hours) that earns the full age weight, > 0.
    w_contain, w_touch, w_width, w_age : float
        Quality weights, >= 0.
    """
    ideal_min = _number(ideal_min, "ideal_min", open_low=True)
    return _discovery.DiscoveryParams(
        check_window(lookback, "lookback"), _number(trim_atr, "trim_atr"), check_window(pivot_order, "pivot_order"),
        _number(cluster_atr, "cluster_atr"), check_window(bins, "bins"),
        _number(va_share, "va_share", high=1.0, open_low=True), _number(touch_atr, "touch_atr"), ideal_min,
        _number(ideal_max, "ideal_max", low=ideal_min), _number(age_full, "age_full", open_low=True),
        _number(w_contain, "w_contain"), _number(w_touch, "w_touch"), _number(w_width, "w_width"),
        _number(w_age, "w_age"))


def _column(values, name: str) -> np.ndarray:
    """A 1-D C-contiguous float64 array, no copy when already one. Unlike ``as_float64`` it
    keeps ``inf``: the kernel treats any non-finite value alike (a flagged lookback, an unusable
    ATR, an unusable band)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidParameterError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind not in "fiub":
        raise InvalidParameterTypeError(f"{name}: expected numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _check_params(params) -> None:
    if not isinstance(params, _discovery.DiscoveryParams):
        raise InvalidParameterTypeError(f"params: expected discovery_params(...), got {type(params).__name__}")


def discover_many(high, low, close, volume, idx, atr, pct_lo, pct_hi, params) -> DiscoveredRanges:
    """Range candidates of every method at the bars ``idx`` of one series.

    Parameters
    ----------
    high, low, close, volume : array_like, 1-D, equal lengths
        The whole series.
    idx : array_like of int, 1-D
        Bars to analyse, each in ``[0, len(close))``; the lookback of bar ``i`` is
        ``max(0, i - lookback + 1) .. i``.
    atr, pct_lo, pct_hi : array_like, 1-D, one value per ``idx``
        The ATR at each bar and its percentile band (the ``percentile`` method's bounds).
    params : from :func:`discovery_params`

    Returns
    -------
    DiscoveredRanges
        ``status`` is :data:`SETTLED`, :data:`BAD_ATR`, :data:`NARROW_SPAN` or
        :data:`BAD_BARS` per bar (no candidate is usable unless settled).

    Notes
    -----
    O(s·pivot_order + Σ lookback·(log lookback + bins)), s the bars the lookbacks cover.
    """
    _check_params(params)
    h, l, c, v = (_column(x, name) for x, name in ((high, "high"), (low, "low"), (close, "close"), (volume, "volume")))
    n = check_same_length(high=h, low=l, close=c, volume=v)
    at = np.asarray(idx)
    if at.ndim != 1 or (at.size and at.dtype.kind not in "iu"):
        raise InvalidParameterError(f"idx: expected a 1-D array of bar indices, got {at.dtype} shape {at.shape}")
    at = np.ascontiguousarray(at, dtype=np.intp)
    if at.size and (at.min() < 0 or at.max() >= n):
        raise InvalidParameterError(f"idx: expected bar indices in [0, {n}), got {at.min()} .. {at.max()}")
    a, lo_b, hi_b = (_column(x, name) for x, name in ((atr, "atr"), (pct_lo, "pct_lo"), (pct_hi, "pct_hi")))
    check_same_length(idx=at, atr=a, pct_lo=lo_b, pct_hi=hi_b)
    return DiscoveredRanges(*_discovery.discover_many(h, l, c, v, at, a, lo_b, hi_b, params))


def range_quality(containment: float, touches_lower: int, touches_upper: int, width_atr: float, age: int,
                  params) -> float:
    """Quality 0–100 of a range, the formula of :func:`discover_many`::

        w_contain·containment + w_touch·(½·[touches_lower > 0] + ½·[touches_upper > 0])
        + w_width·width_suitability(width_atr) + w_age·min(age / age_full, 1)
    """
    _check_params(params)
    return _discovery.range_quality(params, float(containment), int(touches_lower), int(touches_upper),
                                    float(width_atr), int(age))


def width_suitability(width_atr: float, params) -> float:
    """1 for ``ideal_min <= w <= ideal_max``, ``w / ideal_min`` below, ``1 - (w - ideal_max) /
    ideal_max`` above (0 from twice ``ideal_max``); 0 for a width that is not finite and > 0."""
    _check_params(params)
    return _discovery.width_suitability(params, float(width_atr))


def measure_range(high, low, close, lower: float, upper: float, atr: float, params) -> tuple | None:
    """The measures of ``[lower, upper]`` over all the given bars, as :func:`discover_many`
    takes them: ``(width_atr, containment, touches_lower, touches_upper, mid_crosses, age,
    position, quality)``; None when the bounds are unusable (not finite, ``lower >= upper``) or
    ``atr`` is not finite and > 0."""
    _check_params(params)
    h, l, c = as_float64(high, "high"), as_float64(low, "low"), as_float64(close, "close")
    if check_same_length(high=h, low=l, close=c) == 0:
        raise InvalidParameterError("close: expected at least one bar, got none")
    lower, upper, atr = float(lower), float(upper), float(atr)
    if not (math.isfinite(lower) and math.isfinite(upper) and upper > lower and math.isfinite(atr) and atr > 0):
        return None
    return _discovery.measure_range(h, l, c, lower, upper, atr, params)
