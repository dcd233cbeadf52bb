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

The formulas live once, in the compiled kernel (:func:`gridregime.kernels.discover_many`);
this module fills its parameters from the configuration and turns its arrays into
:class:`RangeCandidate` objects.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from gridregime import kernels as K
from gridregime.analysis.result import RangeCandidate
from gridregime.config import RegimeConfig
from gridregime.errors import InvalidParameterError

__all__ = ["METHODS", "discover_ranges", "discover_ranges_at", "measure_range", "width_suitability",
           "range_quality", "percentile_bands", "choose_range", "discovery_params"]

METHODS = K.DISCOVERY_METHODS

#: why the kernel could not settle an hour, for the error the hour then raises
_UNSETTLED = {
    K.BAD_ATR: "atr: expected a finite ATR >= 0 at the analysed bar",
    K.NARROW_SPAN: "volume_profile_bins: the lookback's price span is too narrow for bins of positive width",
    K.BAD_BARS: "bars: expected finite prices and volumes >= 0 in the range lookback",
}


@lru_cache(maxsize=32)
def discovery_params(config: RegimeConfig = RegimeConfig()):
    """The kernel's parameter struct for ``config``, filled (and checked) once per configuration."""
    c = config
    return K.discovery_params(
        lookback=c.range_lookback, trim_atr=c.donchian_trim_atr, pivot_order=c.pivot_order,
        cluster_atr=c.pivot_cluster_atr, bins=c.volume_profile_bins, va_share=c.value_area_share,
        touch_atr=c.touch_tolerance_atr, ideal_min=c.width_ideal_min_atr, ideal_max=c.width_ideal_max_atr,
        age_full=c.age_full_hours, w_contain=c.quality_weight_containment, w_touch=c.quality_weight_touches,
        w_width=c.quality_weight_width, w_age=c.quality_weight_age)


def width_suitability(width_atr: float, config: RegimeConfig = RegimeConfig()) -> float:
    """1 inside the ideal width, linear ramps outside it, 0 from twice the ideal maximum."""
    return K.width_suitability(width_atr, discovery_params(config))


def range_quality(containment: float, touches_lower: int, touches_upper: int, width_atr: float, age: int,
                  config: RegimeConfig = RegimeConfig()) -> float:
    """Quality score 0–100 of a range (see the module docstring)."""
    return K.range_quality(containment, touches_lower, touches_upper, width_atr, age, discovery_params(config))


def measure_range(method: str, lower: float, upper: float, high: np.ndarray, low: np.ndarray,
                  close: np.ndarray, atr: float, config: RegimeConfig = RegimeConfig()) -> RangeCandidate | None:
    """Measure ``[lower, upper]`` over the lookback bars; None when the bounds are unusable."""
    m = K.measure_range(high, low, close, lower, upper, atr, discovery_params(config))
    return None if m is None else RangeCandidate(method, float(lower), float(upper), *m)


def percentile_bands(close: np.ndarray, config: RegimeConfig = RegimeConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Rolling 10th/90th percentile of closes over ``range_lookback`` bars (whole series)."""
    return K.rolling_quantile_band(close, config.range_lookback, config.percentile_low, config.percentile_high)


def discover_ranges(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, atr: float,
                    config: RegimeConfig = RegimeConfig(), percentile: tuple[float, float] | None = None,
                    ) -> tuple[RangeCandidate, ...]:
    """Candidates of every method over the given lookback bars (the last bar is hour H).

    ``percentile`` may pass the (lower, upper) band already computed by :func:`percentile_bands`
    over the whole series; otherwise it is computed on these bars.
    """
    if percentile is None:
        lo_b, hi_b = percentile_bands(close, config)
        percentile = (float(lo_b[-1]), float(hi_b[-1]))
    close = np.asarray(close)
    return discover_ranges_at(high, low, close, volume, np.array([close.size - 1]), np.array([atr]),
                              np.array([percentile[0]]), np.array([percentile[1]]), config)[0]


def discover_ranges_at(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, idx: np.ndarray,
                       atr: np.ndarray, pct_lo: np.ndarray, pct_hi: np.ndarray, config: RegimeConfig = RegimeConfig(),
                       ) -> list[tuple[RangeCandidate, ...]]:
    """:func:`discover_ranges` at many bars of one series in one compiled pass.

    ``high`` .. ``volume`` are the whole series. For each bar ``idx[h]`` the lookback ends
    there; ``atr``, ``pct_lo`` and ``pct_hi`` hold its ATR and percentile band.

    Raises
    ------
    InvalidParameterError
        For the first bar whose ranges cannot be measured (ATR not finite or negative, a price
        span too narrow for the profile bins, non-finite or negative bars in its lookback).
    """
    found = K.discover_many(high, low, close, volume, idx, atr, pct_lo, pct_hi, discovery_params(config))
    status = found.status.tolist()
    for h, st in enumerate(status):
        if st != K.SETTLED:
            raise InvalidParameterError(f"{_UNSETTLED[st]} (bar {int(np.asarray(idx)[h])})")
    # .tolist() once: Python floats and ints for the candidates without a per-field conversion
    usable = found.usable.tolist()
    fields = [a.tolist() for a in found[2:]]
    out = []
    for h, use in enumerate(usable):
        lo, up, wd, ct, tl, th, cr, ag, ps, ql = (f[h] for f in fields)
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
