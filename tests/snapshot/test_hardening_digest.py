"""metadata.content_sha256: the writer fills it, reader (one hour and bulk) and validator check
it when present and name the file; files without it still read, and re-writing the same bars
over such a file counts as unchanged."""
from __future__ import annotations

import hashlib
import struct

import orjson
import pytest

from gridregime.cli import main
from gridregime.snapshot import (
    SnapshotReader,
    SnapshotStorage,
    SnapshotValidationError,
    market_path,
)
from tests.snapshot.fixtures import BTC_1M, build_store, hour_inputs, read_minutes, writable_copy

SYMBOL = "BTC-USDT"


def reference_digest(bars: dict) -> str:
    """The documented canonical form, spelled out independently: int64 LE x5, then float64 LE."""
    out = b"".join(struct.pack(f"<{len(bars[k])}q", *bars[k]) for k in ("ts", "open", "high", "low", "close"))
    out += struct.pack(f"<{len(bars['volume'])}d", *bars["volume"])
    return hashlib.sha256(out).hexdigest()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("digest")
    hours = build_store(root, count=6, history_hours=24)
    return root, hours


@pytest.fixture
def copy(store, tmp_path):
    return writable_copy(store, tmp_path)


def _nudge_close(doc):
    """Move one close by one tick, staying inside its bar's low..high (and not the last bar)."""
    b = doc["bars"]
    for i in range(len(b["close"]) - 1):
        if b["close"][i] < b["high"][i] and b["close"][i] != b["open"][i + 1]:
            b["close"][i] += 1
            return i
    raise AssertionError("no bar to nudge")


def test_item6_writer_fills_the_documented_digest(store):
    root, hours = store
    for tf in ("1m", "1h"):
        doc = orjson.loads(market_path(root, SYMBOL, tf, hours[-1]).read_bytes())
        assert doc["metadata"]["content_sha256"] == reference_digest(doc["bars"])


@pytest.mark.parametrize("timeframe", ["1m", "1h"])
def test_item6_one_tick_within_bounds_is_caught_and_named(copy, capsys, timeframe):
    root, hours = copy
    hour = hours[-1]
    path = market_path(root, SYMBOL, timeframe, hour)
    doc = orjson.loads(path.read_bytes())
    _nudge_close(doc)
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(SnapshotValidationError, match="content_sha256") as info:
        SnapshotReader(root).load_snapshot(SYMBOL, hour)
    assert info.value.path == str(path) and info.value.field == "metadata.content_sha256"
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hour)
    [problem] = [p for p in loaded.problems if p.hour == hour]
    assert problem.kind == "invalid" and "content_sha256" in problem.reason and str(path) in problem.reason
    assert hour not in loaded.hours
    assert main(["validate", str(root)]) == 1
    out = capsys.readouterr().out
    assert "files bad: 1" in out and str(path) in out and "content_sha256" in out


def test_item6_malformed_digest_is_named(copy):
    root, hours = copy
    path = market_path(root, SYMBOL, "1m", hours[-1])
    doc = orjson.loads(path.read_bytes())
    doc["metadata"]["content_sha256"] = "xyz"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(SnapshotValidationError, match="64 lower-case hex digits"):
        SnapshotReader(root).load_snapshot(SYMBOL, hours[-1])
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1])
    assert [p.hour for p in loaded.problems] == [hours[-1]]


def test_item6_files_without_digest_read_the_same_and_rewrite_as_unchanged(copy):
    root, hours = copy
    before = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1])
    for hour in hours:
        for tf in ("1m", "1h"):
            path = market_path(root, SYMBOL, tf, hour)
            doc = orjson.loads(path.read_bytes())
            del doc["metadata"]["content_sha256"]
            path.write_bytes(orjson.dumps(doc))
    after = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1])
    assert after.problems == () and after.hours == before.hours
    assert after.minute.equals(before.minute) and after.hourly.equals(before.hourly)
    snap = SnapshotReader(root).load_snapshot(SYMBOL, hours[-1])
    assert snap.minute.num_rows == 60

    # writing the same bars again over a file without the digest: unchanged, bytes untouched
    minutes = read_minutes(BTC_1M)
    path = market_path(root, SYMBOL, "1m", hours[-1])
    old = path.read_bytes()
    minute, hourly = hour_inputs(minutes, hours[-1], 24)
    result = SnapshotStorage(root, history_hours=24).write_hour(SYMBOL, hours[-1], minute, hourly, source="binance")
    assert result.status == "unchanged" and path.read_bytes() == old
