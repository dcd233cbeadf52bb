"""Hourly features against the slow twins of tests/reference (each feature wired with its SPEC window),
and the exact warm-up of each feature."""
from __future__ import annotations

import numpy as np
import pytest

from gridregime import kernels as K
from gridregime.analysis.features import (
    SCORE_RANK_FEATURES, compute_features, feature_warmup, rank_last, rank_series, rank_window_counts,
    rank_window_start, ranks_at, required_bars,
)
from gridregime.bars import bars_to_numpy
from gridregime.config import RegimeConfig
from tests.reference import rank as RK
from tests.reference import rolling as R


@pytest.fixture(scope="module")
def cols(market):
    _, hourly = market
    c = bars_to_numpy(hourly)
    return {k: v[:700] for k, v in c.items()}


@pytest.fixture(scope="module")
def feats(cols):
    return compute_features(cols["high"], cols["low"], cols["close"])


def close_to(a, b, rtol=1e-9, atol=1e-10):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def test_atr_family_against_slow_twins(cols, feats):
    h, l, c = cols["high"], cols["low"], cols["close"]
    atr = R.atr(h, l, c, 14)
    close_to(feats["atr"], atr)
    close_to(feats["natr"], 100 * atr / c)
    adx, pdi, mdi = R.adx(h, l, c, 14)
    close_to(feats["adx"], adx, rtol=1e-7)
    close_to(feats["plus_di"], pdi, rtol=1e-7)
    close_to(feats["minus_di"], mdi, rtol=1e-7)
    close_to(feats["di_spread"], np.abs(pdi - mdi), rtol=1e-7, atol=1e-7)
    lag = np.r_[np.full(24, np.nan), atr[:-24]]
    close_to(feats["atr_change"], atr / lag)


def test_trend_features_against_slow_twins(cols, feats):
    c = cols["close"]
    atr = R.atr(cols["high"], cols["low"], c, 14)
    slope, _, r2 = R.rolling_linreg(c, 48)
    close_to(feats["slope"], slope / atr, rtol=1e-6, atol=1e-9)
    close_to(feats["r2"], r2, rtol=1e-6, atol=1e-9)
    close_to(feats["slope_r2"], np.abs(slope / atr) * r2, rtol=1e-6, atol=1e-9)
    close_to(feats["er"], R.efficiency_ratio(c, 24), rtol=1e-9)


def test_volatility_features_against_slow_twins(cols, feats):
    r = R.log_returns(cols["close"])
    vs, vl = R.rolling_std(r, 24), R.rolling_std(r, 168)
    close_to(feats["vol_short"], vs, rtol=1e-7)
    close_to(feats["vol_long"], vl, rtol=1e-7)
    close_to(feats["vol_ratio"], vs / vl, rtol=1e-7)
    close_to(feats["ac1"], R.rolling_autocorr(r, 48, 1), rtol=1e-6, atol=1e-9)


def test_kernel_features_are_wired_with_spec_windows(cols, feats):
    c = cols["close"]
    r = K.log_returns(c)
    close_to(feats["vr"], K.variance_ratio(r, 4, 48))
    close_to(feats["mid_cross"], K.rolling_mean_crossings(c, 48))
    close_to(feats["bbw"], K.bollinger_bandwidth(c, 20, 2.0))


def test_warmup_is_exact(cols, feats):
    warm = feature_warmup(RegimeConfig())
    # by construction of each indicator (TA-Lib / pandas conventions)
    assert warm["atr"] == 14 and warm["natr"] == 14
    assert warm["adx"] == 27 and warm["plus_di"] == 14
    assert warm["er"] == 24 and warm["slope"] == 47 and warm["r2"] == 47
    assert warm["vol_short"] == 24 and warm["vol_long"] == 168 and warm["vol_ratio"] == 168
    assert warm["atr_change"] == 38 and warm["ac1"] == 49 and warm["bbw"] == 19
    for name, v in feats.items():  # the measured warm-up holds on real-looking data
        first = int(np.flatnonzero(np.isfinite(v))[0])
        assert first == warm[name], name
    need = required_bars(RegimeConfig())
    assert max(need.values()) == 168 + 168
    assert set(need) == set(SCORE_RANK_FEATURES)


def test_ranks_are_slow_twin_ranks_in_percent(feats):
    cfg = RegimeConfig(rank_window=200, min_rank_periods=50)
    x = feats["er"]
    expected = 100 * RK.rolling_percentile_rank(x, 200, 50)
    close_to(rank_series(x, cfg), expected, rtol=1e-12)
    for end in (60, 73, 74, 300, 700):
        got = rank_last(x[:end], cfg)
        close_to(np.array([got]), expected[end - 1:end], rtol=1e-12)


@pytest.mark.parametrize("idx", [[699], [0, 5, 699], [100, 101, 102, 103], list(range(150, 700, 7)), [650, 3, 400]])
def test_ranks_at_equal_the_rolling_ranks_to_the_last_bit(feats, idx):
    """Either way of computing them (rank_last per bar, or one rolling pass over the span)."""
    cfg = RegimeConfig(rank_window=200, min_rank_periods=50)
    at = np.array(idx)
    for name in ("er", "adx", "vol_ratio"):
        expected = rank_series(feats[name], cfg)[at]
        np.testing.assert_array_equal(np.array(ranks_at(feats[name], at, cfg)), expected)


@pytest.mark.parametrize("idx", [[699], [0, 5, 699], list(range(150, 700, 7))])
def test_rank_window_counts_count_each_window(feats, idx):
    cfg = RegimeConfig(rank_window=200, min_rank_periods=50)
    feats = dict(feats, er=feats["er"].copy())
    feats["er"][300:320] = np.nan  # a hole inside some windows
    at = np.array(idx)
    expected = [min(sum(1 for v in feats[name][max(0, i - 199):i + 1] if np.isfinite(v)) for name in SCORE_RANK_FEATURES)
                for i in idx]
    assert rank_window_counts(feats, at, cfg) == expected
    assert rank_window_start(5, cfg) == 0 and rank_window_start(699, cfg) == 500
