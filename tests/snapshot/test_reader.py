"""load_range against independent paths: per-hour load_snapshot and the source candles."""
from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest

import gridregime.snapshot.history as history_module
from gridregime.bars import aggregate_hourly, bars_to_numpy, slice_time
from gridregime.errors import InvalidParameterError
from gridregime.snapshot import (
    SnapshotNotFoundError,
    SnapshotReader,
    SnapshotValidationError,
    market_path,
)
from gridregime.snapshot.fileio import read_snapshot_bytes
from gridregime.timeutil import HOUR_MS, to_ms
from tests.snapshot.fixtures import ETH_1M, build_store, read_minutes, redigest

SYMBOL = "BTC-USDT"


@pytest.fixture(scope="module")
def short_history(tmp_path_factory):
    """24 hours, 10-hour history per 1h file: the range needs several 1h files."""
    root = tmp_path_factory.mktemp("short")
    return root, build_store(root, first=0, count=24, history_hours=10)


@pytest.fixture(scope="module")
def long_history(tmp_path_factory):
    """24 hours starting a day in, 48-hour history: one 1h file covers the range."""
    root = tmp_path_factory.mktemp("long")
    return root, build_store(root, first=24, count=24, history_hours=48)


@pytest.fixture()
def copy_of(tmp_path):
    def make(store):
        root, hours = store
        shutil.copytree(root, tmp_path / "s")
        return tmp_path / "s", hours
    return make


def _count_1h_reads(monkeypatch) -> list:
    seen = []
    real = history_module.read_market_file

    def counting(path, **kw):
        if kw.get("timeframe") == "1h":
            seen.append(path)
        return real(path, **kw)

    monkeypatch.setattr(history_module, "read_market_file", counting)
    return seen


def _by_hour_concat(reader, hours):
    return pa.concat_tables([reader.load_snapshot(SYMBOL, h).minute for h in hours])


def test_range_equals_per_hour_snapshots_and_source(long_history, monkeypatch):
    root, hours = long_history
    reader = SnapshotReader(root)
    reads = _count_1h_reads(monkeypatch)
    loaded = reader.load_range(SYMBOL, hours[0], hours[-1])
    # the newest 1h file holds the whole range: the history comes from it alone; then every
    # other hour's own 1h file is validated once (the rules validate applies)
    assert Path(reads[0]).parent.name == f"{hours[-1].hour:02d}"
    assert sorted(map(str, reads)) == sorted(str(market_path(root, SYMBOL, "1h", h)) for h in hours)
    monkeypatch.undo()
    assert loaded.problems == () and list(loaded.hours) == hours
    assert loaded.minute.equals(_by_hour_concat(reader, hours))
    assert loaded.hourly.equals(reader.load_snapshot(SYMBOL, hours[-1]).hourly)
    # and against the candles the store was built from
    src = read_minutes()
    start, end = to_ms(hours[0]), to_ms(hours[-1]) + HOUR_MS
    assert loaded.minute.equals(slice_time(src, start, end))
    expected_hourly, _ = aggregate_hourly(slice_time(src, end - 48 * HOUR_MS, end))
    np.testing.assert_array_equal(bars_to_numpy(loaded.hourly)["ts"], bars_to_numpy(expected_hourly)["ts"])
    for col in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(bars_to_numpy(loaded.hourly)[col], bars_to_numpy(expected_hourly)[col])
    np.testing.assert_allclose(bars_to_numpy(loaded.hourly)["volume"], bars_to_numpy(expected_hourly)["volume"],
                               rtol=1e-12)


def test_history_merged_from_few_1h_files(short_history, monkeypatch):
    root, hours = short_history
    reads = _count_1h_reads(monkeypatch)
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1])
    # 24 hours with 10 hours per file: files at hour 23 (14..23), 13 (4..13), 3 (0..3)
    assert [Path(p).parent.name for p in reads[:3]] == [f"{hours[i].hour:02d}" for i in (23, 13, 3)]
    assert len(reads) == len(set(map(str, reads))) == 24  # then each other hour's own file, once
    assert loaded.problems == ()
    src = read_minutes()
    expected, _ = aggregate_hourly(slice_time(src, to_ms(hours[0]), to_ms(hours[-1]) + HOUR_MS))
    got, want = bars_to_numpy(loaded.hourly), bars_to_numpy(expected)
    for col in ("ts", "open", "high", "low", "close"):
        np.testing.assert_array_equal(got[col], want[col])
    np.testing.assert_allclose(got["volume"], want["volume"], rtol=1e-12)
    # an independent merge of the per-hour snapshots' histories
    reader = SnapshotReader(root)
    merged = {}
    for h in hours:
        for row in reader.load_snapshot(SYMBOL, h).hourly.to_pylist():
            merged.setdefault(row["ts"], row)
    assert loaded.hourly.to_pylist() == [merged[k] for k in sorted(merged)]


