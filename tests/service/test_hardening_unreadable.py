"""One unreadable entry costs only its own hour: batch names it with the OS reason and analyses
every other hour; a FIFO never hangs validate or batch; batch exit status reflects skipped hours."""
from __future__ import annotations

import os
import shutil
from datetime import timedelta

import orjson
import pytest

from gridregime.cli import main
from gridregime.snapshot import SnapshotReader, market_path
from gridregime.snapshot.fileio import SnapshotReadError, read_snapshot_bytes
from tests.limits import time_limit
from tests.service.conftest import REAL_START, REAL_SYMBOL

FIRST = REAL_START + timedelta(hours=24)
LAST = REAL_START + timedelta(hours=35)  # 12 hours, 3 of them halted (missing)
BROKEN = REAL_START + timedelta(hours=30)


def iso(h):
    return h.strftime("%Y-%m-%dT%H:%M:%SZ")




def _replace_with_directory(path):
    path.unlink()
    path.mkdir()


def _replace_with_fifo(path):
    path.unlink()
    os.mkfifo(path)


def _replace_with_symlink_loop(path):
    path.unlink()
    path.symlink_to(path.name)


def _replace_hour_dir_with_loop(path):
    directory = path.parent
    shutil.rmtree(directory)
    directory.symlink_to(directory.name)


BREAKERS = {
    "directory": (_replace_with_directory, "expected a regular file, found a directory"),
    "fifo": (_replace_with_fifo, "expected a regular file, found a FIFO"),
    "symlink_loop": (_replace_with_symlink_loop, "ELOOP"),
    "hour_dir_loop": (_replace_hour_dir_with_loop, "ELOOP"),
}


def _batch_json(root, capsys, *extra, start=FIRST, end=LAST):
    with time_limit(60):
        code = main(["batch", "--root", str(root), "--symbols", REAL_SYMBOL, "--start", iso(start),
                     "--end", iso(end), "--json", "--quiet", *extra])
    captured = capsys.readouterr()
    return code, orjson.loads(captured.out), captured.err


@pytest.mark.parametrize("kind", sorted(BREAKERS))
def test_item1_unreadable_entry_skips_only_its_hour(real_store, store_copy, capsys, kind):
    root = store_copy(real_store)
    breaker, reason = BREAKERS[kind]
    breaker(market_path(root, REAL_SYMBOL, "1m", BROKEN))
    code, summary, _ = _batch_json(root, capsys)
    assert code == 0
    assert summary["hours_analysed"] == 8  # 9 readable hours, minus the broken one
    assert summary["skipped_by_reason"] == {"missing": 3, "unreadable": 1}

    batch = SnapshotReader(root).load_range(REAL_SYMBOL, FIRST, LAST)
    [problem] = [p for p in batch.problems if p.kind == "unreadable"]
    assert problem.hour == BROKEN
    assert reason in problem.reason and f"{BROKEN:%Y/%m/%d/%H}" in problem.reason

    code = main(["batch", "--root", str(root), "--symbols", REAL_SYMBOL, "--start", iso(FIRST),
                 "--end", iso(LAST), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and f"skipped {REAL_SYMBOL} {BROKEN:%Y-%m-%dT%H}:00Z [unreadable]" in out and reason in out


@pytest.mark.parametrize("kind", sorted(BREAKERS))
def test_item1_validate_names_unreadable_entry_without_hanging(real_store, store_copy, capsys, kind):
    root = store_copy(real_store)
    breaker, reason = BREAKERS[kind]
    breaker(market_path(root, REAL_SYMBOL, "1m", BROKEN))
    with time_limit(60):
        code = main(["validate", str(root), "--start", iso(FIRST), "--end", iso(LAST)])
    out = capsys.readouterr().out
    assert code == 1
    assert "files bad: 1" in out and reason in out and f"{BROKEN:%Y/%m/%d/%H}" in out


def test_item1_fifo_is_never_opened_for_reading(tmp_path):
    fifo = tmp_path / "ETH-USDT_1m.json"
    os.mkfifo(fifo)
    with time_limit(10), pytest.raises(SnapshotReadError, match="found a FIFO"):
        read_snapshot_bytes(fifo)


def test_item1_analyze_of_fifo_is_a_one_line_error(real_store, store_copy, capsys):
    root = store_copy(real_store)
    _replace_with_fifo(market_path(root, REAL_SYMBOL, "1m", BROKEN))
    with time_limit(30):
        code = main(["analyze", "--root", str(root), "--symbol", REAL_SYMBOL, "--hour", iso(BROKEN)])
    err = capsys.readouterr().err
    assert code != 0 and "found a FIFO" in err and "Traceback" not in err


def test_item1_batch_exits_1_when_no_hour_analysed(real_store, store_copy, capsys):
    root = store_copy(real_store)
    _replace_with_directory(market_path(root, REAL_SYMBOL, "1m", BROKEN))
    code, summary, err = _batch_json(root, capsys, start=BROKEN, end=BROKEN)
    assert code == 1 and summary["hours_analysed"] == 0 and "no hour was analysed" in err


def test_item1_batch_strict_exits_1_when_any_hour_skipped(real_store, capsys):
    code, summary, err = _batch_json(real_store, capsys, "--strict")
    assert code == 1 and summary["hours_analysed"] == 9 and "--strict" in err
    code, _, _ = _batch_json(real_store, capsys, "--strict", start=FIRST, end=FIRST + timedelta(hours=1))
    assert code == 0
