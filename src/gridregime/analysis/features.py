"""Hourly features of §5 over a whole series, and their percentile ranks.

All computations run on the compiled kernels of :mod:`gridregime.kernels`. One call computes
every feature over the whole hourly series (used by the one-hour and the many-hour paths alike).

Definitions where §5 leaves a choice:

- ``natr = 100·atr/close`` (percent of price);
- ``slope`` = linear-regression slope of close over ``regression_window`` bars divided by the
  ATR of the same bar (ATR per bar); ``r2`` its coefficient of determination;
- ``vol_short`` / ``vol_long`` = sample std (ddof=1) of hourly log returns; ``vol_ratio`` =
  vol_short / vol_long;
- ``atr_change`` = atr / atr ``atr_change_lag`` bars earlier;
- ``ac1`` = lag-1 autocorrelation of log returns, ``vr`` = variance ratio (q = ``vr_q``) of log
  returns, both over 48 bars;
- ``mid_cross`` = crossings of the 48-bar mean within the last 48 bars;
- ``bbw`` = Bollinger bandwidth (20 bars, k = 2);
- two derived series feed TrendScore: ``slope_r2 = |slope|·r2`` and ``di_spread = |+DI − −DI|``.

Bars are taken as consecutive even across an exchange outage (gaps are reported, never filled).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from gridregime import kernels as K
from gridregime.config import RegimeConfig

__all__ = [
    "HOURLY_FEATURES", "RANKED_FEATURES", "TREND_RANK_FEATURES", "SCORE_RANK_FEATURES", "MINUTE_FEATURES",
    "compute_features", "feature_warmup", "warmup_bars", "required_bars", "rank_last", "rank_series",
    "ranks_at", "rank_window_start", "rank_window_counts",
]

HOURLY_FEATURES = (
    "atr", "natr", "adx", "plus_di", "minus_di", "er", "slope", "r2", "vol_short", "vol_long",
    "vol_ratio", "atr_change", "ac1", "vr", "mid_cross", "bbw", "slope_r2", "di_spread",
)
RANKED_FEATURES = HOURLY_FEATURES
MINUTE_FEATURES = ("rv_1m", "hour_range_atr")
TREND_RANK_FEATURES = ("adx", "slope_r2", "er", "di_spread")
SCORE_RANK_FEATURES = TREND_RANK_FEATURES + ("vr", "ac1", "mid_cross", "vol_ratio", "atr_change")


def compute_features(high: np.ndarray, low: np.ndarray, close: np.ndarray,
                     config: RegimeConfig = RegimeConfig()) -> dict[str, np.ndarray]:
    """Every hourly feature as a float64 array of the input length (NaN during warm-up)."""
    c = config
    atr = K.atr(high, low, close, c.atr_period)
    adx, plus_di, minus_di = K.adx(high, low, close, c.adx_period)
    slope_px, _, r2 = K.rolling_linreg(close, c.regression_window)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = slope_px / atr
        natr = 100.0 * atr / close
        lagged = np.full_like(atr, np.nan)
        if atr.size > c.atr_change_lag:
            lagged[c.atr_change_lag:] = atr[:-c.atr_change_lag]
        atr_change = atr / lagged
        r = K.log_returns(close)
        vol_short = K.rolling_std(r, c.vol_short_window)
        vol_long = K.rolling_std(r, c.vol_long_window)
        vol_ratio = vol_short / vol_long
    out = {
        "atr": atr, "natr": natr, "adx": adx, "plus_di": plus_di, "minus_di": minus_di,
        "er": K.efficiency_ratio(close, c.er_window), "slope": slope, "r2": r2,
        "vol_short": vol_short, "vol_long": vol_long, "vol_ratio": vol_ratio, "atr_change": atr_change,
        "ac1": K.rolling_autocorr(r, c.ac1_window, 1), "vr": K.variance_ratio(r, c.vr_q, c.vr_window),
        "mid_cross": K.rolling_mean_crossings(close, c.mid_cross_window),
        "bbw": K.bollinger_bandwidth(close, c.bbw_window, c.bbw_k),
        "slope_r2": np.abs(slope) * r2, "di_spread": np.abs(plus_di - minus_di),
    }
    for name, v in out.items():  # one missing-value marker downstream
        bad = ~np.isfinite(v)
        if bad.any():
            v = np.array(v, dtype=np.float64)
            v[bad] = np.nan
            out[name] = v
    return out


@lru_cache(maxsize=32)
def feature_warmup(config: RegimeConfig = RegimeConfig()) -> dict[str, int]:
    """Index of the first defined value of each feature (bars needed = index + 1).

    Measured once per configuration on a generic random walk: warm-up lengths depend on the
    windows only, never on the prices.
    """
    longest = max(c for c in (config.vol_long_window, config.regression_window, config.er_window,
                              config.ac1_window, config.vr_window, config.mid_cross_window,
                              config.bbw_window, 3 * config.adx_period, config.atr_period
                              + config.atr_change_lag))
    n = 2 * longest + 16
    rng = np.random.default_rng(12345)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    spread = np.abs(rng.normal(0, 0.005, n)) * close + 0.01
    feats = compute_features(close + spread, close - spread, close, config)
    warm = {}
    for name, v in feats.items():
        defined = np.flatnonzero(np.isfinite(v))
        warm[name] = int(defined[0]) if defined.size else n
    return warm


@lru_cache(maxsize=32)
def warmup_bars(config: RegimeConfig = RegimeConfig()) -> int:
    """Hourly bars before every rank rests on a full window of defined values:
    ``rank_window`` plus the longest feature warm-up (888 with the defaults)."""
    return config.rank_window + max(feature_warmup(config).values())


def required_bars(config: RegimeConfig = RegimeConfig(), names=SCORE_RANK_FEATURES) -> dict[str, int]:
    """Hourly bars needed before each feature has a percentile rank (``min_rank_periods`` values)."""
    warm = feature_warmup(config)
    return {name: warm[name] + config.min_rank_periods for name in names}


def rank_last(x: np.ndarray, config: RegimeConfig = RegimeConfig()) -> float:
    """Percentile rank (0–100) of the last value of ``x`` within its trailing ``rank_window``
    values, NaN-skipping, NaN until ``min_rank_periods`` values exist (pandas semantics)."""
    return 100.0 * K.percentile_rank_last(x[-config.rank_window:], config.min_rank_periods)


def rank_series(x: np.ndarray, config: RegimeConfig = RegimeConfig()) -> np.ndarray:
    """Rolling percentile rank (0–100) of every value of ``x`` (see :func:`rank_last`)."""
    return 100.0 * K.rolling_percentile_rank(x, config.rank_window, config.min_rank_periods)


#: Up to this many bars, ranking each one (O(rank_window) apiece) beats one rolling pass.
_FEW_BARS = 4


def rank_window_start(i, config: RegimeConfig = RegimeConfig()):
    """First bar of the rank window that ends at bar ``i`` (an int or an array of them)."""
    return np.maximum(i - config.rank_window + 1, 0) if isinstance(i, np.ndarray) else max(i - config.rank_window + 1, 0)


def ranks_at(x: np.ndarray, idx: np.ndarray, config: RegimeConfig = RegimeConfig()) -> list[float]:
    """``rank_series(x)[idx]`` as Python floats, computed only as far as the bars ``idx`` need:
    :func:`rank_last` at each bar when there are few, else one rolling pass from the first bar's
    rank window (both count the same integers, so the ranks are equal to the last bit)."""
    if idx.size <= _FEW_BARS:
        return [rank_last(x[:i + 1], config) for i in idx.tolist()]
    lo = rank_window_start(int(idx.min()), config)
    return rank_series(np.ascontiguousarray(x[lo:int(idx.max()) + 1]), config)[idx - lo].tolist()


def rank_window_counts(features: dict[str, np.ndarray], idx: np.ndarray,
                       config: RegimeConfig = RegimeConfig()) -> list[int]:
    """For each bar ``idx``, the fewest defined (finite) values any score feature has in its
    rank window (``rank_window`` when every window is full: divided by it, the rank fill)."""
    start = rank_window_start(idx, config)
    if idx.size <= _FEW_BARS:  # count each window directly
        return [min(int(np.count_nonzero(np.isfinite(features[name][s:i + 1]))) for name in SCORE_RANK_FEATURES)
                for s, i in zip(start.tolist(), idx.tolist())]
    lo, hi = int(start.min()), int(idx.max()) + 1
    defined = np.zeros(hi - lo + 1, dtype=np.int64)  # defined[k]: defined values among the first k bars
    fewest = np.full(idx.size, config.rank_window, dtype=np.int64)
    for name in SCORE_RANK_FEATURES:
        np.cumsum(np.isfinite(features[name][lo:hi]), out=defined[1:])
        fewest = np.minimum(fewest, defined[idx + 1 - lo] - defined[start - lo])
    return fewest.tolist()