@pytest.fixture()
def damaged(long_history, copy_of):
    root, hours = copy_of(long_history)
    market_path(root, SYMBOL, "1m", hours[3]).unlink()                  # missing minute file
    market_path(root, SYMBOL, "1h", hours[5]).unlink()                  # missing hourly file
    p = market_path(root, SYMBOL, "1m", hours[8])                       # truncated
    p.write_bytes(p.read_bytes()[:100])
    p = market_path(root, SYMBOL, "1m", hours[11])                      # negative price
    doc = orjson.loads(p.read_bytes())
    doc["bars"]["open"][0] = -doc["bars"]["open"][0]
    p.write_bytes(orjson.dumps(doc))
    return root, hours


def test_problems_are_collected_with_reasons(damaged):
    root, hours = damaged
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1])
    got = {(p.hour, p.kind) for p in loaded.problems}
    assert got == {(hours[3], "missing"), (hours[5], "missing"), (hours[8], "invalid"), (hours[11], "invalid")}
    reasons = {p.hour: p.reason for p in loaded.problems}
    assert "_1m.json" in reasons[hours[3]] and "_1h.json" in reasons[hours[5]]
    assert "<document>" in reasons[hours[8]] and "bars.open" in reasons[hours[11]]
    good = [h for h in hours if h not in {hours[3], hours[5], hours[8], hours[11]}]
    assert list(loaded.hours) == good
    assert loaded.minute.equals(_by_hour_concat(SnapshotReader(root), good))


def test_strict_raises_on_the_first_problem(damaged):
    root, hours = damaged
    reader = SnapshotReader(root)
    with pytest.raises(SnapshotNotFoundError, match="_1m.json"):
        reader.load_range(SYMBOL, hours[0], hours[-1], strict=True)
    with pytest.raises(SnapshotValidationError, match="<document>"):
        reader.load_range(SYMBOL, hours[6], hours[-1], strict=True)
    assert reader.load_range(SYMBOL, hours[12], hours[-1], strict=True).problems == ()


def test_conflicting_1h_files_are_reported(short_history, copy_of):
    root, hours = copy_of(short_history)
    # without the 1h file at hour 13 the reader takes the one at 14 (5..14), overlapping hour 14
    market_path(root, SYMBOL, "1h", hours[13]).unlink()
    p = market_path(root, SYMBOL, "1h", hours[23])
    doc = orjson.loads(p.read_bytes())
    assert doc["bars"]["ts"][0] == to_ms(hours[14])
    doc["bars"]["high"][0] += 1  # still a valid file on its own (not its last bar)
    p.write_bytes(orjson.dumps(redigest(doc)))
    SnapshotReader(root).load_snapshot(SYMBOL, hours[23])  # the file alone validates
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1])
    problems = {p.hour: p for p in loaded.problems}
    assert problems[hours[13]].kind == "missing"
    assert problems[hours[14]].kind == "invalid" and "bars.high" in problems[hours[14]].reason
    assert "disagrees" in problems[hours[14]].reason
    with pytest.raises(SnapshotValidationError):
        SnapshotReader(root).load_range(SYMBOL, hours[14], hours[-1], strict=True)


def test_hourly_gaps_from_an_exchange_halt(tmp_path):
    # ETH-USDT 2021-04-20: minutes 02:00-04:29 missing, so hours 02 and 03 have no hourly bar
    hours = build_store(tmp_path, symbol="ETH-USDT", source_file=ETH_1M, first=0, count=60, history_hours=100)
    reader = SnapshotReader(tmp_path)
    after = next(h for h in hours if h.day == 20 and h.hour >= 5)
    snap = reader.load_snapshot("ETH-USDT", after)
    assert [g.hour for g in snap.hourly_gaps] == [2, 3]
    loaded = reader.load_range("ETH-USDT", hours[0], hours[-1])
    missing = [p.hour for p in loaded.problems]
    assert [h.hour for h in missing] == [2, 3, 4] and all(p.kind == "missing" for p in loaded.problems)
    ts = bars_to_numpy(loaded.hourly)["ts"]
    assert not np.isin([to_ms(m) for m in missing[:2]], ts).any()  # gaps stay gaps


def test_listing(long_history, short_history):
    root, hours = long_history
    reader = SnapshotReader(root)
    assert reader.symbols() == [SYMBOL]
    assert reader.hours(SYMBOL) == hours
    assert reader.hours(SYMBOL, hours[2], hours[5]) == hours[2:6]
    assert reader.hours("ETH-USDT") == []
    assert SnapshotReader(root / "nowhere").symbols() == []


