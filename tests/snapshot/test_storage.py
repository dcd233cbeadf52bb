"""Writer behaviour: immutability, overwrite, validation before writing, paths, scales."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import pyarrow as pa
import pytest

from gridregime.bars import bars_table, bars_to_numpy
from gridregime.errors import InvalidParameterError
from gridregime.snapshot import (
    SnapshotConflictError,
    SnapshotReader,
    SnapshotStorage,
    SnapshotValidationError,
    infer_price_scale,
    market_path,
)
from gridregime.snapshot.paths import analysis_path, summary_path
from tests.snapshot.fixtures import complete_hours, hour_inputs, read_minutes

SYMBOL = "BTC-USDT"


@pytest.fixture(scope="module")
def minutes():
    return read_minutes()


@pytest.fixture(scope="module")
def hour(minutes):
    return complete_hours(minutes)[30]


@pytest.fixture()
def inputs(minutes, hour):
    return hour_inputs(minutes, hour, 24)


def _collected(hour):
    return hour + timedelta(hours=1, seconds=4)


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def _with_volume(table: pa.Table, factor: float) -> pa.Table:
    c = bars_to_numpy(table)
    return bars_table(c["ts"], c["open"], c["high"], c["low"], c["close"], c["volume"] * factor)


def test_write_hour_layout_and_status(tmp_path, hour, inputs):
    storage = SnapshotStorage(tmp_path)
    result = storage.write_hour(SYMBOL, hour, *inputs, source="binance", collected_at=_collected(hour))
    assert result.status == "written"
    d = f"{hour:%Y/%m/%d/%H}"
    assert [str(p) for p in _files(tmp_path)] == [f"{d}/{SYMBOL}_1h.json", f"{d}/{SYMBOL}_1m.json"]
    assert result.paths == (tmp_path / d / f"{SYMBOL}_1m.json", tmp_path / d / f"{SYMBOL}_1h.json")


def test_identical_rewrite_is_a_no_op(tmp_path, hour, inputs):
    storage = SnapshotStorage(tmp_path)
    storage.write_hour(SYMBOL, hour, *inputs, source="binance")  # collected_at = now
    before = {p: (tmp_path / p).read_bytes() for p in _files(tmp_path)}
    mtimes = {p: (tmp_path / p).stat().st_mtime_ns for p in before}
    again = storage.write_hour(SYMBOL, hour, *inputs, source="binance")  # reuses the stored collected_at
    assert again.status == "unchanged"
    assert {p: (tmp_path / p).read_bytes() for p in _files(tmp_path)} == before
    assert {p: (tmp_path / p).stat().st_mtime_ns for p in before} == mtimes


def test_encoding_is_deterministic(tmp_path, hour, inputs):
    a, b = SnapshotStorage(tmp_path / "a"), SnapshotStorage(tmp_path / "b")
    for s in (a, b):
        s.write_hour(SYMBOL, hour, *inputs, source="binance", collected_at=_collected(hour))
    for tf in ("1m", "1h"):
        assert market_path(a.root, SYMBOL, tf, hour).read_bytes() == market_path(b.root, SYMBOL, tf, hour).read_bytes()


def test_different_content_is_refused_unless_overwrite(tmp_path, hour, inputs):
    storage = SnapshotStorage(tmp_path)
    storage.write_hour(SYMBOL, hour, *inputs, source="binance", collected_at=_collected(hour))
    before = {p: (tmp_path / p).read_bytes() for p in _files(tmp_path)}
    changed = (_with_volume(inputs[0], 2.0), _with_volume(inputs[1], 2.0))
    with pytest.raises(SnapshotConflictError, match="_1m.json"):
        storage.write_hour(SYMBOL, hour, *changed, source="binance", collected_at=_collected(hour))
    with pytest.raises(SnapshotConflictError):
        storage.write_market(SYMBOL, "1h", hour, changed[1], source="binance", collected_at=_collected(hour))
    assert {p: (tmp_path / p).read_bytes() for p in _files(tmp_path)} == before
    result = storage.write_hour(SYMBOL, hour, *changed, source="binance", collected_at=_collected(hour),
                                overwrite=True)
    assert result.status == "written"
    snap = SnapshotReader(tmp_path).load_snapshot(SYMBOL, hour)
    np.testing.assert_array_equal(bars_to_numpy(snap.minute)["volume"], bars_to_numpy(changed[0])["volume"])


def test_conflict_in_second_file_writes_nothing(tmp_path, hour, inputs):
    storage = SnapshotStorage(tmp_path)
    storage.write_market(SYMBOL, "1h", hour, inputs[1], source="binance", collected_at=_collected(hour))
    before = _files(tmp_path)
    with pytest.raises(SnapshotConflictError, match="_1h.json"):
        storage.write_hour(SYMBOL, hour, inputs[0], _with_volume(inputs[1], 3.0), source="binance",
                           collected_at=_collected(hour))
    assert _files(tmp_path) == before  # the valid, new 1m file was not written either


@pytest.mark.parametrize("which", ["minute", "hourly", "cross"])
def test_write_hour_writes_nothing_when_a_file_is_invalid(tmp_path, hour, inputs, which):
    minute, hourly = inputs
    c = bars_to_numpy(minute)
    if which == "minute":  # 59 bars
        minute = minute.slice(0, 59)
    elif which == "hourly":  # a high below the close
        h = {k: v.copy() for k, v in bars_to_numpy(hourly).items()}
        h["high"][0] = h["close"][0] - 1
        hourly = bars_table(*(h[k] for k in ("ts", "open", "high", "low", "close", "volume")))
    else:  # each file valid alone, the hourly bar disagrees with the minutes
        minute = bars_table(c["ts"], c["open"], c["high"], c["low"], c["close"], c["volume"] * 1.5)
    with pytest.raises(SnapshotValidationError) as info:
        SnapshotStorage(tmp_path).write_hour(SYMBOL, hour, minute, hourly, source="binance",
                                             collected_at=_collected(hour))
    assert str(tmp_path) in str(info.value)
    assert _files(tmp_path) == []


def test_write_market_checks_existing_sibling(tmp_path, hour, inputs):
    storage = SnapshotStorage(tmp_path)
    storage.write_market(SYMBOL, "1h", hour, inputs[1], source="binance", collected_at=_collected(hour))
    with pytest.raises(SnapshotValidationError, match="bars.volume"):
        storage.write_market(SYMBOL, "1m", hour, _with_volume(inputs[0], 2.0), source="binance",
                             collected_at=_collected(hour))
    assert not market_path(tmp_path, SYMBOL, "1m", hour).exists()


@pytest.mark.parametrize("symbol", ["../ETH-USDT", "ETH/USDT", "eth-usdt", "ETH-USDT/../../x", "", "ETH-USDT\0",
                                    "..", "ETH_USDT", None, 5])
def test_path_like_symbols_are_rejected_before_any_path(tmp_path, hour, inputs, symbol):
    storage = SnapshotStorage(tmp_path / "root")
    with pytest.raises(InvalidParameterError, match="symbol"):
        storage.write_hour(symbol, hour, *inputs, source="binance")
    with pytest.raises(InvalidParameterError, match="symbol"):
        storage.write_analysis(symbol, hour, {"a": 1})
    with pytest.raises(InvalidParameterError, match="symbol"):
        SnapshotReader(tmp_path).load_range(symbol, hour, hour)
    assert list(tmp_path.rglob("*")) == []


def test_hour_must_be_on_the_hour(tmp_path, hour, inputs):
    with pytest.raises(InvalidParameterError, match="hour"):
        SnapshotStorage(tmp_path).write_hour(SYMBOL, hour + timedelta(minutes=5), *inputs, source="binance")


def test_unrepresentable_price_is_refused(tmp_path, hour, inputs):
    minute, hourly = inputs
    with pytest.raises(SnapshotValidationError, match="not representable"):
        SnapshotStorage(tmp_path).write_hour(SYMBOL, hour, minute, hourly, source="binance", price_scale=1,
                                             collected_at=_collected(hour))
    assert _files(tmp_path) == []


def test_price_scale_resolution_order(tmp_path, hour, inputs):
    # explicit > price_scales[symbol] > inferred (the data has cents: inferred 100)
    assert infer_price_scale(inputs[0]) == 100
    cases = [({}, None, 100), ({SYMBOL: 10_000}, None, 10_000), ({SYMBOL: 10_000}, 1000, 1000)]
    for i, (scales, explicit, expected) in enumerate(cases):
        root = tmp_path / str(i)
        SnapshotStorage(root, price_scales=scales).write_hour(SYMBOL, hour, *inputs, source="binance",
                                                              price_scale=explicit, collected_at=_collected(hour))
        for tf in ("1m", "1h"):
            assert orjson.loads(market_path(root, SYMBOL, tf, hour).read_bytes())["metadata"]["price_scale"] == expected
    with pytest.raises(InvalidParameterError, match="price_scale"):
        SnapshotStorage(tmp_path / "x").write_hour(SYMBOL, hour, *inputs, source="binance", price_scale=250)


def test_infer_price_scale_smallest_power():
    def table(prices):
        p = np.array(prices, dtype=np.float64)
        return bars_table(np.arange(len(p)) * 60_000, p, p, p, p, np.ones(len(p)))

    assert infer_price_scale(table([1.0, 2.0])) == 100
    assert infer_price_scale(table([1.0, 2.0]), minimum=1) == 1
    assert infer_price_scale(table([0.123, 2.5])) == 1000
    assert infer_price_scale(table([0.00001234])) == 10**8
    with pytest.raises(InvalidParameterError, match="price"):
        infer_price_scale(table([1 / 3]))
    with pytest.raises(InvalidParameterError, match="finite"):
        infer_price_scale(table([np.nan]))


def test_history_is_cut_to_history_hours(tmp_path, minutes, hour):
    minute, hourly = hour_inputs(minutes, hour, 30)
    SnapshotStorage(tmp_path, history_hours=7).write_hour(SYMBOL, hour, minute, hourly, source="binance",
                                                          collected_at=_collected(hour))
    snap = SnapshotReader(tmp_path).load_snapshot(SYMBOL, hour)
    assert snap.hourly.num_rows == 7
    assert snap.hourly.equals(hourly.slice(hourly.num_rows - 7))


def test_current_hour_cannot_be_stored_before_it_closes(tmp_path, hour, inputs):
    with pytest.raises(SnapshotValidationError, match="collected_at"):
        SnapshotStorage(tmp_path).write_hour(SYMBOL, hour, *inputs, source="binance",
                                             collected_at=hour + timedelta(minutes=30))


def test_analysis_and_summary_files(tmp_path, hour):
    storage = SnapshotStorage(tmp_path)
    p = storage.write_analysis(SYMBOL, hour, {"verdict": "RANGE_OK", "score": 0.5})
    assert p == analysis_path(tmp_path, SYMBOL, hour) and p.name == f"{SYMBOL}_regime.json"
    storage.write_analysis(SYMBOL, hour, b'{"verdict": "TREND"}')  # may overwrite
    assert SnapshotReader(tmp_path).load_analysis(SYMBOL, hour) == {"verdict": "TREND"}
    assert SnapshotReader(tmp_path).load_analysis(SYMBOL, hour + timedelta(hours=1)) is None
    with pytest.raises(InvalidParameterError, match="payload"):
        storage.write_analysis(SYMBOL, hour, b"[1, 2")
    s = storage.write_summary(SYMBOL, hour, "verdict: RANGE_OK\n")
    assert s == summary_path(tmp_path, SYMBOL, hour)
    assert s.name == f"{hour:%H}_{SYMBOL}.yaml" and s.parent == tmp_path / f"{hour:%Y/%m/%d}"
    assert s.read_text() == "verdict: RANGE_OK\n"
    p.write_bytes(b"{trunc")
    with pytest.raises(SnapshotValidationError, match="regime.json"):
        SnapshotReader(tmp_path).load_analysis(SYMBOL, hour)
