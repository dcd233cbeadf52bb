"""Overlapping 1h files are compared: validate names both files of a mismatch, the bulk reader
(batch) reports every hour whose history would use a disputed bar, and an overwrite carries the
new bar into the later 1h files that hold it (or refuses, saying why)."""
from __future__ import annotations

from datetime import timedelta

import orjson
import pyarrow as pa
import pytest

from gridregime.bars import bars_table, bars_to_numpy
from gridregime.cli import main
from gridregime.snapshot import (
    SnapshotConflictError,
    SnapshotReader,
    SnapshotStorage,
    market_path,
)
from gridregime.snapshot.audit import audit_store
from gridregime.timeutil import to_ms
from tests.snapshot.fixtures import (
    BTC_1M,
    build_store,
    hour_inputs,
    read_minutes,
    redigest,
    writable_copy,
)

SYMBOL = "BTC-USDT"
HISTORY = 24


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("overlap")
    hours = build_store(root, first=30, count=8, history_hours=HISTORY)
    return root, hours


@pytest.fixture
def copy(store, tmp_path):
    return writable_copy(store, tmp_path)


def _tamper_bar(root, file_hour, bar_hour):
    """Raise the high of ``bar_hour`` inside the 1h file of ``file_hour`` (digest recomputed: the
    file alone stays valid)."""
    path = market_path(root, SYMBOL, "1h", file_hour)
    doc = orjson.loads(path.read_bytes())
    i = doc["bars"]["ts"].index(to_ms(bar_hour))
    doc["bars"]["high"][i] += 1
    path.write_bytes(orjson.dumps(redigest(doc)))
    return path


def test_item4_validate_compares_consecutive_1h_files(copy, capsys):
    root, hours = copy
    path = _tamper_bar(root, hours[4], hours[2])
    code = main(["validate", str(root)])
    out = capsys.readouterr().out
    assert code == 1
    bad = [line for line in out.splitlines() if "overlapping 1h files must agree" in line]
    assert bad, out
    neighbours = {str(market_path(root, SYMBOL, "1h", h)) for h in (hours[3], hours[5])}
    assert any(str(path) in line and any(n in line for n in neighbours) for line in bad)
    assert "bars.high" in bad[0]


def test_item4_history_bar_tampered_in_newest_file_is_reported_not_used(copy):
    root, hours = copy
    start = hours[3]
    disputed = hours[1]  # history only: before the range
    path = _tamper_bar(root, hours[-1], disputed)
    loaded = SnapshotReader(root).load_range(SYMBOL, start, hours[-1], history_hours=HISTORY)
    assert loaded.hours == ()  # every hour's window holds the disputed bar
    reasons = {p.hour: p.reason for p in loaded.problems}
    assert set(reasons) == set(hours[3:])
    assert all(str(path) in r and "disagrees" in r for r in reasons.values())
    own = str(market_path(root, SYMBOL, "1h", disputed))
    assert own in reasons[hours[-1]]


def test_item4_disputed_bar_only_affects_hours_whose_window_holds_it(copy):
    root, hours = copy
    _tamper_bar(root, hours[-1], hours[1])
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[2], hours[-1], history_hours=3)
    # with 3-hour windows only hours[2] and hours[3] hold the bar
    assert {p.hour for p in loaded.problems} == set(hours[2:4])
    assert loaded.hours == tuple(hours[4:])


def _corrected(hour):
    minutes = read_minutes(BTC_1M)
    cols = bars_to_numpy(minutes)
    i = int((cols["ts"] == to_ms(hour) + 60_000 * 7).nonzero()[0][0])
    cols["volume"] = cols["volume"].copy()
    cols["volume"][i] += 1.5
    fixed = bars_table(cols["ts"], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"])
    return hour_inputs(fixed, hour, HISTORY)


def test_item4_overwrite_carries_the_new_bar_into_later_files(copy):
    root, hours = copy
    hour = hours[2]
    minute, hourly = _corrected(hour)
    result = SnapshotStorage(root, history_hours=HISTORY).write_hour(
        SYMBOL, hour, minute, hourly, source="binance", collected_at=hour + timedelta(hours=1, seconds=4),
        overwrite=True)
    assert result.status == "written"
    assert set(result.updated) == {market_path(root, SYMBOL, "1h", h) for h in hours[3:]}
    assert audit_store(root).ok
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1], history_hours=HISTORY)
    assert loaded.problems == () and loaded.hours == tuple(hours)
    new_volume = float(hourly.column("volume")[-1].as_py())
    for h in hours[3:]:
        doc = orjson.loads(market_path(root, SYMBOL, "1h", h).read_bytes())
        assert doc["bars"]["volume"][doc["bars"]["ts"].index(to_ms(hour))] == new_volume


def test_item4_overwrite_refuses_when_a_later_file_cannot_be_updated(copy):
    root, hours = copy
    hour = hours[2]
    later = market_path(root, SYMBOL, "1h", hours[5])
    later.unlink()
    later.mkdir()
    before = market_path(root, SYMBOL, "1h", hour).read_bytes()
    minute, hourly = _corrected(hour)
    with pytest.raises(SnapshotConflictError, match="cannot carry the overwritten bar") as info:
        SnapshotStorage(root, history_hours=HISTORY).write_hour(
            SYMBOL, hour, minute, hourly, source="binance", overwrite=True)
    assert str(later) in str(info.value)
    assert market_path(root, SYMBOL, "1h", hour).read_bytes() == before  # nothing written
    assert isinstance(hourly, pa.Table)
