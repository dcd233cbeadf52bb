"""Rolling/recursive kernels against the libraries that define the same quantities.

TA-Lib (ATR, ADX/PLUS_DI/MINUS_DI, EMA, BBANDS), pandas (rolling mean/std, ewm, rolling
corr), bottleneck (move_mean/std/max/min) and numpy.polyfit. The peers are imported
unconditionally: a missing peer fails the suite instead of silently skipping it.
Inputs: hypothesis arrays (no +1e9 offset: the peers' own arithmetic is not built for it)
and the real candles committed under tests/data.
"""
from __future__ import annotations

from pathlib import Path

import bottleneck
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import talib
from hypothesis import given
from hypothesis import strategies as st

from gridregime import kernels as K
from tests.strategies import float_arrays, ohlc_arrays

PEER_RTOL = 1e-9
NO_OFFSET = (0.0,)


def close_enough(ours, peer, atol: float = 1e-9) -> None:
    ours, peer = np.asarray(ours, dtype=float), np.asarray(peer, dtype=float)
    assert ours.shape == peer.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(peer), err_msg="NaN positions differ")
    np.testing.assert_allclose(ours, peer, rtol=PEER_RTOL, atol=atol, equal_nan=True)


DATA_FILES = sorted(p.name for p in (Path(__file__).parents[1] / "data").glob("*.parquet"))


@pytest.fixture(scope="module", params=DATA_FILES)
def candles(request, data_dir):
    table = pq.read_table(data_dir / request.param)
    return {name: table.column(name).to_numpy() for name in ("high", "low", "close")}


# --- TA-Lib -----------------------------------------------------------------------------


@given(bars=ohlc_arrays(allow_nan=False, offsets=NO_OFFSET), period=st.integers(2, 10))
def test_atr_adx_match_talib_on_generated_bars(bars, period):
    h, l, c = bars
    close_enough(K.atr(h, l, c, period), talib.ATR(h, l, c, period))
    adx, pdi, mdi = K.adx(h, l, c, period)
    close_enough(adx, talib.ADX(h, l, c, period), atol=1e-7)
    close_enough(pdi, talib.PLUS_DI(h, l, c, period), atol=1e-7)
    close_enough(mdi, talib.MINUS_DI(h, l, c, period), atol=1e-7)


def test_atr_adx_ema_match_talib_on_real_candles(candles):
    h, l, c = candles["high"], candles["low"], candles["close"]
    for period in (2, 14, 48):
        close_enough(K.atr(h, l, c, period), talib.ATR(h, l, c, period))
        adx, pdi, mdi = K.adx(h, l, c, period)
        close_enough(adx, talib.ADX(h, l, c, period))
        close_enough(pdi, talib.PLUS_DI(h, l, c, period))
        close_enough(mdi, talib.MINUS_DI(h, l, c, period))
        close_enough(K.ema(c, period, seed="sma"), talib.EMA(c, period))
    close_enough(K.true_range(h, l, c)[1:], talib.TRANGE(h, l, c)[1:])


def test_recursive_filters_restart_after_nan_like_talib_per_segment(candles):
    """NaN policy 'restart': equal to TA-Lib run on each NaN-free stretch separately."""
    h, l, c = (candles[k].copy() for k in ("high", "low", "close"))
    c[[40, 41, 300]] = np.nan  # splits the series into three stretches
    h[700] = np.nan
    valid = ~(np.isnan(h) | np.isnan(l) | np.isnan(c))
    edges = np.flatnonzero(np.diff(np.r_[0, valid.astype(int), 0]))
    expected_atr = np.full(len(c), np.nan)
    expected_adx = np.full(len(c), np.nan)
    expected_ema = np.full(len(c), np.nan)
    for s, e in zip(edges[::2], edges[1::2]):
        expected_atr[s:e] = talib.ATR(h[s:e], l[s:e], c[s:e], 14)
        expected_adx[s:e] = talib.ADX(h[s:e], l[s:e], c[s:e], 14)
    edges = np.flatnonzero(np.diff(np.r_[0, (~np.isnan(c)).astype(int), 0]))
    for s, e in zip(edges[::2], edges[1::2]):
        expected_ema[s:e] = talib.EMA(c[s:e], 10)
    close_enough(K.atr(h, l, c, 14), expected_atr)
    close_enough(K.adx(h, l, c, 14)[0], expected_adx)
    close_enough(K.ema(c, 10), expected_ema)


