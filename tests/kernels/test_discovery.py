"""The compiled range discovery (kernels.discover_many) against its slow twin, bar for bar, and
the properties its candidates keep (hypothesis)."""
from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridregime import kernels as K
from gridregime.errors import InvalidParameterError
from tests.reference import discovery as slow

INT_FIELDS = ("touches_lower", "touches_upper", "mid_crosses", "age")
FLOAT_FIELDS = ("lower", "upper", "width_atr", "containment", "position", "quality")


def fast_params(p: slow.Params):
    return K.discovery_params(**dataclasses.asdict(p))


def fast_candidates(found: K.DiscoveredRanges, h: int) -> list[dict]:
    out = []
    for k, method in enumerate(K.DISCOVERY_METHODS):
        if found.usable[h, k]:
            out.append({"method": method, **{f: getattr(found, f)[h, k] for f in INT_FIELDS + FLOAT_FIELDS}})
    return out


def assert_twins_agree(high, low, close, volume, atr, p: slow.Params, idx=None) -> int:
    """Every requested bar: same status, same methods, equal integer measures, floats to 1e-12.
    Returns how many bars had candidates."""
    n = close.size
    idx = np.arange(n) if idx is None else idx
    pct_lo, pct_hi = K.rolling_quantile_band(np.nan_to_num(close), p.lookback, 0.10, 0.90)
    found = K.discover_many(high, low, close, volume, idx, atr[idx], pct_lo[idx], pct_hi[idx], fast_params(p))
    settled = 0
    for h, i in enumerate(idx.tolist()):
        status, expected = slow.discover_at(high, low, close, volume, i, float(atr[i]), float(pct_lo[i]),
                                            float(pct_hi[i]), p)
        assert found.status[h] == status, (i, found.status[h], status)
        got = fast_candidates(found, h)
        assert [c["method"] for c in got] == [c["method"] for c in expected], i
        for g, e in zip(got, expected):
            assert {f: int(g[f]) for f in INT_FIELDS} == {f: e[f] for f in INT_FIELDS}, (i, g["method"])
            for f in FLOAT_FIELDS:
                assert g[f] == pytest.approx(e[f], rel=1e-12, abs=1e-12), (i, g["method"], f)
        settled += bool(got)
    return settled


def random_bars(seed: int, n: int, decimals: int = 2, zero_share: float = 0.0):
    """A random walk; rounding prices to ``decimals`` makes ties (equal pivots, closes on a bound)."""
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), decimals)
    high = close + np.round(np.abs(rng.normal(0, 0.3, n)), decimals)
    low = close - np.round(np.abs(rng.normal(0, 0.3, n)), decimals)
    volume = np.where(rng.random(n) < zero_share, 0.0, np.round(rng.random(n) * 10, 1))
    atr = np.round(rng.uniform(0.05, 2.0, n), 3)
    return high, low, close, volume, atr


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), decimals=st.sampled_from([0, 1, 3]), zero_share=st.sampled_from([0.0, 0.3]),
       n=st.integers(1, 160), lookback=st.sampled_from([1, 5, 12, 30, 72]), order=st.integers(1, 3),
       bins=st.sampled_from([1, 5, 7, 24]), va_share=st.sampled_from([0.5, 0.7, 1.0]))
def test_discover_many_equals_slow_twin_with_ties(seed, decimals, zero_share, n, lookback, order, bins, va_share):
    high, low, close, volume, atr = random_bars(seed, n, decimals, zero_share)
    p = slow.Params(lookback=lookback, pivot_order=order, bins=bins, va_share=va_share)
    assert_twins_agree(high, low, close, volume, atr, p)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), trim=st.floats(0, 1), cluster=st.floats(0, 2), touch=st.floats(0, 1),
       ideal=st.tuples(st.floats(0.5, 10), st.floats(0, 30)), age_full=st.floats(1, 100),
       weights=st.tuples(*[st.floats(0, 50)] * 4))
def test_discover_many_equals_slow_twin_for_any_settings(seed, trim, cluster, touch, ideal, age_full, weights):
    high, low, close, volume, atr = random_bars(seed, 120)
    p = slow.Params(lookback=48, trim_atr=trim, cluster_atr=cluster, touch_atr=touch, ideal_min=ideal[0],
                    ideal_max=ideal[0] + ideal[1], age_full=age_full, w_contain=weights[0], w_touch=weights[1],
                    w_width=weights[2], w_age=weights[3])
    assert_twins_agree(high, low, close, volume, atr, p)


def test_discover_many_equals_slow_twin_on_real_and_synthetic_bars(data_dir):
    from gridregime.analysis.features import compute_features
    from gridregime.collect import SyntheticSource

    t = pq.read_table(data_dir / "ETH-USDT_1h_2021-01-20_2021-04-21.parquet").slice(0, 300)
    end = datetime(2024, 3, 1, tzinfo=UTC)
    s = SyntheticSource(3).fetch_ohlcv("ETH-USDT", "1h", end - timedelta(hours=300), end)
    for table in (t, s):
        h, l, c, v = (np.ascontiguousarray(table.column(k).to_numpy(), dtype=np.float64)
                      for k in ("high", "low", "close", "volume"))
        atr = compute_features(h, l, c)["atr"]
        assert assert_twins_agree(h, l, c, v, atr, slow.Params()) > 250


