"""Property 76: a write/read round trip is lossless at tick scale (1m and 1h files)."""
from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from gridregime.bars import bars_to_numpy
from gridregime.snapshot import (
    SnapshotReader,
    SnapshotStorage,
    infer_price_scale,
    market_path,
)
from tests.snapshot.strategies import (
    collected,
    decimals,
    history_times,
    hours,
    minute_times,
    symbols,
    tick_bars,
    to_table,
)


def _assert_same_bars(actual: pa.Table, expected: pa.Table) -> None:
    a, e = bars_to_numpy(actual), bars_to_numpy(expected)
    for name in e:
        np.testing.assert_array_equal(a[name], e[name], err_msg=name)  # exact, not approximate
    assert actual.schema == expected.schema


@settings(max_examples=40)
@given(symbol=symbols, hour=hours, d=decimals, minute_ints=tick_bars(60),
       history=st.integers(1, 40), gaps=st.lists(st.integers(1, 60), max_size=5),
       data=st.data())
def test_property_76_round_trip_is_lossless(tmp_path_factory, symbol, hour, d, minute_ints, history, gaps, data):
    scale = 10**d
    root = tmp_path_factory.mktemp("rt")
    minute = to_table(minute_times(hour), minute_ints, scale)
    # history: random earlier bars, and hour H = the aggregate of the minute bars (cross-file rule)
    earlier = data.draw(tick_bars(history - 1), label="earlier")
    o, h, lo, c, v = minute_ints
    last = (np.array([o[0]]), np.array([h.max()]), np.array([lo.min()]), np.array([c[-1]]),
            np.array([math.fsum(v)]))
    hourly_ints = tuple(np.concatenate([a, b]) for a, b in zip(earlier, last))
    ts_1h = history_times(hour, history, gaps)
    hourly = to_table(ts_1h, hourly_ints, scale)

    storage = SnapshotStorage(root)
    result = storage.write_hour(symbol, hour, minute, hourly, source="test", price_scale=scale,
                                collected_at=collected(hour))
    assert result.status == "written"

    snap = SnapshotReader(root).load_snapshot(symbol, hour)
    _assert_same_bars(snap.minute, minute)
    _assert_same_bars(snap.hourly, hourly)
    assert snap.price_scale == scale
    # the stored integers are exactly the generated ticks
    doc = orjson.loads(market_path(root, symbol, "1m", hour).read_bytes())
    assert doc["bars"]["close"] == c.tolist() and doc["bars"]["low"] == lo.tolist()
    # gaps of the history are reported, never filled
    span = (int(ts_1h[-1]) - int(ts_1h[0])) // 3_600_000
    expected_gaps = [hour - timedelta(hours=k) for k in sorted(set(gaps), reverse=True) if k < span]
    assert list(snap.hourly_gaps) == expected_gaps

    # the bulk reader returns the same bars
    loaded = SnapshotReader(root).load_range(symbol, hour, hour)
    assert loaded.problems == ()
    _assert_same_bars(loaded.minute, minute)
    _assert_same_bars(loaded.hourly, hourly)


@settings(max_examples=40)
@given(hour=hours, d=decimals, ints=tick_bars(60, max_int=10**9))
def test_property_76_inferred_scale_is_lossless(tmp_path_factory, hour, d, ints):
    scale = 10**d
    minute = to_table(minute_times(hour), ints, scale)
    inferred = infer_price_scale(minute)
    assert inferred >= 100 and inferred <= max(scale, 100)
    root = tmp_path_factory.mktemp("inf")
    storage = SnapshotStorage(root)
    storage.write_market("ETH-USDT", "1m", hour, minute, source="test", collected_at=collected(hour))
    doc = orjson.loads(market_path(root, "ETH-USDT", "1m", hour).read_bytes())
    assert doc["metadata"]["price_scale"] == inferred
    back = np.array(doc["bars"]["open"]) / inferred
    np.testing.assert_array_equal(back, bars_to_numpy(minute)["open"])
