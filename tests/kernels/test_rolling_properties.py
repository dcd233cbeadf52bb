"""Properties of the rolling/recursive kernels: start independence, decay of the seed,
accuracy on offset data, parameter validation.

Start independence is what makes a batch analysis over a long history equal the analysis
of one hour from a shorter slice (SPEC §13, property 75).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridregime import kernels as K
from gridregime.errors import InvalidParameterError
from tests.reference import rolling as slow
from tests.strategies import float_arrays

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def hourly():
    table = pq.read_table(DATA / "ETH-USDT_1h_2021-01-20_2021-04-21.parquet")
    return {name: table.column(name).to_numpy() for name in ("high", "low", "close")}


# name -> (function of x and window returning one array, span of values one output uses)
WINDOW_KERNELS = {
    "rolling_mean": (lambda x, w: K.rolling_mean(x, w, max(1, w // 2)), lambda w: w),
    "rolling_std": (lambda x, w: K.rolling_std(x, w, max(2, w // 2)), lambda w: w),
    "linreg_slope": (lambda x, w: K.rolling_linreg(x, w)[0], lambda w: w),
    "linreg_intercept": (lambda x, w: K.rolling_linreg(x, w)[1], lambda w: w),
    "linreg_r2": (lambda x, w: K.rolling_linreg(x, w)[2], lambda w: w),
    "efficiency_ratio": (K.efficiency_ratio, lambda w: w + 1),
    "rolling_autocorr": (lambda x, w: K.rolling_autocorr(x, w, 2), lambda w: w + 2),
    "variance_ratio": (lambda x, w: K.variance_ratio(x, 2, w), lambda w: w),
    "rolling_mean_crossings": (K.rolling_mean_crossings, lambda w: w),
    "bollinger_bandwidth": (lambda x, w: K.bollinger_bandwidth(x, w, 2.0), lambda w: w),
    "rolling_max": (K.rolling_max, lambda w: w),
    "rolling_min": (K.rolling_min, lambda w: w),
}


def assert_start_independent(f, x, window, span, starts, scale):
    full = f(x, window)
    for s in starts:
        part = f(x[s:], window)
        # only outputs whose whole span lies inside the slice are comparable
        tail_full, tail_part = full[s + span - 1 :], part[span - 1 :]
        np.testing.assert_array_equal(np.isnan(tail_full), np.isnan(tail_part))
        np.testing.assert_allclose(tail_part, tail_full, rtol=1e-12, atol=1e-12 * scale, equal_nan=True)


@pytest.mark.parametrize("name", sorted(WINDOW_KERNELS))
@settings(max_examples=50)  # twelve kernels; the twin tests already cover the values
@given(window=st.integers(3, 10), data=st.data())
def test_property_75_window_kernels_depend_only_on_their_window(name, window, data):
    f, span = WINDOW_KERNELS[name]
    # the bandwidth divides by the mean: it is only well conditioned for prices (> 0)
    x = data.draw(float_arrays(min_size=1, max_size=80, positive=name == "bollinger_bandwidth"), label="x")
    starts = data.draw(st.lists(st.integers(0, len(x)), max_size=3), label="starts")
    finite = x[np.isfinite(x)]
    scale = 1.0 + (float(finite.max() - finite.min()) if finite.size else 0.0)
    assert_start_independent(f, x, window, span(window), starts, scale)


@pytest.mark.parametrize("name", sorted(WINDOW_KERNELS))
def test_property_75_window_kernels_start_independent_on_real_closes(name, hourly):
    f, span = WINDOW_KERNELS[name]
    x = K.log_returns(hourly["close"]) if name in ("variance_ratio", "rolling_autocorr") else hourly["close"]
    finite = x[np.isfinite(x)]
    assert_start_independent(f, x, 48, span(48), [1, 17, 500, 1333], float(finite.max() - finite.min()))


RECURSIVE = {
    "ema": lambda b, p: K.ema(b["close"], p),
    "ema_first": lambda b, p: K.ema(b["close"], p, seed="first"),
    "wilder": lambda b, p: K.wilder(b["close"], p),
    "atr": lambda b, p: K.atr(b["high"], b["low"], b["close"], p),
    "adx": lambda b, p: K.adx(b["high"], b["low"], b["close"], p)[0],
    "plus_di": lambda b, p: K.adx(b["high"], b["low"], b["close"], p)[1],
    "minus_di": lambda b, p: K.adx(b["high"], b["low"], b["close"], p)[2],
}


@pytest.mark.parametrize("name", sorted(RECURSIVE))
@pytest.mark.parametrize("period", [5, 14])
def test_recursive_filters_forget_their_start_within_40_periods(name, period, hourly):
    f = RECURSIVE[name]
    full = f(hourly, period)
    for s in (1, 100, 777):
        part = f({k: v[s:] for k, v in hourly.items()}, period)
        settled = 40 * period
        a, b = full[s + settled :], part[settled:]
        assert np.isfinite(a).all() and np.isfinite(b).all()
        rel = np.abs(a - b) / np.maximum(np.abs(a), 1e-300)
        assert rel.max() < 1e-9, f"{name}: relative difference {rel.max():.3g} after {settled} bars"


def test_rolling_std_accurate_with_1e9_offset():
    """No catastrophic cancellation: exact (rational) two-pass reference on offset data."""
    rng = np.random.default_rng(7)
    base = np.round(rng.normal(0, 1, 400).cumsum() * 1e3) / 1e3  # millesimal steps
    x = 1e9 + base
    x[[50, 51, 52, 230]] = np.nan
    for window, ddof in ((5, 1), (24, 1), (48, 0)):
        ours = K.rolling_std(x, window, 3, ddof)
        ref = slow.rolling_std(x, window, 3, ddof)
        np.testing.assert_allclose(ours, ref, rtol=1e-9, equal_nan=True)
        # and the same numbers as without the offset, up to the offset's input rounding
        np.testing.assert_allclose(ours, K.rolling_std(x - 1e9, window, 3, ddof), rtol=1e-6, equal_nan=True)


def test_rolling_std_recovers_after_a_volatile_stretch():
    """Quiet values after huge ones: running sums would keep the huge values' rounding."""
    x = np.r_[np.array([1e8, -1e8] * 50), 1.0 + np.arange(60) % 3 * 1e-3]
    ours = K.rolling_std(x, 10)
    ref = slow.rolling_std(x, 10)
    np.testing.assert_allclose(ours[-40:], ref[-40:], rtol=1e-9)
    slope, _, r2 = K.rolling_linreg(x, 10)
    ref_slope, _, ref_r2 = slow.rolling_linreg(x, 10)
    np.testing.assert_allclose(slope[-40:], ref_slope[-40:], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(r2[-40:], ref_r2[-40:], rtol=1e-9, atol=1e-15)


def test_constant_windows_are_exact():
    x = np.r_[np.arange(10.0), np.full(20, 1e9 + 0.1)]
    assert (K.rolling_std(x, 5)[-15:] == 0).all()
    assert (K.rolling_mean(x, 5)[-15:] == 1e9 + 0.1).all()
    slope, intercept, r2 = K.rolling_linreg(x, 5)
    assert (slope[-15:] == 0).all() and (r2[-15:] == 0).all() and (intercept[-15:] == 1e9 + 0.1).all()
    assert (K.efficiency_ratio(x, 5)[-15:] == 0).all()
    assert np.isnan(K.rolling_autocorr(x, 5)[-15:]).all()


def test_outputs_are_new_float64_arrays_of_input_length():
    x = [1, 2, 3, 4, 5, 6, 7]  # ints and lists are accepted
    for out in (
        K.ema(x, 3), K.wilder(x, 3), K.rolling_mean(x, 3), K.rolling_std(x, 3), K.log_returns(x),
        *K.rolling_linreg(x, 3), K.efficiency_ratio(x, 3), K.rolling_autocorr(x, 3),
        K.variance_ratio(x, 2, 3), K.rolling_mean_crossings(x, 3), K.bollinger_bandwidth(x, 3),
        K.rolling_max(x, 3), K.rolling_min(x, 3), K.true_range(x, x, x), K.atr(x, x, x, 3),
        *K.adx(x, x, x, 2),
    ):
        assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (7,)


def test_infinity_is_treated_as_missing():
    x = np.array([1.0, 2.0, np.inf, 4.0, 5.0, 6.0, -np.inf, 8.0, 9.0, 7.0])
    y = np.where(np.isinf(x), np.nan, x)
    np.testing.assert_array_equal(np.isnan(K.rolling_mean(x, 2))[:6], [True, False, True, True, False, False])
    for f in (
        lambda a: K.rolling_mean(a, 3, 1),
        lambda a: K.rolling_std(a, 3, 2),
        lambda a: K.bollinger_bandwidth(a, 2),
        lambda a: K.rolling_linreg(a, 2)[0],
        lambda a: K.rolling_linreg(a, 3)[1],
        lambda a: K.rolling_linreg(a, 3)[2],
        lambda a: K.efficiency_ratio(a, 2),
        lambda a: K.rolling_autocorr(a, 3),
        lambda a: K.rolling_autocorr(a, 2, lag=2),
        lambda a: K.ema(a, 2),
        lambda a: K.rolling_max(a, 2),
        lambda a: K.variance_ratio(a, 2, 3),
    ):
        np.testing.assert_array_equal(f(x), f(y))


@pytest.mark.parametrize("field", [0, 1, 2])
@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_ohlc_kernels_treat_infinity_as_missing(hourly, field, bad):
    clean = [hourly[k][:200].copy() for k in ("high", "low", "close")]
    with_inf = [a.copy() for a in clean]
    with_nan = [a.copy() for a in clean]
    with_inf[field][[30, 31, 120]] = bad
    with_nan[field][[30, 31, 120]] = np.nan
    np.testing.assert_array_equal(K.true_range(*with_inf), K.true_range(*with_nan))
    np.testing.assert_array_equal(K.atr(*with_inf, 5), K.atr(*with_nan, 5))
    for a, b in zip(K.adx(*with_inf, 5), K.adx(*with_nan, 5)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "call, parameter",
    [
        (lambda: K.ema([1.0, 2.0], 0), "period"),
        (lambda: K.ema([1.0, 2.0], 2, seed="median"), "seed"),
        (lambda: K.wilder([1.0], 1.5), "period"),
        (lambda: K.atr([1.0], [1.0], [1.0, 2.0]), "high=1"),
        (lambda: K.adx([1.0], [1.0], [1.0], 1), "period"),
        (lambda: K.rolling_mean([1.0], 0), "window"),
        (lambda: K.rolling_mean([1.0], 3, min_periods=4), "min_periods"),
        (lambda: K.rolling_std([1.0], 3, ddof=3), "ddof"),
        (lambda: K.rolling_std([1.0], 3, ddof=-1), "ddof"),
        (lambda: K.rolling_linreg([1.0], 1), "window"),
        (lambda: K.rolling_autocorr([1.0], 5, lag=0), "lag"),
        (lambda: K.variance_ratio([1.0], 1, 5), "q"),
        (lambda: K.variance_ratio([1.0], 4, 4), "window"),
        (lambda: K.bollinger_bandwidth([1.0], 3, k=-1.0), "k"),
        (lambda: K.bollinger_bandwidth([1.0], 3, k=math.nan), "k"),
        (lambda: K.rolling_max(np.ones((2, 2)), 3), "x"),
        (lambda: K.rolling_min(["a"], 3), "x"),
    ],
)
def test_invalid_parameters_are_refused_by_name(call, parameter):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert parameter in str(info.value)


def test_seed_error_is_an_invalid_parameter_error():
    with pytest.raises(InvalidParameterError):
        K.ema([1.0], 1, seed="nope")
