"""Range-discovery primitives against slow twins, pandas/numpy peers and their defining properties."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridregime.kernels import (
    cluster_levels,
    fractal_pivots,
    rolling_quantile_band,
    touch_counts,
    value_area,
    volume_profile,
)
from tests.reference import ranges as slow

TIE_POOL = [-1.0, 0.0, -0.0, 0.25, 1.0, 2.0, math.nan]


@st.composite
def series(draw, max_size: int = 200, allow_nan: bool = True) -> np.ndarray:
    n = draw(st.integers(0, max_size))
    if draw(st.booleans()):
        pool = TIE_POOL if allow_nan else [v for v in TIE_POOL if not math.isnan(v)]
        values = np.array(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)))
    else:
        seed = draw(st.integers(0, 2**32 - 1))
        values = np.cumsum(np.random.default_rng(seed).standard_normal(n))
        if allow_nan and n and draw(st.booleans()):
            start = draw(st.integers(0, n - 1))
            values[start : start + draw(st.integers(1, 30))] = math.nan
    offset = draw(st.sampled_from([0.0, 1e9]))
    return values + offset if offset else values  # adding 0.0 would turn -0.0 into 0.0


@st.composite
def bars(draw, max_size: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) with high >= low, from a seeded random walk, rounded so ties happen."""
    n = draw(st.integers(0, max_size))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    decimals = draw(st.sampled_from([0, 1, 3]))
    mid = np.round(np.cumsum(rng.standard_normal(n)), decimals)
    half = np.round(np.abs(rng.standard_normal(n)), decimals)
    return mid + half, mid - half


# ---------------------------------------------------------------- rolling_quantile_band


