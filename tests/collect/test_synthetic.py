"""SyntheticSource: determinism, sub-range consistency, OHLC sanity, labels, regime separation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridregime.bars import BARS_SCHEMA, bars_to_numpy
from gridregime.collect.sources import REGIMES, SyntheticSource, open_source
from gridregime.errors import InvalidParameterError
from tests.collect.helpers import assert_frames_equal, frame_of, resample_hourly

UTC = timezone.utc
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def test_is_a_data_source():
    from gridregime.collect.sources import DataSource

    assert isinstance(SyntheticSource(0), DataSource)
    assert SyntheticSource(9).name == "synthetic:9"


def test_same_seed_same_bars_and_other_seed_other_bars():
    a = SyntheticSource(7).fetch_ohlcv("ETH-USDT", "1m", T0, T0 + timedelta(days=2))
    b = SyntheticSource(7).fetch_ohlcv("ETH-USDT", "1m", T0, T0 + timedelta(days=2))
    c = SyntheticSource(8).fetch_ohlcv("ETH-USDT", "1m", T0, T0 + timedelta(days=2))
    d = SyntheticSource(7).fetch_ohlcv("BTC-USDT", "1m", T0, T0 + timedelta(days=2))
    assert a.schema == BARS_SCHEMA
    assert a.equals(b)
    assert not a.column("close").equals(c.column("close"))
    assert not a.column("close").equals(d.column("close"))


@settings(max_examples=10)
@given(
    seed=st.integers(0, 2**31),
    offset=st.integers(0, 3 * 1440 - 1),
    length=st.integers(1, 2 * 1440),
)
def test_sub_ranges_agree_with_the_full_range(seed, offset, length):
    src = SyntheticSource(seed)
    full = src.fetch_ohlcv("SOL-USDT", "1m", T0, T0 + timedelta(days=5))
    start = T0 + timedelta(minutes=offset)
    part = SyntheticSource(seed).fetch_ohlcv("SOL-USDT", "1m", start, start + timedelta(minutes=length))
    assert part.equals(full.slice(offset, length))


def test_hourly_bars_are_the_pandas_resample_of_the_minutes():
    src = SyntheticSource(3)
    start, end = T0 + timedelta(minutes=30), T0 + timedelta(days=3, minutes=30)
    minutes = frame_of(src.fetch_ohlcv("ETH-USDT", "1m", T0, end))
    hourly = frame_of(src.fetch_ohlcv("ETH-USDT", "1h", start, end))
    expected = resample_hourly(minutes)
    expected = expected[(expected.index >= start) & (expected.index < end)]
    assert_frames_equal(hourly, expected, rtol=1e-12)


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**31),
    symbol=st.sampled_from(["ETH-USDT", "BTC-USDT", "XRP-USDT", "FOO-BAR"]),
    day=st.integers(0, 365 * 8),
    minute=st.integers(0, 1439),
    length=st.integers(1, 3 * 1440),
)
def test_ohlc_sanity(seed, symbol, day, minute, length):
    src = SyntheticSource(seed)
    start = datetime(2017, 1, 1, tzinfo=UTC) + timedelta(days=day, minutes=minute)
    t = bars_to_numpy(src.fetch_ohlcv(symbol, "1m", start, start + timedelta(minutes=length)))
    assert t["ts"].size == length
    assert np.all(np.diff(t["ts"]) == 60_000)
    assert t["ts"][0] == int(start.timestamp() * 1000)
    o, h, l, c, v = t["open"], t["high"], t["low"], t["close"], t["volume"]
    for arr in (o, h, l, c, v):
        assert np.all(np.isfinite(arr))
    assert np.all(l > 0)
    assert np.all(v >= 0)
    assert np.all(h >= np.maximum(o, c))
    assert np.all(l <= np.minimum(o, c))
    assert np.all(o[1:] == c[:-1])  # each minute opens at the previous close
    inv = round(1 / src.tick_for(symbol))
    for arr in (o, h, l, c):
        assert np.array_equal(np.round(arr * inv) / inv, arr)  # on the tick, exactly


def test_labels_cover_every_hour_and_use_the_four_regimes():
    src = SyntheticSource(0)
    start, end = datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 7, 1, tzinfo=UTC)
    labels = src.labels("ETH-USDT", start, end)
    ts = labels.column("ts").cast(pa.int64()).to_numpy()
    expected = np.arange(int(start.timestamp()) * 1000, int(end.timestamp()) * 1000, 3_600_000)
    assert np.array_equal(ts, expected)
    regimes = set(labels.column("regime").to_pylist())
    assert regimes == set(REGIMES)
    # sub-range labels agree, and a range starting mid-hour begins at the next hour
    part = src.labels("ETH-USDT", start + timedelta(minutes=90), start + timedelta(hours=30))
    assert part.column("ts")[0].as_py() == start + timedelta(hours=2)
    assert part.column("regime").to_pylist() == labels.column("regime").to_pylist()[2:30]


def _features(hourly: pd.DataFrame) -> pd.DataFrame:
    """SPEC §5-style features computed independently with pandas."""
    c = hourly["close"]
    prev = c.shift()
    tr = pd.concat([hourly["high"], prev], axis=1).max(axis=1) - pd.concat([hourly["low"], prev], axis=1).min(axis=1)
    atr = tr.ewm(alpha=1 / 14, adjust=False).mean()
    er = (c - c.shift(24)).abs() / c.diff().abs().rolling(24).sum()
    side = np.sign(c - c.rolling(48).mean())
    crossings = (side != side.shift()).astype(float).rolling(48).sum()
    lr = np.log(c).diff()
    vol_ratio = lr.rolling(24).std() / lr.rolling(168).std()
    move_atr = (c - c.shift(24)).abs() / atr
    return pd.DataFrame({"er": er, "crossings": crossings, "vol_ratio": vol_ratio, "move_atr": move_atr,
                         "natr": tr / c})


@pytest.mark.parametrize("seed", [0, 1])
def test_regimes_are_distinguishable_by_the_features(seed):
    src = SyntheticSource(seed)
    start, end = datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)
    hourly = frame_of(src.fetch_ohlcv("ETH-USDT", "1h", start, end))
    labels = src.labels("ETH-USDT", start, end).to_pandas().set_index("ts")["regime"]
    f = _features(hourly).join(labels)
    # judge an hour only when the whole 48 h window behind it is one regime (24 h for short regimes)
    settled48 = f["regime"].eq(f["regime"].shift(47)) & f["regime"].eq(f["regime"].shift(24))
    settled24 = f["regime"].eq(f["regime"].shift(23)) & f["regime"].eq(f["regime"].shift(12))
    rng = f[settled48 & (f["regime"] == "range")]
    trend = f[settled24 & f["regime"].isin(["trend_up", "trend_down"])]
    jump = f[f["regime"].eq(f["regime"].shift(5)) & (f["regime"] == "transition")]
    assert len(rng) > 500 and len(trend) > 100 and len(jump) > 50
    assert rng["crossings"].median() >= 6  # a range keeps crossing its mid-line
    assert rng["er"].median() < 0.25
    assert trend["er"].median() > 0.7  # a trend is efficient ...
    assert trend["move_atr"].median() > 5  # ... and moves several ATR a day
    # a transition is a volatility jump: bars 2.5-4x wider than in a range
    assert jump["natr"].median() > 2.5 * rng["natr"].median()
    assert rng["vol_ratio"].median() < 1.0 < jump["vol_ratio"].median()


def test_sixty_days_of_minutes():
    t = SyntheticSource(5).fetch_ohlcv("ETH-USDT", "1m", T0, T0 + timedelta(days=60))
    assert t.num_rows == 60 * 1440


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"seed": -1}, "seed"), ({"base_price": 0.0}, "base_price"), ({"tick": 0.03}, "tick"),
     ({"hourly_vol": 0.5}, "hourly_vol"), ({"half_life_hours": 0.0}, "half_life_hours")],
)
def test_bad_parameters_are_named(kwargs, name):
    with pytest.raises(InvalidParameterError, match=name):
        SyntheticSource(**kwargs)


def test_bad_requests_are_named():
    src = SyntheticSource(0)
    with pytest.raises(InvalidParameterError, match="timeframe"):
        src.fetch_ohlcv("ETH-USDT", "5m", T0, T0 + timedelta(hours=1))
    with pytest.raises(InvalidParameterError, match="end"):
        src.fetch_ohlcv("ETH-USDT", "1m", T0, T0)
    with pytest.raises(InvalidParameterError, match="symbol"):
        src.fetch_ohlcv("../etc", "1m", T0, T0 + timedelta(hours=1))
    with pytest.raises(InvalidParameterError, match="start/end"):
        src.fetch_ohlcv("ETH-USDT", "1m", datetime(2010, 1, 1, tzinfo=UTC), T0)


def test_open_source_synthetic_seed():
    assert open_source("synthetic:42").seed == 42
    assert open_source("synthetic").seed == 0
    with pytest.raises(InvalidParameterError, match="source"):
        open_source("synthetic:x")
