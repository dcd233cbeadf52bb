"""import_snapshots on the real halt slice, history seeding, idempotence, price scale."""
from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta, timezone

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridregime.collect import ImportReport, InMemorySource, SkippedHour, SyntheticSource, import_snapshots
from gridregime.collect.sources import ParquetDirSource
from gridregime.errors import InvalidParameterError
from gridregime.snapshot import SnapshotReader, SnapshotStorage
from tests.collect.helpers import (
    BTC_1M,
    HALT_1M,
    HISTORY_1H,
    assert_frames_equal,
    frame_of,
    ms_index,
    read_frame,
    resample_hourly,
)

UTC = timezone.utc
START = datetime(2021, 4, 19, tzinfo=UTC)
END = datetime(2021, 4, 22, tzinfo=UTC)
HALT = {datetime(2021, 4, 20, 2, tzinfo=UTC): 60, datetime(2021, 4, 20, 3, tzinfo=UTC): 60,
        datetime(2021, 4, 20, 4, tzinfo=UTC): 30}


class OnlyMinutes:
    """The halt slice's minutes without its sibling 1h file (so history comes from minutes)."""

    name = "test-minutes"

    def __init__(self, data_dir):
        self._src = ParquetDirSource(data_dir)
        self.calls = 0

    def fetch_ohlcv(self, symbol, timeframe, start, end):
        assert timeframe == "1m"
        self.calls += 1
        return self._src.fetch_ohlcv(symbol, timeframe, start, end)