def test_bad_range_arguments(long_history):
    root, hours = long_history
    with pytest.raises(InvalidParameterError, match="end"):
        SnapshotReader(root).load_range(SYMBOL, hours[5], hours[2])
    with pytest.raises(InvalidParameterError, match="start"):
        SnapshotReader(root).load_range(SYMBOL, hours[0] + timedelta(minutes=1), hours[2])


def test_empty_range(tmp_path):
    loaded = SnapshotReader(tmp_path).load_range(SYMBOL, "2024-01-01T00:00Z", "2024-01-01T02:00Z")
    assert loaded.minute.num_rows == 0 and loaded.hourly.num_rows == 0 and loaded.hours == ()
    assert [p.kind for p in loaded.problems] == ["missing"] * 3


def test_mixed_price_scales_load_identically(tmp_path):
    hours = build_store(tmp_path / "a", count=6, history_hours=6)
    build_store(tmp_path / "b", count=6, history_hours=6, price_scale=10**6)
    # mix: even hours from store b
    for i, h in enumerate(hours):
        if i % 2 == 0:
            for tf in ("1m", "1h"):
                src = market_path(tmp_path / "b", SYMBOL, tf, h)
                shutil.copy(src, market_path(tmp_path / "a", SYMBOL, tf, h))
    a = SnapshotReader(tmp_path / "a").load_range(SYMBOL, hours[0], hours[-1])
    b = SnapshotReader(tmp_path / "b").load_range(SYMBOL, hours[0], hours[-1])
    assert a.problems == () and a.minute.equals(b.minute)


def test_validate_false_skips_rules_but_not_structure(long_history, copy_of):
    root, hours = copy_of(long_history)
    p = market_path(root, SYMBOL, "1m", hours[2])
    doc = orjson.loads(p.read_bytes())
    doc["bars"]["low"][0] = doc["bars"]["high"][0] + 1  # breaks OHLC sanity only
    p.write_bytes(orjson.dumps(doc))
    t = market_path(root, SYMBOL, "1m", hours[3])
    t.write_bytes(t.read_bytes()[:-5])  # not JSON at all
    lenient = SnapshotReader(root, validate=False).load_range(SYMBOL, hours[0], hours[5])
    assert [p.hour for p in lenient.problems] == [hours[3]]
    assert hours[2] in lenient.hours
    strict = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[5])
    assert [p.hour for p in strict.problems] == [hours[2], hours[3]]


def test_history_hours_reaches_back_before_start(short_history, monkeypatch):
    root, hours = short_history
    reader = SnapshotReader(root)
    plain = reader.load_range(SYMBOL, hours[12], hours[23])
    assert bars_to_numpy(plain.hourly)["ts"][0] <= to_ms(hours[12])
    reads = _count_1h_reads(monkeypatch)
    loaded = reader.load_range(SYMBOL, hours[12], hours[23], history_hours=10)
    ts = bars_to_numpy(loaded.hourly)["ts"]
    # the first hour's own 10-hour history (hours 3..12) is included, and nothing is missing
    assert ts[0] == to_ms(hours[3])
    np.testing.assert_array_equal(ts, [to_ms(h) for h in hours[3:24]])
    assert [Path(p).parent.name for p in reads[:3]] == [f"{hours[i].hour:02d}" for i in (23, 13, 12)]
    assert len(reads) == len(set(map(str, reads))) == 12  # then each other hour's own file, once
    monkeypatch.undo()
    assert loaded.minute.equals(plain.minute) and loaded.problems == ()
    first = reader.load_snapshot(SYMBOL, hours[12]).hourly
    assert loaded.hourly.slice(0, first.num_rows).equals(first)
    with pytest.raises(InvalidParameterError, match="history_hours"):
        reader.load_range(SYMBOL, hours[12], hours[23], history_hours=0)


@pytest.mark.parametrize("size", [0, 10, (1 << 16) - 1, 1 << 16, (1 << 16) + 1, 3 << 20])
def test_read_file_returns_whole_file(tmp_path, size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = tmp_path / "f"
    path.write_bytes(data)
    assert read_snapshot_bytes(str(path)) == data


def test_load_snapshot_missing_file_names_it(long_history, copy_of):
    root, hours = copy_of(long_history)
    gone = market_path(root, SYMBOL, "1h", hours[1])
    gone.unlink()
    with pytest.raises(SnapshotNotFoundError, match=str(gone)):
        SnapshotReader(root).load_snapshot(SYMBOL, hours[1])
    with pytest.raises(SnapshotNotFoundError, match="_1m.json"):
        SnapshotReader(root).load_snapshot(SYMBOL, hours[-1] + timedelta(hours=5))