@given(x=float_arrays(allow_nan=False, offsets=NO_OFFSET), period=st.integers(1, 12))
def test_ema_matches_talib_and_pandas(x, period):
    close_enough(K.ema(x, period, seed="sma"), talib.EMA(x, period) if len(x) else x, atol=1e-9)
    expected = pd.Series(x, dtype=float).ewm(span=period, adjust=False).mean().to_numpy()
    close_enough(K.ema(x, period, seed="first"), expected, atol=1e-9)


def test_bollinger_bandwidth_matches_talib_bbands(candles):
    c = candles["close"]
    for window, k in ((20, 2.0), (48, 1.5)):
        upper, middle, lower = talib.BBANDS(c, window, k, k, 0)
        close_enough(K.bollinger_bandwidth(c, window, k), (upper - lower) / middle)


# --- pandas / bottleneck -----------------------------------------------------------------


@given(
    x=float_arrays(offsets=NO_OFFSET),
    window=st.integers(1, 12),
    data=st.data(),
)
def test_mean_std_match_pandas_and_bottleneck(x, window, data):
    minp = data.draw(st.integers(1, window), label="min_periods")
    ddof = data.draw(st.integers(0, minp - 1), label="ddof")
    s = pd.Series(x, dtype=float)
    scale = 1.0 + (np.nanmax(np.abs(x)) if np.isfinite(x).any() else 0.0)
    atol = 1e-9 * scale
    close_enough(K.rolling_mean(x, window, minp), s.rolling(window, minp).mean().to_numpy(), atol)
    # pandas' and bottleneck's running variances carry rounding of order eps * x**2 (they
    # report ~1e-8 * |x| instead of 0 for a constant window after large values), so the
    # standard deviations are compared as variances
    close_enough(
        K.rolling_std(x, window, minp, ddof) ** 2,
        s.rolling(window, minp).std(ddof=ddof).to_numpy() ** 2,
        1e-12 * scale**2,
    )
    if len(x) >= window:  # bottleneck refuses windows longer than the array
        close_enough(K.rolling_mean(x, window, minp), bottleneck.move_mean(x, window, minp), atol)
        close_enough(
            K.rolling_std(x, window, minp, ddof) ** 2,
            bottleneck.move_std(x, window, minp, ddof=ddof) ** 2,
            1e-12 * scale**2,
        )
        close_enough(K.rolling_max(x, window), bottleneck.move_max(x, window))
        close_enough(K.rolling_min(x, window), bottleneck.move_min(x, window))


def test_mean_std_autocorr_match_pandas_on_real_candles(candles):
    c = candles["close"]
    s = pd.Series(c)
    r = K.log_returns(c)
    close_enough(r, np.log(s / s.shift(1)).to_numpy(), atol=1e-15)
    rs = pd.Series(r)
    for window in (24, 48, 168):
        close_enough(K.rolling_mean(c, window), s.rolling(window).mean().to_numpy())
        close_enough(K.rolling_std(c, window), s.rolling(window).std().to_numpy())
        close_enough(K.rolling_std(r, window, 2, 0), rs.rolling(window, 2).std(ddof=0).to_numpy(), 1e-15)
        for lag in (1, 2):
            # pandas computes corr from raw moments: agreement to ~1e-7 absolute on returns
            close_enough(K.rolling_autocorr(r, window, lag), rs.rolling(window).corr(rs.shift(lag)).to_numpy(), 1e-7)


def test_ema_first_seed_matches_pandas_on_real_candles(candles):
    c = candles["close"]
    for period in (5, 24):
        close_enough(K.ema(c, period, seed="first"), pd.Series(c).ewm(span=period, adjust=False).mean().to_numpy())


# --- numpy.polyfit -----------------------------------------------------------------------


def test_linreg_matches_polyfit_on_a_sample_of_windows(candles):
    c = candles["close"]
    window = 48
    slope, intercept, r2 = K.rolling_linreg(c, window)
    x = np.arange(window, dtype=float)
    for t in range(window - 1, len(c), 97):
        y = c[t - window + 1 : t + 1]
        b, a = np.polyfit(x, y, 1)
        fitted = a + b * x
        expected_r2 = 1.0 - ((y - fitted) ** 2).sum() / ((y - y.mean()) ** 2).sum()
        np.testing.assert_allclose(slope[t], b, rtol=1e-8, atol=1e-12 * np.abs(y).max())
        np.testing.assert_allclose(intercept[t], a, rtol=1e-9)
        np.testing.assert_allclose(r2[t], expected_r2, rtol=1e-8, atol=1e-10)
