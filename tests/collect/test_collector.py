"""MetricsCollector: the live hourly path, on the committed real slice (a file source)."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow.parquet as pq
import pytest
import yaml

from gridregime.analysis.result import RegimeResult
from gridregime.bars import aggregate_hourly
from gridregime.cli import main
from gridregime.collect import ParquetDirSource
from gridregime.collect.collector import MetricsCollector, closed_hour
from gridregime.collect.summary import SUMMARY_KEYS
from gridregime.errors import InvalidParameterError
from gridregime.grid.supervisor import ROW_COLUMNS
from gridregime.service import RegimeAnalysisService, result_row
from gridregime.snapshot import SnapshotReader, read_market_file
from gridregime.snapshot.paths import analysis_path, market_path, summary_path

SYMBOL = "ETH-USDT"
START = datetime(2021, 4, 19, tzinfo=UTC)
HALT = datetime(2021, 4, 20, 2, tzinfo=UTC)  # no minutes from 02:00 to 04:29
FILES = ("minute", "hourly", "analysis", "summary")


@pytest.fixture
def collector(tmp_path, data_dir):
    return MetricsCollector(ParquetDirSource(data_dir), tmp_path / "store")


def _files(root, hour):
    return [market_path(root, SYMBOL, "1m", hour), market_path(root, SYMBOL, "1h", hour),
            analysis_path(root, SYMBOL, hour), summary_path(root, SYMBOL, hour)]


def test_closed_hour_is_the_hour_before_the_trigger():
    assert closed_hour("2024-01-15T14:00:05Z") == datetime(2024, 1, 15, 13, tzinfo=UTC)
    assert closed_hour("2024-01-15T14:59:59Z") == datetime(2024, 1, 15, 13, tzinfo=UTC)
    with pytest.raises(InvalidParameterError, match="trigger_time"):
        closed_hour("yesterday")
    with pytest.raises(InvalidParameterError, match="trigger_time"):
        closed_hour("0001-01-01T00:00:00Z")


def test_collect_writes_four_valid_files_and_answers_from_them(collector):
    hour = START + timedelta(hours=5)
    report = collector.collect(hour + timedelta(hours=1, seconds=4), [SYMBOL])
    assert report.hour == hour and report.complete
    (out,) = report.results
    root = collector.root
    assert {k: root / v for k, v in out.files.items()} == dict(zip(FILES, _files(root, hour)))
    assert all(p.is_file() for p in _files(root, hour))
    # the snapshot is analysis-ready (property 79) and the stored analysis is the file's analysis
    expected = RegimeAnalysisService(root).analyze_timestamp(SYMBOL, hour)
    stored = SnapshotReader(root).load_analysis(SYMBOL, hour)
    assert stored == orjson.loads(expected.to_json())
    assert out.status == "ok" and out.verdict == expected.verdict.value
    assert out.confidence == round(expected.confidence, 4)
    # the YAML summary parses with PyYAML, in the documented key order, and agrees with the analysis
    doc = yaml.safe_load(summary_path(root, SYMBOL, hour).read_text())
    assert tuple(doc) == SUMMARY_KEYS
    assert doc["symbol"] == SYMBOL and doc["hour"] == "2021-04-19T05:00:00Z"
    assert doc["verdict"] == expected.verdict.value
    assert doc["grid_start_ok"] is expected.grid_start_ok  # may a grid start this hour
    assert doc["range"]["lower"] == pytest.approx(expected.chosen_range.lower)
    assert doc["gates"]["phase"] in ("ACTIVE", "STOPPED", "GATE_1", "GATE_2", "GATE_3", "READY")
    assert isinstance(doc["data_quality"]["notes"], list)
    assert report.to_dict()["status"] == "ok" and report.to_dict()["hour"] == "2021-04-19T05:00:00Z"


def test_history_is_the_previous_hours_file_plus_the_new_bar(collector, data_dir):
    first = START + timedelta(hours=3)
    collector.collect_hour(first, [SYMBOL])
    collector.collect_hour(first + timedelta(hours=1), [SYMBOL])
    root = collector.root
    prev = read_market_file(market_path(root, SYMBOL, "1h", first), symbol=SYMBOL, timeframe="1h", hour=first)
    hour = first + timedelta(hours=1)
    new = read_market_file(market_path(root, SYMBOL, "1h", hour), symbol=SYMBOL, timeframe="1h", hour=hour)
    minute = read_market_file(market_path(root, SYMBOL, "1m", hour), symbol=SYMBOL, timeframe="1m", hour=hour)
    assert new.bars().num_rows == prev.bars().num_rows == 1000
    p, n = prev.bars(), new.bars()
    assert n.slice(0, 999).equals(p.slice(1))  # history carried over, oldest bar dropped
    bar, _ = aggregate_hourly(minute.bars())
    assert n.slice(999).equals(bar)
    # and the first hour's history is the source's own hourly file, value for value
    src = pq.read_table(data_dir / "ETH-USDT_1h_2021-01-20_2021-04-21.parquet").to_pydict()
    ts = [int(t.timestamp() * 1000) for t in p.column("ts").to_pylist()]
    by_ts = dict(zip(src["ts"], src["close"]))
    assert all(abs(by_ts[t] - c) < 1e-9 for t, c in zip(ts[:-1], p.column("close").to_pylist()[:-1]))


def test_repeat_is_answered_from_the_stored_files_without_writing(collector):
    hour = START + timedelta(hours=8)
    first = collector.collect_hour(hour, [SYMBOL])
    stamps = [p.stat().st_mtime_ns for p in _files(collector.root, hour)]
    again = collector.collect_hour(hour, [SYMBOL])
    assert again.results == first.results
    assert [p.stat().st_mtime_ns for p in _files(collector.root, hour)] == stamps
    assert collector.stored(SYMBOL, hour) == first.results[0]


def test_property_79_incomplete_hour_is_skipped_with_a_reason_and_nothing_written(collector, caplog):
    for hour, missing in ((HALT, 60), (HALT + timedelta(hours=2), 30)):
        report = collector.collect_hour(hour, [SYMBOL])
        (out,) = report.results
        assert out.status == "incomplete" and not report.complete
        assert f"{missing} of 60 minutes missing" in out.reason and "analysis skipped" in out.reason
        assert out.files == {} and out.verdict is None
        assert not any(p.exists() for p in _files(collector.root, hour))
    assert "incomplete hour" in caplog.text
    # the next complete hour is collected with its history fetched from the source
    after = collector.collect_hour(HALT + timedelta(hours=3), [SYMBOL])
    assert after.complete
    notes = yaml.safe_load(summary_path(collector.root, SYMBOL, HALT + timedelta(hours=3)).read_text())
    assert any("fetched from source" in n for n in notes["data_quality"]["notes"])


def test_concurrent_triggers_write_once_and_answer_alike(collector, monkeypatch):
    hour = START + timedelta(hours=10)
    writes = []
    original = collector.storage.write_summary

    def counting(*args, **kwargs):
        writes.append(args[:2])
        return original(*args, **kwargs)

    monkeypatch.setattr(collector.storage, "write_summary", counting)
    answers: list = []
    barrier = threading.Barrier(8)

    def trigger():
        barrier.wait()
        answers.append(collector.collect_hour(hour, [SYMBOL]).results)

    threads = [threading.Thread(target=trigger) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(answers) == 8 and all(a == answers[0] for a in answers)
    assert writes == [(SYMBOL, hour)]


def test_a_step_saved_without_its_summary_is_replayed_identically(collector):
    hours = [START + timedelta(hours=k) for k in range(12, 15)]
    for h in hours:
        collector.collect_hour(h, [SYMBOL])
    last = hours[-1]
    path = summary_path(collector.root, SYMBOL, last)
    text = path.read_text()
    path.unlink()  # as if the process died after the supervisor saved its state
    again = collector.collect_hour(last, [SYMBOL])
    assert again.complete and path.read_text() == text


def test_unknown_and_path_like_symbols_are_refused(collector):
    with pytest.raises(InvalidParameterError, match="symbols: unknown to source"):
        collector.collect_hour(START, ["DOGE-USDT"])
    with pytest.raises(InvalidParameterError, match="symbols"):
        collector.collect_hour(START, ["../etc"])
    with pytest.raises(InvalidParameterError, match="symbols"):
        collector.collect_hour(START, [])
    with pytest.raises(InvalidParameterError, match="hour"):
        collector.collect_hour("2021-04-19T00:30:00Z", [SYMBOL])
    with pytest.raises(InvalidParameterError, match="hour: expected an hour that has closed"):
        # the hour after the current one: it cannot have closed (the current one may, within the 5 min slack)
        collector.collect_hour(datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1),
                               [SYMBOL])


def test_live_collection_equals_batch_replay_over_72_hours(collector, tmp_path, capsys):
    """72 triggers, one per hour (three of them during an exchange halt), against one batch run."""
    hours = [START + timedelta(hours=k) for k in range(72)]
    live = {}
    for h in hours:
        report = collector.collect(h + timedelta(hours=1, seconds=5), [SYMBOL])
        live[h] = report.results[0]
    collected = [h for h in hours if live[h].status == "ok"]
    assert len(collected) == 69
    out, grid_out = tmp_path / "results.parquet", tmp_path / "grid.parquet"
    rc = main(["batch", "--root", str(collector.root), "--symbols", SYMBOL, "--start", hours[0].isoformat(),
               "--end", hours[-1].isoformat(), "--out", str(out), "--grid-out", str(grid_out), "--quiet"])
    assert rc == 0
    capsys.readouterr()
    results = pq.read_table(out).to_pylist()
    grid = pq.read_table(grid_out).to_pylist()
    assert [r["hour"] for r in results] == [r["hour"] for r in grid] == collected
    for row, grow in zip(results, grid):
        h = row["hour"]
        # the live results table row: from the analysis file the trigger wrote
        live_row = result_row(RegimeResult.from_json(analysis_path(collector.root, SYMBOL, h).read_bytes()))
        assert live_row.keys() == row.keys()
        for key, want in row.items():
            if isinstance(want, float):
                assert live_row[key] == pytest.approx(want, rel=1e-6, abs=1e-6), (h, key)
            else:
                assert live_row[key] == want, (h, key)
        assert live[h].verdict == row["verdict"]
        # the live grid state: from the YAML summary the trigger wrote
        doc = yaml.safe_load(summary_path(collector.root, SYMBOL, h).read_text())
        g, gates, rec = doc["grid"], doc["gates"], doc["recommendation"] or {}
        assert gates["phase"] == grow["gate_phase"] == live[h].gate_phase
        assert gates["hours_stopped"] == grow["hours_stopped"]
        assert gates["readiness"] == pytest.approx(grow["readiness"], abs=1e-4)
        assert rec.get("action") == grow["action"] and rec.get("actionable", False) == grow["actionable"]
        assert g["enabled"] == grow["grid_enabled"] and g.get("mode") == grow["grid_mode"]
        assert g.get("version") == grow["grid_version"]
        if "grid_levels" in grow:
            assert g.get("levels") == grow["grid_levels"]
            assert (g.get("allocation") is None) == (grow["grid_allocation"] is None)
        for ours, theirs in ((g.get("lower"), grow["grid_lower"]), (g.get("upper"), grow["grid_upper"])):
            assert (ours is None) == (theirs is None) and (ours is None or ours == pytest.approx(theirs, abs=1e-6))
        assert doc["events"] == [e for e in grow["events"].split(",") if e]
    assert set(ROW_COLUMNS) <= set(grid[0])


def test_cli_collect_hour_backfill_and_errors(data_dir, tmp_path, capsys):
    root = tmp_path / "cli"
    src = f"parquet:{data_dir}"
    rc = main(["collect", "--source", src, "--symbols", SYMBOL, "--root", str(root),
               "--start", "2021-04-20T00:00Z", "--end", "2021-04-20T05:00Z"])
    out = capsys.readouterr().out
    assert rc == 1  # the halt hours are incomplete
    assert out.count(" ok: ") == 3 and out.count(" incomplete: ") == 3
    rc = main(["collect", "--source", src, "--symbols", SYMBOL, "--root", str(root), "--hour",
               "2021-04-20T05:00Z", "--json"])
    answer = orjson.loads(capsys.readouterr().out)
    assert rc == 0 and answer["status"] == "ok" and answer["results"][0]["verdict"]
    for argv, option in (
        (["--symbols", "../x", "--hour", "2021-04-20T05:00Z"], "--symbols"),
        (["--symbols", "DOGE-USDT", "--hour", "2021-04-20T05:00Z"], "--symbols"),
        (["--symbols", SYMBOL, "--hour", "2021-04-20T05:30Z"], "--hour"),
        (["--symbols", SYMBOL, "--start", "2021-04-20T05:00Z"], "--start"),
        (["--symbols", SYMBOL, "--start", "2021-04-20T05:00Z", "--end", "2021-04-20T01:00Z"], "--end"),
    ):
        rc = main(["collect", "--source", src, "--root", str(root), *argv])
        assert rc == 2 and f"error: {option}:" in capsys.readouterr().err
    rc = main(["collect", "--source", "nosuch:x", "--symbols", SYMBOL, "--root", str(root)])
    assert rc == 2 and "--source" in capsys.readouterr().err
