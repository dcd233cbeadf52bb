"""Rolling percentile rank: fast kernel == brute-force twin == pandas, bit for bit."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridregime.kernels import percentile_rank_last, rolling_percentile_rank
from tests.reference import rank as slow

TIE_POOL = [-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0, math.nan]


@st.composite
def series(draw, max_size: int = 260) -> np.ndarray:
    """Series with ties, NaN runs, flat stretches, infinities and large offsets."""
    n = draw(st.integers(0, max_size))
    kind = draw(st.sampled_from(["ties", "floats", "walk"]))
    if kind == "ties":
        values = np.array(draw(st.lists(st.sampled_from(TIE_POOL), min_size=n, max_size=n)))
    elif kind == "floats":
        element = st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.floats(allow_nan=False),  # extremes and subnormals too
            st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
        )
        values = np.array(draw(st.lists(element, min_size=n, max_size=n)), dtype=np.float64)
    else:
        seed = draw(st.integers(0, 2**32 - 1))
        values = np.round(np.cumsum(np.random.default_rng(seed).standard_normal(n)), 1)
    for _ in range(draw(st.integers(0, 3))):  # flat stretches and NaN runs
        if n == 0:
            break
        start = draw(st.integers(0, n - 1))
        length = draw(st.integers(1, 40))
        values[start : start + length] = draw(st.sampled_from([1.5, math.nan]))
    offset = draw(st.sampled_from([0.0, 0.0, 1e9]))
    return values + offset if offset else values  # adding 0.0 would turn -0.0 into 0.0


@st.composite
def window_args(draw, n: int) -> tuple[int, int]:
    window = draw(st.one_of(st.integers(1, 8), st.integers(1, max(1, n + 20))))
    min_periods = draw(st.integers(1, window))
    return window, min_periods


def pandas_rank(x: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    return pd.Series(x).rolling(window, min_periods=min_periods).rank(pct=True).to_numpy()


@given(data=st.data())
def test_rolling_rank_equals_twin_and_pandas(data):
    x = data.draw(series())
    window, min_periods = data.draw(window_args(len(x)))
    fast = rolling_percentile_rank(x, window, min_periods)
    assert fast.dtype == np.float64 and fast.shape == x.shape
    np.testing.assert_array_equal(fast, slow.rolling_percentile_rank(x, window, min_periods))
    np.testing.assert_array_equal(fast, pandas_rank(x, window, min_periods))


@given(x=series())
def test_rolling_rank_values_in_unit_interval_and_nan_where_input_missing(x):
    out = rolling_percentile_rank(x, 30, 1)
    present = np.isfinite(x)
    assert np.array_equal(np.isnan(out), ~present)
    assert ((out[present] > 0) & (out[present] <= 1)).all()


@given(x=series(max_size=120), min_periods=st.integers(1, 5))
def test_percentile_rank_last_equals_twin_and_rolling(x, min_periods):
    fast = percentile_rank_last(x, min_periods)
    assert isinstance(fast, float)
    expected = slow.percentile_rank_last(x, min_periods)
    assert fast == expected or (math.isnan(fast) and math.isnan(expected))
    if len(x) >= min_periods:
        whole = rolling_percentile_rank(x, len(x), min_periods)[-1]
        assert fast == whole or (math.isnan(fast) and math.isnan(whole))


@pytest.mark.parametrize("window", [49, 97, 500, 1500, 4999])
def test_rolling_rank_many_blocks_equals_pandas(window):
    # long series cross many block boundaries and take the radix-sort path (blocks > 48)
    rng = np.random.default_rng(window)
    x = np.round(rng.standard_normal(5000) * 20) + 1e9
    x[rng.random(5000) < 0.05] = np.nan
    x[1000:1300] = np.nan
    x[2000:2600] = 1e9
    min_periods = max(1, window // 3)
    np.testing.assert_array_equal(
        rolling_percentile_rank(x, window, min_periods), pandas_rank(x, window, min_periods)
    )


def test_rolling_rank_long_window_equals_pandas():
    # the long window, over several blocks of 43,200, with ties and a NaN gap
    rng = np.random.default_rng(43_200)
    x = np.round(30_000 + np.cumsum(rng.standard_normal(150_000) * 5), 1)
    x[rng.integers(0, len(x), 150)] = np.nan
    x[60_000:61_000] = np.nan
    np.testing.assert_array_equal(rolling_percentile_rank(x, 43_200, 168), pandas_rank(x, 43_200, 168))


@given(
    scales=st.lists(st.sampled_from([1e-12, 1e-6, 1e-3, 1.0, 1e3, 1e9]), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
    window=st.sampled_from([60, 150, 400]),
)
def test_rolling_rank_multiscale_clusters_equal_pandas(scales, seed, window):
    # values clustered at several scales at once drive the block sort into its recursive path
    rng = np.random.default_rng(seed)
    x = sum(scale * rng.integers(0, 3, 900) for scale in scales) * rng.choice([-1.0, 1.0])
    np.testing.assert_array_equal(rolling_percentile_rank(x, window, 1), pandas_rank(x, window, 1))


def test_rolling_rank_real_hourly_closes_match_pandas(data_dir):
    import pyarrow.parquet as pq

    table = pq.read_table(data_dir / "ETH-USDT_1h_2021-01-20_2021-04-21.parquet")
    close = table.column("close").to_numpy()
    volume = table.column("volume").to_numpy()
    for x in (close, volume, np.round(close, -1)):  # the rounded closes have many ties
        np.testing.assert_array_equal(rolling_percentile_rank(x, 720, 168), pandas_rank(x, 720, 168))
        assert percentile_rank_last(x, 168) == pandas_rank(x, len(x), 168)[-1]


def test_rolling_rank_real_minute_closes_match_pandas(data_dir):
    import pyarrow.parquet as pq

    close = pq.read_table(data_dir / "BTC-USDT_1m_2025-06-01_2025-06-03.parquet").column("close").to_numpy()
    for window in (60, 1440):
        np.testing.assert_array_equal(
            rolling_percentile_rank(close, window), pandas_rank(close, window, window)
        )


def test_rolling_rank_byte_swapped_strided_and_read_only_inputs():
    rng = np.random.default_rng(3)
    x = np.round(rng.standard_normal(400), 1)
    expected = pandas_rank(x, 50, 10)
    swapped = x.astype(x.dtype.newbyteorder(">" if x.dtype.byteorder in "=<" else "<"))
    strided = np.repeat(x, 2)[::2]
    read_only = x.copy()
    read_only.setflags(write=False)
    for variant in (swapped, strided, read_only, x.astype(np.float32).astype(np.float64)):
        expected_variant = pandas_rank(np.asarray(variant, float), 50, 10)
        np.testing.assert_array_equal(rolling_percentile_rank(variant, 50, 10), expected_variant)
    np.testing.assert_array_equal(rolling_percentile_rank(strided, 50, 10), expected)


def test_rolling_rank_accepts_lists_and_integers():
    np.testing.assert_array_equal(rolling_percentile_rank([3, 1, 2], 2, 1), [1.0, 0.5, 1.0])
    assert rolling_percentile_rank([], 5).shape == (0,)
    assert math.isnan(percentile_rank_last([]))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"window": 0}, ValueError, "window: must be >= 1"),
        ({"window": 2.5}, TypeError, "window: expected an integer"),
        ({"window": 3, "min_periods": 4}, ValueError, "min_periods: must be between 1 and window=3"),
        ({"window": 3, "min_periods": 0}, ValueError, "min_periods"),
    ],
)
def test_rolling_rank_rejects_bad_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        rolling_percentile_rank(np.arange(5.0), **kwargs)


def test_rank_inputs_rejected_with_names():
    with pytest.raises(ValueError, match="x: expected a 1-D array"):
        rolling_percentile_rank(np.zeros((2, 2)), 2)
    with pytest.raises(TypeError, match="x: expected numbers"):
        percentile_rank_last(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="min_periods: must be >= 1"):
        percentile_rank_last([1.0], 0)