@pytest.fixture(scope="module")
def halt_import(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("store")
    source = OnlyMinutes(data_dir)
    report = import_snapshots(source, "ETH-USDT", START, END, SnapshotStorage(root), history_hours=48)
    return root, report, source


def test_halt_hours_are_skipped_with_missing_minute_counts(halt_import):
    root, report, source = halt_import
    assert source.calls == 1  # the source is read once for the whole range
    assert {s.hour: s.missing_minutes for s in report.skipped} == HALT
    assert len(report.written) == 72 - 3 and report.unchanged == ()
    assert set(report.written) | set(HALT) == {START + timedelta(hours=i) for i in range(72)}
    assert report.gaps == (datetime(2021, 4, 20, 2, tzinfo=UTC), datetime(2021, 4, 20, 3, tzinfo=UTC))
    assert report.price_scale == 100
    text = report.summary()
    assert "69 written" in text and "2021-04-20T04:00:00Z (30 min missing)" in text


def test_every_written_hour_validates_and_matches_pandas(halt_import):
    root, report, _ = halt_import
    minutes = read_frame(HALT_1M)
    hourly = resample_hourly(minutes)
    reader = SnapshotReader(root, validate=True)
    assert reader.hours("ETH-USDT") == sorted(report.written)
    for hour in report.written:
        snap = reader.load_snapshot("ETH-USDT", hour)
        ts = pd.Timestamp(hour)
        in_hour = (minutes.index >= ts) & (minutes.index < ts + pd.Timedelta("1h"))
        assert_frames_equal(frame_of(snap.minute), minutes[in_hour])
        window = hourly[(hourly.index > ts - pd.Timedelta("48h")) & (hourly.index <= ts)]
        assert_frames_equal(frame_of(snap.hourly), window, rtol=1e-12)
        assert snap.price_scale == 100 and snap.source == "test-minutes"


def test_reimport_is_unchanged(halt_import, data_dir):
    root, first, _ = halt_import
    again = import_snapshots(OnlyMinutes(data_dir), "ETH-USDT", START, END, SnapshotStorage(root), history_hours=48)
    assert again.written == () and again.unchanged == first.written
    assert again.skipped == first.skipped


def test_history_is_seeded_from_the_hourly_source(data_dir, tmp_path):
    source = ParquetDirSource(data_dir)
    start = datetime(2021, 4, 20, 5, tzinfo=UTC)
    report = import_snapshots(source, "ETH-USDT", start, start + timedelta(hours=3), SnapshotStorage(tmp_path),
                              history_source=source, history_hours=200)
    assert report.written == tuple(start + timedelta(hours=i) for i in range(3))
    snap = SnapshotReader(tmp_path).load_snapshot("ETH-USDT", start)
    got = frame_of(snap.hourly)
    ts = pd.Timestamp(start)
    first_minute = pd.Timestamp("2021-04-19T00:00Z")
    hist = read_frame(HISTORY_1H)
    expected = pd.concat([
        hist[(hist.index > ts - pd.Timedelta("200h")) & (hist.index < first_minute)],
        resample_hourly(read_frame(HALT_1M)).loc[first_minute:ts],
    ])
    assert_frames_equal(got, expected, rtol=1e-12)
    assert len(got) == 198  # 200 hours, minus the two halted hours that stay gaps
    assert pd.Timestamp("2021-04-20T02:00Z") not in got.index


def test_minutes_only_history_without_seed(data_dir, tmp_path):
    start = datetime(2021, 4, 19, 3, tzinfo=UTC)
    import_snapshots(OnlyMinutes(data_dir), "ETH-USDT", start, start + timedelta(hours=1), SnapshotStorage(tmp_path))
    snap = SnapshotReader(tmp_path).load_snapshot("ETH-USDT", start)
    assert len(snap.hourly) == 4  # 00:00..03:00: less history exists, nothing invented


def test_earlier_minutes_seed_the_history_and_later_ones_never_do(data_dir, tmp_path):
    """Without a history source, a range that starts a day into the minutes gets its hourly history
    from the source's earlier minutes, and no hour's history holds a bar after that hour."""
    start = datetime(2021, 4, 20, 12, tzinfo=UTC)
    import_snapshots(OnlyMinutes(data_dir), "ETH-USDT", start, start + timedelta(hours=3), SnapshotStorage(tmp_path))
    minutes = read_frame(HALT_1M)
    for k in range(3):
        hour = start + timedelta(hours=k)
        snap = SnapshotReader(tmp_path).load_snapshot("ETH-USDT", hour)
        ts = snap.hourly.column("ts").to_pylist()
        assert ts[0] == datetime(2021, 4, 19, tzinfo=UTC) and ts[-1] == hour  # reaches back, never forward
        expected = resample_hourly(minutes[minutes.index < pd.Timestamp(hour + timedelta(hours=1))])
        assert_frames_equal(frame_of(snap.hourly), expected)


def test_synthetic_import_with_five_decimals_is_lossless(tmp_path):
    src = SyntheticSource(4)  # XRP: base price 0.5, tick 1e-5
    start = datetime(2024, 5, 1, tzinfo=UTC)
    report = import_snapshots(src, "XRP-USDT", start, start + timedelta(hours=4), SnapshotStorage(tmp_path),
                              history_source=src, history_hours=30)
    assert report.price_scale == 100_000 and len(report.written) == 4
    reader = SnapshotReader(tmp_path)
    for hour in report.written:
        snap = reader.load_snapshot("XRP-USDT", hour)
        assert snap.minute.equals(src.fetch_ohlcv("XRP-USDT", "1m", hour, hour + timedelta(hours=1)))
        expected = src.fetch_ohlcv("XRP-USDT", "1h", hour - timedelta(hours=29), hour + timedelta(hours=1))
        assert_frames_equal(frame_of(snap.hourly), frame_of(expected), rtol=1e-12)
    doc = json.loads(next(tmp_path.rglob("XRP-USDT_1m.json")).read_text())
    assert doc["metadata"]["price_scale"] == 100_000


def test_report_counts_and_types(halt_import):
    _, report, _ = halt_import
    assert isinstance(report, ImportReport)
    assert all(isinstance(s, SkippedHour) for s in report.skipped)
    assert report.hours == 72 and report.elapsed >= 0
    d = orjson.loads(orjson.dumps(report.to_dict()))
    assert d["skipped"][2] == {"hour": "2021-04-20T04:00:00Z", "missing_minutes": 30}
    assert len(d["written"]) == 69 and d["gaps"] == ["2021-04-20T02:00:00Z", "2021-04-20T03:00:00Z"]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"start": "2021-04-19T00:30Z"}, "start"),
        ({"end": "2021-04-18T00:00Z"}, "end"),
        ({"symbol": "eth"}, "symbol"),
        ({"history_hours": 0}, "history_hours"),
        ({"source": object()}, "source"),
    ],
)
def test_bad_arguments_are_named(kwargs, name, data_dir, tmp_path):
    args = {"source": ParquetDirSource(data_dir), "symbol": "ETH-USDT", "start": START, "end": END}
    args.update(kwargs)
    with pytest.raises(InvalidParameterError, match=name):
        import_snapshots(args.pop("source"), args.pop("symbol"), args.pop("start"), args.pop("end"),
                         SnapshotStorage(tmp_path), **args)
    assert not any(tmp_path.rglob("*.json"))