@given(data=st.data())
def test_quantile_band_equals_twin_and_pandas(data):
    x = data.draw(series())
    window = data.draw(st.integers(1, len(x) + 10))
    min_periods = data.draw(st.integers(1, window))
    lower_q = data.draw(st.sampled_from([0.0, 0.1, 0.25, 0.5]))
    upper_q = data.draw(st.sampled_from([0.5, 0.75, 0.9, 1.0]))
    lo, hi = rolling_quantile_band(x, window, lower_q, upper_q, min_periods=min_periods)
    twin_lo, twin_hi = slow.rolling_quantile_band(x, window, lower_q, upper_q, min_periods=min_periods)
    np.testing.assert_array_equal(lo, twin_lo)
    np.testing.assert_array_equal(hi, twin_hi)
    rolling = pd.Series(x).rolling(window, min_periods=min_periods)
    scale = max(1.0, float(np.nanmax(np.abs(x)))) if np.isfinite(x).any() else 1.0
    np.testing.assert_allclose(lo, rolling.quantile(lower_q).to_numpy(), rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(hi, rolling.quantile(upper_q).to_numpy(), rtol=0, atol=1e-12 * scale)
    assert (np.isnan(lo) | (lo <= hi)).all()


@pytest.mark.parametrize("window", [24, 72])
def test_quantile_band_real_closes_match_pandas(data_dir, window):
    close = pq.read_table(data_dir / "ETH-USDT_1m_2021-04-19_2021-04-21.parquet").column("close").to_numpy()
    lo, hi = rolling_quantile_band(close, window)
    rolling = pd.Series(close).rolling(window)
    np.testing.assert_allclose(lo, rolling.quantile(0.10).to_numpy(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(hi, rolling.quantile(0.90).to_numpy(), rtol=1e-12, atol=0)


def test_quantile_band_rejects_bad_parameters():
    with pytest.raises(ValueError, match="lower_q: must be between 0.0 and 1.0"):
        rolling_quantile_band([1.0, 2.0], 2, -0.1, 0.9)
    with pytest.raises(ValueError, match="lower_q: must be <= upper_q=0.2"):
        rolling_quantile_band([1.0, 2.0], 2, 0.5, 0.2)
    with pytest.raises(ValueError, match="window: must be >= 1"):
        rolling_quantile_band([1.0, 2.0], 0)


# ---------------------------------------------------------------- fractal_pivots


@given(hl=bars(), order=st.integers(1, 4))
def test_fractal_pivots_equal_twin(hl, order):
    high, low = hl
    fast_high, fast_low = fractal_pivots(high, low, order)
    twin_high, twin_low = slow.fractal_pivots(high, low, order)
    assert fast_high.dtype == np.bool_ and fast_low.dtype == np.bool_
    np.testing.assert_array_equal(fast_high, twin_high)
    np.testing.assert_array_equal(fast_low, twin_low)


@given(hl=bars(), order=st.integers(1, 4))
def test_property_pivot_high_is_strict_max_of_its_neighbourhood(hl, order):
    high, low = hl
    pivot_high, pivot_low = fractal_pivots(high, low, order)
    n = len(high)
    for i in range(n):
        inside = order <= i < n - order
        if inside:
            hood = np.r_[high[i - order : i], high[i + 1 : i + order + 1]]
            strict_max = bool((high[i] > hood).all())
            hood_low = np.r_[low[i - order : i], low[i + 1 : i + order + 1]]
            strict_min = bool((low[i] < hood_low).all())
        else:
            strict_max = strict_min = False  # not confirmable
        assert pivot_high[i] == strict_max
        assert pivot_low[i] == strict_min


def test_fractal_pivots_real_bars(data_dir):
    table = pq.read_table(data_dir / "ETH-USDT_1h_2021-01-20_2021-04-21.parquet")
    high, low = table.column("high").to_numpy(), table.column("low").to_numpy()
    fast_high, fast_low = fractal_pivots(high, low, 2)
    twin_high, twin_low = slow.fractal_pivots(high, low, 2)
    np.testing.assert_array_equal(fast_high, twin_high)
    np.testing.assert_array_equal(fast_low, twin_low)
    assert fast_high.any() and fast_low.any()
    assert not (fast_high[-2:].any() or fast_low[-2:].any())


def test_fractal_pivots_nan_never_qualifies():
    high = np.array([1.0, 2.0, 5.0, np.nan, 1.0, 0.0, 0.0])
    pivot_high, _ = fractal_pivots(high, high, 1)
    assert not pivot_high[2] and not pivot_high[3]
    with pytest.raises(ValueError, match="order: must be >= 1"):
        fractal_pivots(high, high, 0)
    with pytest.raises(ValueError, match="high=7, low=2"):
        fractal_pivots(high, [1.0, 2.0])


# ---------------------------------------------------------------- cluster_levels


@given(
    prices=st.lists(
        st.one_of(st.floats(0, 100, allow_nan=False), st.sampled_from([1.0, 1.5, math.nan, math.inf])),
        max_size=80,
    ),
    tolerance=st.sampled_from([0.0, 0.1, 0.5, 2.0, 50.0]),
)
def test_property_cluster_levels(prices, tolerance):
    centers, counts = cluster_levels(prices, tolerance)
    finite = sorted(p for p in prices if math.isfinite(p))
    assert counts.dtype == np.int64 and counts.sum() == len(finite)
    twin_centers, twin_counts = slow.cluster_levels(prices, tolerance)
    np.testing.assert_array_equal(counts, twin_counts)
    np.testing.assert_allclose(centers, twin_centers, rtol=1e-12, atol=1e-12)
    start = 0
    previous_last = None
    for center, count in zip(centers, counts):
        members = finite[start : start + count]
        start += count
        # every member within tolerance of its neighbour; the center lies among them
        assert all(b - a <= tolerance for a, b in itertools.pairwise(members))
        assert members[0] - 1e-9 <= center <= members[-1] + 1e-9
        # clusters separated by more than the tolerance
        if previous_last is not None:
            assert members[0] - previous_last > tolerance
        previous_last = members[-1]


def test_cluster_levels_real_pivots(data_dir):
    table = pq.read_table(data_dir / "ETH-USDT_1h_2021-01-20_2021-04-21.parquet")
    high, low = table.column("high").to_numpy(), table.column("low").to_numpy()
    pivot_high, pivot_low = fractal_pivots(high, low, 2)
    levels = np.r_[high[pivot_high], low[pivot_low]]
    centers, counts = cluster_levels(levels, 10.0)
    twin_centers, twin_counts = slow.cluster_levels(levels, 10.0)
    np.testing.assert_array_equal(counts, twin_counts)
    np.testing.assert_allclose(centers, twin_centers, rtol=1e-12)
    assert counts.sum() == len(levels) and (np.diff(centers) > 10.0).all()


def test_cluster_levels_rejects_negative_tolerance():
    with pytest.raises(ValueError, match="tolerance: must be between 0.0 and None"):
        cluster_levels([1.0], -1.0)
    assert [len(a) for a in cluster_levels([], 1.0)] == [0, 0]


# ---------------------------------------------------------------- touch_counts


@given(hl=bars(), offsets=st.tuples(st.floats(-3, 3), st.floats(-3, 3)), tolerance=st.sampled_from([0.0, 0.1, 1.0]))
def test_touch_counts_equal_twin(hl, offsets, tolerance):
    high, low = hl
    lower, upper = sorted(offsets)
    n_lower, n_upper = touch_counts(high, low, lower, upper, tolerance)
    assert (n_lower, n_upper) == slow.touch_counts(high, low, lower, upper, tolerance)
    assert isinstance(n_lower, int) and isinstance(n_upper, int)
    # an episode needs at least one touching bar, and episodes are separated by a gap
    touching = (low <= lower + tolerance) & (high >= lower - tolerance)
    assert n_lower <= touching.sum() and n_lower <= (len(high) + 1) // 2
    assert (n_lower == 0) == (not touching.any())


def test_touch_counts_episodes():
    # lower bound 10: bars 0-1 touch (one episode), bar 2 is away, bars 3 and 5 touch again
    high = np.array([11.0, 10.5, 15.0, 10.05, 14.0, 12.0, 20.0])
    low = np.array([9.0, 9.8, 12.0, 9.0, 11.0, 9.95, 19.0])
    assert touch_counts(high, low, 10.0, 20.0, 0.1) == (3, 1)


def test_touch_counts_real_bars(data_dir):
    table = pq.read_table(data_dir / "BTC-USDT_1m_2025-06-01_2025-06-03.parquet")
    high, low, close = (table.column(c).to_numpy() for c in ("high", "low", "close"))
    lower, upper = np.quantile(close, [0.1, 0.9])
    assert touch_counts(high, low, lower, upper, 5.0) == slow.touch_counts(high, low, lower, upper, 5.0)


# ---------------------------------------------------------------- volume_profile and value_area


@st.composite
def profile_inputs(draw):
    n = draw(st.integers(1, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    price = np.round(100 + np.cumsum(rng.standard_normal(n)), draw(st.sampled_from([0, 2])))
    integer_volumes = draw(st.booleans())  # integer volumes make every summation order exact
    volume = rng.integers(0, 50, n).astype(float) if integer_volumes else rng.exponential(10.0, n)
    if draw(st.booleans()):
        lo, hi = float(price.min()), float(price.max())
        if lo == hi:
            hi = lo + 1.0
    else:
        lo, hi = sorted(draw(st.tuples(st.floats(90, 110), st.floats(90, 110))))
        if hi - lo < 0.5:  # bins must have a positive width (see the error test below)
            hi = lo + 0.5
    return price, volume, lo, hi, draw(st.integers(1, 40)), integer_volumes


@given(args=profile_inputs(), share=st.sampled_from([0.3, 0.5, 0.7, 0.95, 1.0]))
def test_property_volume_profile_and_value_area(args, share):
    price, volume, lo, hi, bins, integer_volumes = args
    edges, per_bin = volume_profile(price, volume, lo, hi, bins)
    twin_edges, twin_per_bin = slow.volume_profile(price, volume, lo, hi, bins)
    np.testing.assert_array_equal(edges, twin_edges)
    np.testing.assert_array_equal(per_bin, twin_per_bin)
    np.testing.assert_allclose(per_bin, np.histogram(price, bins, (lo, hi), weights=volume)[0], rtol=1e-12, atol=1e-9)
    inside = (price >= lo) & (price <= hi)
    assert math.isclose(per_bin.sum(), volume[inside].sum(), rel_tol=1e-12, abs_tol=1e-9)  # conserved

    poc, va_low, va_high = value_area(edges, per_bin, share)
    if not per_bin.sum() > 0:
        assert math.isnan(poc) and math.isnan(va_low) and math.isnan(va_high)
        return
    poc_bin = int(np.searchsorted(edges, poc) - 1)
    assert per_bin[poc_bin] == per_bin.max()  # the POC bin has the most volume
    assert va_low <= poc <= va_high  # the value area contains the POC
    a, b = int(np.searchsorted(edges, va_low)), int(np.searchsorted(edges, va_high))
    assert edges[a] == va_low and edges[b] == va_high
    assert per_bin[a:b].sum() >= share * per_bin.sum() * (1 - 1e-12)  # holds at least the share
    if integer_volumes:
        assert (poc, va_low, va_high) == slow.value_area(edges, per_bin, share)


def test_volume_profile_refuses_bins_without_width():
    with pytest.raises(ValueError, match="hi: too close to lo"):
        volume_profile(np.array([100.0]), np.array([1.0]), 90.0, 90.00000000000001, 2)


def test_volume_profile_real_bars(data_dir):
    table = pq.read_table(data_dir / "ETH-USDT_1m_2021-04-19_2021-04-21.parquet")
    close, volume = table.column("close").to_numpy(), table.column("volume").to_numpy()
    edges, per_bin = volume_profile(close, volume, close.min(), close.max(), 48)
    _, twin = slow.volume_profile(close, volume, close.min(), close.max(), 48)
    np.testing.assert_array_equal(per_bin, twin)
    assert math.isclose(per_bin.sum(), volume.sum(), rel_tol=1e-12)
    poc, va_low, va_high = value_area(edges, per_bin, 0.7)
    assert close.min() <= va_low <= poc <= va_high <= close.max()


def test_volume_profile_and_value_area_reject_bad_input():
    with pytest.raises(ValueError, match="hi: must be greater than lo=2.0"):
        volume_profile([1.0], [1.0], 2.0, 2.0, 5)
    with pytest.raises(ValueError, match="volume: must be >= 0"):
        volume_profile([1.0], [-1.0], 0.0, 2.0, 5)
    with pytest.raises(ValueError, match="bins: must be >= 1"):
        volume_profile([1.0], [1.0], 0.0, 2.0, 0)
    with pytest.raises(ValueError, match="edges: expected len"):
        value_area([0.0, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="share: must be greater than 0"):
        value_area([0.0, 1.0], [1.0], 0.0)
    assert all(math.isnan(v) for v in value_area([0.0, 1.0, 2.0], [0.0, 0.0]))
