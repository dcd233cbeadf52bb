"""``gridregime batch`` in-process: summary, JSON summary, results table, bad arguments."""
from __future__ import annotations

from datetime import timedelta

import orjson
import pyarrow.parquet as pq
import pytest

from gridregime.cli import main
from gridregime.service import RegimeAnalysisService
from tests.service.conftest import (
    HALT_HOURS,
    REAL_START,
    REAL_SYMBOL,
    SYN_START,
    SYN_SYMBOLS,
)
from tests.service.helpers import assert_tables_identical

FIRST = REAL_START + timedelta(hours=24)
LAST = REAL_START + timedelta(hours=35)


def iso(h):
    return h.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_batch_json_summary_and_table(real_store, tmp_path, capsys):
    out = tmp_path / "results.parquet"
    code = main(["batch", "--root", str(real_store), "--symbols", REAL_SYMBOL, "--start", iso(FIRST),
                 "--end", iso(LAST), "--out", str(out), "--json", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""  # --quiet: no progress bar
    summary = orjson.loads(captured.out)
    expected = RegimeAnalysisService(real_store).analyze_range(REAL_SYMBOL, FIRST, LAST)
    verdicts = {}
    for r in expected.results:
        verdicts[r.verdict.value] = verdicts.get(r.verdict.value, 0) + 1
    assert summary["hours_analysed"] == len(expected.results) == 9
    assert summary["hours_skipped"] == 3 and summary["skipped_by_reason"] == {"missing": 3}
    assert summary["verdicts"] == dict(sorted(verdicts.items()))
    assert summary["wall_time_s"] >= 0 and summary["results_table"] == str(out)
    assert_tables_identical(pq.read_table(out), expected.to_table())


def test_batch_text_summary_lists_skipped_hours_and_shows_progress(real_store, capsys):
    code = main(["batch", "--root", str(real_store), "--symbols", REAL_SYMBOL, "--start", iso(FIRST),
                 "--end", iso(LAST)])
    captured = capsys.readouterr()
    assert code == 0
    assert "hours analysed: 9" in captured.out and "hours skipped:  3  (missing: 3)" in captured.out
    for h in HALT_HOURS:
        assert f"skipped {REAL_SYMBOL} {h:%Y-%m-%dT%H}:00Z [missing]" in captured.out
    assert "wall time:" in captured.out
    assert "analysing" in captured.err  # the progress bar goes to stderr


def test_batch_several_symbols_with_workers_and_comma_lists(synthetic_store, tmp_path, capsys):
    out = tmp_path / "r.parquet"
    end = SYN_START + timedelta(hours=3)
    code = main(["batch", "--root", str(synthetic_store), "--symbols", ",".join(SYN_SYMBOLS), "--start", iso(SYN_START),
                 "--end", iso(end), "--workers", "2", "--executor", "serial", "--out", str(out), "--json", "--quiet"])
    assert code == 0
    assert orjson.loads(capsys.readouterr().out)["hours_analysed"] == 8
    table = pq.read_table(out)
    assert table["symbol"].to_pylist() == [SYN_SYMBOLS[0]] * 4 + [SYN_SYMBOLS[1]] * 4


@pytest.mark.parametrize("args, option", [
    (["--workers", "0"], "--workers"),
    (["--start", "not-a-time"], "--start"),
    (["--end", "2021-04-18T00:00:00Z"], "--end"),
    (["--symbols", "eth/usdt"], "--symbols"),
    (["--root", "{missing}"], "--root"),
    (["--out", "{missing}/x.parquet"], "--out"),
])
def test_batch_bad_arguments_name_the_option(real_store, tmp_path, capsys, args, option):
    base = {"--root": str(real_store), "--symbols": REAL_SYMBOL, "--start": iso(FIRST), "--end": iso(LAST)}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v.replace("{missing}", str(tmp_path / "nowhere"))
    argv = ["batch", "--quiet"] + [x for kv in base.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"gridregime batch: error: {option}: expected" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["--workers", "two"], "argument --workers: invalid int value"),
    (["--executor", "threads"], "argument --executor: invalid choice"),
])
def test_batch_argparse_errors_exit_2(real_store, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(["batch", "--root", str(real_store), "--symbols", REAL_SYMBOL, "--start", iso(FIRST),
              "--end", iso(LAST), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_batch_missing_required_option_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["batch", "--symbols", REAL_SYMBOL, "--start", "2021-04-19T00Z", "--end", "2021-04-19T01Z"])
    assert exc.value.code == 2
    assert "--root" in capsys.readouterr().err


def test_batch_grid_out_writes_the_supervisor_table(real_store, tmp_path, capsys):
    grid_out = tmp_path / "grid.parquet"
    code = main(["batch", "--root", str(real_store), "--symbols", REAL_SYMBOL, "--start", iso(FIRST),
                 "--end", iso(LAST), "--grid-out", str(grid_out), "--grid-dir", str(tmp_path / "state"),
                 "--json", "--quiet"])
    assert code == 0
    summary = orjson.loads(capsys.readouterr().out)
    expected = RegimeAnalysisService(real_store).analyze_range(REAL_SYMBOL, FIRST, LAST, supervise=True)
    table = pq.read_table(grid_out)
    assert table.num_rows == summary["hours_analysed"] == len(expected.grid_rows)
    assert table.column("action").to_pylist() == [r["action"] for r in expected.grid_rows]
    assert summary["grid_events"] == expected.grid_events()
    assert (tmp_path / "state" / "grids" / f"{REAL_SYMBOL}.jsonl").is_file()


def test_batch_grid_dir_without_grid_out_is_refused(real_store, capsys):
    code = main(["batch", "--root", str(real_store), "--symbols", REAL_SYMBOL, "--start", iso(FIRST),
                 "--end", iso(LAST), "--grid-dir", "somewhere", "--quiet"])
    assert code == 2 and "--grid-dir" in capsys.readouterr().err