def test_different_content_is_refused_unless_overwrite(data_dir, tmp_path):
    from gridregime.snapshot import SnapshotConflictError

    start = datetime(2021, 4, 19, 5, tzinfo=UTC)
    storage = SnapshotStorage(tmp_path)
    first = import_snapshots(OnlyMinutes(data_dir), "ETH-USDT", start, start + timedelta(hours=2), storage,
                             history_hours=3)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.json")}
    with pytest.raises(SnapshotConflictError, match="ETH-USDT_1h.json"):
        import_snapshots(OnlyMinutes(data_dir), "ETH-USDT", start, start + timedelta(hours=2), storage,
                         history_hours=5)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.json")} == before
    again = import_snapshots(OnlyMinutes(data_dir), "ETH-USDT", start, start + timedelta(hours=2), storage,
                             history_hours=5, overwrite=True)
    assert again.written == first.written
    assert len(SnapshotReader(tmp_path).load_snapshot("ETH-USDT", start).hourly) == 5


@settings(max_examples=15)
@given(holes=st.lists(st.tuples(st.integers(0, 599), st.integers(1, 130)), max_size=4))
def test_property_79_random_holes_are_reported_and_history_matches_pandas(holes):
    """Any pattern of missing minutes: incomplete hours are skipped with their exact missing
    count, complete hours are written and their history is pandas' resample of what remains."""
    minutes = read_frame(BTC_1M).iloc[:600]  # 2025-06-01 00:00 .. 09:59, no gaps
    keep = np.ones(len(minutes), dtype=bool)
    for first, length in holes:
        keep[first:first + length] = False
    kept = minutes[keep]
    table = pa.table({"ts": ms_index(kept), **{c: kept[c].to_numpy() for c in kept.columns}})
    source = InMemorySource("BTC-USDT", table)
    start, end = pd.Timestamp("2025-06-01T04:00Z"), pd.Timestamp("2025-06-01T10:00Z")
    counts = kept["open"].resample("1h").count().reindex(pd.date_range(minutes.index[0], periods=10, freq="1h"),
                                                         fill_value=0)
    with tempfile.TemporaryDirectory() as root:
        report = import_snapshots(source, "BTC-USDT", start, end, SnapshotStorage(root), history_hours=5)
        in_range = counts[(counts.index >= start) & (counts.index < end)]
        assert {s.hour: s.missing_minutes for s in report.skipped} == {
            h.to_pydatetime(): 60 - int(n) for h, n in in_range.items() if n < 60}
        assert list(report.written) == [h.to_pydatetime() for h, n in in_range.items() if n == 60]
        present = counts[(counts.index > start - pd.Timedelta("5h")) & (counts > 0)].index
        expected_gaps = [h.to_pydatetime() for h, n in counts.items()
                         if n == 0 and len(present) and present[0] < h < present[-1]]
        assert list(report.gaps) == expected_gaps
        hourly = resample_hourly(kept)
        reader = SnapshotReader(root)
        for hour in report.written:
            snap = reader.load_snapshot("BTC-USDT", hour)
            ts = pd.Timestamp(hour)
            window = (hourly.index > ts - pd.Timedelta("5h")) & (hourly.index <= ts)
            assert_frames_equal(frame_of(snap.hourly), hourly[window], rtol=1e-12)
