"""Compiled rolling/recursive kernels against their slow twins (tests/reference/rolling.py).

One parametrized hypothesis test per input family: single series, OHLC bars. Windows,
min_periods, ddof, NaN runs, ties, flat stretches, +1e9 offsets, short and empty arrays are
all drawn by the strategies.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridregime import kernels as K
from tests.reference import rolling as slow
from tests.strategies import float_arrays, ohlc_arrays, windows

RTOL = 1e-9


def spread(*arrays) -> float:
    vals = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    vals = vals[np.isfinite(vals)]
    return float(vals.max() - vals.min()) if vals.size else 0.0


def assert_matches(fast, ref, atol: float) -> None:
    """Same NaN positions, values within RTOL relative or ``atol`` absolute."""
    fast, ref = np.asarray(fast), np.asarray(ref)
    assert fast.dtype == np.float64
    assert fast.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(ref), err_msg="NaN positions differ")
    np.testing.assert_allclose(fast, ref, rtol=RTOL, atol=atol, equal_nan=True)


def floor(scale: float) -> float:
    """Absolute floor: rounding of quantities of size ``scale`` (values near zero)."""
    return 1e-12 * (1.0 + scale)


# name -> (fast, slow, draw extra parameters, absolute floor from the data's spread)
SERIES_CASES = {
    "ema_sma": (
        lambda x, p: K.ema(x, p["w"], seed="sma"),
        lambda x, p: slow.ema(x, p["w"], seed="sma"),
    ),
    "ema_first": (
        lambda x, p: K.ema(x, p["w"], seed="first"),
        lambda x, p: slow.ema(x, p["w"], seed="first"),
    ),
    "wilder": (
        lambda x, p: K.wilder(x, p["w"]),
        lambda x, p: slow.wilder(x, p["w"]),
    ),
    "rolling_mean": (
        lambda x, p: K.rolling_mean(x, p["w"], p["minp"]),
        lambda x, p: slow.rolling_mean(x, p["w"], p["minp"]),
    ),
    "rolling_std": (
        lambda x, p: K.rolling_std(x, p["w"], p["minp"], p["ddof"]),
        lambda x, p: slow.rolling_std(x, p["w"], p["minp"], p["ddof"]),
    ),
    "log_returns": (
        lambda x, p: K.log_returns(x),
        lambda x, p: slow.log_returns(x),
    ),
    "rolling_linreg": (
        lambda x, p: np.stack(K.rolling_linreg(x, p["w2"])),
        lambda x, p: np.stack(slow.rolling_linreg(x, p["w2"])),
    ),
    "efficiency_ratio": (
        lambda x, p: K.efficiency_ratio(x, p["w"]),
        lambda x, p: slow.efficiency_ratio(x, p["w"]),
    ),
    "rolling_autocorr": (
        lambda x, p: K.rolling_autocorr(x, p["w2"], p["lag"]),
        lambda x, p: slow.rolling_autocorr(x, p["w2"], p["lag"]),
    ),
    "variance_ratio": (
        lambda x, p: K.variance_ratio(x, p["q"], p["q"] + p["w"]),
        lambda x, p: slow.variance_ratio(x, p["q"], p["q"] + p["w"]),
    ),
    "rolling_mean_crossings": (
        lambda x, p: K.rolling_mean_crossings(x, p["w2"]),
        lambda x, p: slow.rolling_mean_crossings(x, p["w2"]),
    ),
    "bollinger_bandwidth": (
        lambda x, p: K.bollinger_bandwidth(x, p["w"], p["k"]),
        lambda x, p: slow.bollinger_bandwidth(x, p["w"], p["k"]),
    ),
    "rolling_max": (
        lambda x, p: K.rolling_max(x, p["w"]),
        lambda x, p: slow.rolling_max(x, p["w"]),
    ),
    "rolling_min": (
        lambda x, p: K.rolling_min(x, p["w"]),
        lambda x, p: slow.rolling_min(x, p["w"]),
    ),
}


@st.composite
def series_params(draw):
    w = draw(windows)
    return {
        "w": w,
        "w2": draw(st.integers(2, 12)),
        "minp": draw(st.one_of(st.none(), st.integers(1, w))),
        "ddof": draw(st.integers(0, w - 1)),
        "lag": draw(st.integers(1, 3)),
        "q": draw(st.integers(2, 5)),
        "k": draw(st.sampled_from([1.0, 2.0, 2.5])),
    }


@pytest.mark.parametrize("name", sorted(SERIES_CASES))
@given(data=st.data())
def test_series_kernel_matches_slow_twin(name, data):
    fast, ref = SERIES_CASES[name]
    positive = name in ("log_returns", "bollinger_bandwidth")
    x = data.draw(float_arrays(positive=positive), label="x")
    p = data.draw(series_params(), label="params")
    # quantities derived from the values (not their level) get a floor from the spread;
    # level-like ones (means, EMA, intercept) from the magnitude.
    scale = spread(x) if name not in ("log_returns",) else 1.0
    assert_matches(fast(x, p), ref(x, p), floor(scale))


OHLC_CASES = {
    "true_range": (
        lambda h, l, c, p: K.true_range(h, l, c),
        lambda h, l, c, p: slow.true_range(h, l, c),
    ),
    "atr": (
        lambda h, l, c, p: K.atr(h, l, c, p),
        lambda h, l, c, p: slow.atr(h, l, c, p),
    ),
    "adx": (
        lambda h, l, c, p: np.stack(K.adx(h, l, c, p)),
        lambda h, l, c, p: np.stack(slow.adx(h, l, c, p)),
    ),
}


@pytest.mark.parametrize("name", sorted(OHLC_CASES))
@given(bars=ohlc_arrays(), period=st.integers(2, 8))
def test_ohlc_kernel_matches_slow_twin(name, bars, period):
    fast, ref = OHLC_CASES[name]
    h, l, c = bars
    # DI and DX are ratios of smoothed ranges: their rounding is relative to 100 points
    scale = 100.0 if name == "adx" else spread(h, l)
    assert_matches(fast(h, l, c, period), ref(h, l, c, period), floor(scale))


@pytest.mark.parametrize("missing", [(), (255, 256), (300, 511, 512), (270,) + tuple(range(520, 530))])
def test_long_series_with_gaps_match_slow_twins(missing):
    """Series longer than the kernels' internal blocks, gaps at and around block-sized
    offsets: runs restart, steady states resume, values stay those of the twins."""
    rng = np.random.default_rng(5)
    n = 700
    close = 1000.0 + np.cumsum(rng.standard_normal(n))
    high = close + rng.random(n)
    low = close - rng.random(n)
    close[2 * n // 3 : 2 * n // 3 + 60] = close[2 * n // 3]  # a flat stretch
    high[2 * n // 3 : 2 * n // 3 + 60] = close[2 * n // 3]
    low[2 * n // 3 : 2 * n // 3 + 60] = close[2 * n // 3]
    for i, j in enumerate(missing):
        [high, low, close][i % 3][j] = np.nan
    r = K.log_returns(close)
    assert_matches(np.stack(K.adx(high, low, close, 14)), np.stack(slow.adx(high, low, close, 14)), floor(100.0))
    assert_matches(K.rolling_autocorr(r, 20, 2), slow.rolling_autocorr(r, 20, 2), floor(spread(r)))
    assert_matches(K.variance_ratio(r, 4, 30), slow.variance_ratio(r, 4, 30), floor(spread(r)))
    assert_matches(np.stack(K.rolling_linreg(close, 24)), np.stack(slow.rolling_linreg(close, 24)), floor(spread(close)))
    assert_matches(K.rolling_std(close, 48, 10), slow.rolling_std(close, 48, 10), floor(spread(close)))


@pytest.mark.parametrize("window", [2, 3, 4, 5, 7, 48])
def test_mean_crossings_both_paths_match_twin(window):
    """Windows where values equal the mean (the exact walk) next to windows where none does
    (the vectorised count), eight-window blocks and every remainder, NaN-split runs."""
    rng = np.random.default_rng(window)
    ties = np.tile([1.0, 2.0, 3.0, 2.0], 40)  # many windows whose mean is exactly 2 or a value
    noise = np.round(rng.normal(0.0, 1.0, 203), 1)
    x = np.concatenate([ties, [np.nan], noise, [np.nan, np.nan], ties[: window + 2], noise[:5]])
    for n in range(len(x) - 8, len(x) + 1):
        np.testing.assert_array_equal(K.rolling_mean_crossings(x[:n], window),
                                      slow.rolling_mean_crossings(x[:n], window))