def test_windows_with_bad_bars_are_flagged_and_the_others_unchanged():
    high, low, close, volume, atr = random_bars(5, 200)
    p = slow.Params(lookback=30)
    clean = K.discover_many(high, low, close, volume, np.arange(200), atr, close - 1, close + 1, fast_params(p))
    close_bad, volume_bad = close.copy(), volume.copy()
    close_bad[50] = np.nan
    volume_bad[150] = -1.0
    found = K.discover_many(high, low, close_bad, volume_bad, np.arange(200), atr, close - 1, close + 1,
                            fast_params(p))
    flagged = np.zeros(200, bool)
    flagged[50:80] = flagged[150:180] = True
    assert (found.status[flagged] == K.BAD_BARS).all() and not found.usable[flagged].any()
    for a, b in zip(found, clean):
        np.testing.assert_array_equal(a[~flagged], b[~flagged])
    assert assert_twins_agree(high, low, close_bad, volume_bad, atr, p, idx=np.arange(0, 200, 7)) > 10


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 120))
def test_property_candidates_stay_in_their_bounds(seed, n):
    """Default weights: quality in [0, 100]; containment in [0, 1]; percentile bounds are the band passed in;
    donchian bounds the trimmed extremes; pivot and value-area bounds bracket price or the window's span."""
    high, low, close, volume, atr = random_bars(seed, n)
    p = slow.Params()
    i = n - 1
    found = K.discover_many(high, low, close, volume, np.array([i]), atr[[i]], close[[i]] - 1, close[[i]] + 1,
                            fast_params(p))
    assert found.status[0] == K.SETTLED
    lo = max(0, i - p.lookback + 1)
    for c in fast_candidates(found, 0):
        assert 0.0 <= c["quality"] <= 100.0 and 0.0 <= c["containment"] <= 1.0
        assert c["lower"] < c["upper"] and c["age"] <= i - lo + 1
        assert c["width_atr"] == pytest.approx((c["upper"] - c["lower"]) / atr[i])
        if c["method"] == "percentile":
            assert (c["lower"], c["upper"]) == (close[i] - 1, close[i] + 1)
        elif c["method"] == "donchian":
            assert c["lower"] == low[lo:].min() + p.trim_atr * atr[i]
            assert c["upper"] == high[lo:].max() - p.trim_atr * atr[i]
        elif c["method"] == "pivots":
            assert c["lower"] <= close[i] <= c["upper"]
        else:
            assert low[lo:].min() <= c["lower"] and c["upper"] <= high[lo:].max()


@given(st.floats(0, 100), st.integers(0, 5), st.integers(0, 5), st.floats(0, 60), st.integers(0, 100))
def test_property_quality_is_the_twins_formula(containment, t_lo, t_hi, width, age):
    p = slow.Params()
    containment /= 100
    assert K.range_quality(containment, t_lo, t_hi, width, age, fast_params(p)) == pytest.approx(
        slow.quality(containment, t_lo, t_hi, width, age, p), rel=1e-12, abs=1e-12)
    assert K.width_suitability(width, fast_params(p)) == slow.width_suitability(width, p)


def test_bad_atr_and_narrow_span_are_flagged():
    high, low, close, volume, atr = random_bars(1, 40)
    params = fast_params(slow.Params(lookback=10))
    found = K.discover_many(high, low, close, volume, np.array([20, 21]), np.array([np.nan, -1.0]),
                            np.ones(2), np.ones(2) * 2, params)
    assert found.status.tolist() == [K.BAD_ATR, K.BAD_ATR]
    flat = np.full(40, 100.0)
    tiny = np.nextafter(flat, np.inf)  # a span of one ulp cannot hold 24 bins of positive width
    found = K.discover_many(tiny, flat, flat, np.ones(40), np.array([30]), np.array([1.0]), np.array([99.0]),
                            np.array([101.0]), K.discovery_params(**dataclasses.asdict(slow.Params())))
    assert found.status.tolist() == [K.NARROW_SPAN]


def test_wrapper_errors_name_the_parameter():
    high, low, close, volume, atr = random_bars(1, 40)
    params = fast_params(slow.Params())
    one = np.ones(1)
    with pytest.raises(InvalidParameterError, match="idx"):
        K.discover_many(high, low, close, volume, np.array([40]), one, one, one, params)
    with pytest.raises(InvalidParameterError, match="idx"):
        K.discover_many(high, low, close, volume, np.array([0.5]), one, one, one, params)
    with pytest.raises(InvalidParameterError, match="equal lengths"):
        K.discover_many(high, low[:-1], close, volume, np.array([3]), one, one, one, params)
    with pytest.raises(InvalidParameterError, match="equal lengths"):
        K.discover_many(high, low, close, volume, np.array([3]), np.ones(2), one, one, params)
    with pytest.raises(InvalidParameterError, match="params"):
        K.discover_many(high, low, close, volume, np.array([3]), one, one, one, {"lookback": 72})
    bad = dataclasses.asdict(slow.Params())
    for name, value in (("lookback", 0), ("va_share", 0.0), ("va_share", 1.5), ("ideal_min", 0.0),
                        ("ideal_max", 1.0), ("age_full", 0.0), ("w_age", -1.0), ("trim_atr", math.nan),
                        ("bins", 2.5)):
        with pytest.raises(InvalidParameterError, match=name):
            K.discovery_params(**{**bad, name: value})
    assert K.measure_range(high, low, close, 5.0, 5.0, 1.0, params) is None
    assert K.measure_range(high, low, close, 1.0, 5.0, 0.0, params) is None
