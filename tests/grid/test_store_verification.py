"""Grid history verified wherever it is read: update refuses a history that fails verification,
the evidence is never erased by an append, reads and the supervisor refuse a tampered grid, an
explicit repair records itself, and verify under concurrent appends reports no false truncation."""
from __future__ import annotations

import multiprocessing
import os

import orjson
import pytest

from gridregime.cli import main
from gridregime.grid import GridConfig, GridHistoryStore, GridStoreError, GridSupervisor
from gridregime.grid.store import entry_hash

from .strategies import SYMBOL


def _store_with(tmp_path, n=4):
    store = GridHistoryStore(tmp_path)
    store.update(SYMBOL, "initial", config=GridConfig(SYMBOL, 100.0, 200.0, 5, 1000.0))
    for i in range(2, n + 1):
        store.update(SYMBOL, f"update {i}", levels=3 + i)
    return store


def _cut_last_lines(store, k):
    path = store.path(SYMBOL)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-k]))


def _delete_head(store):
    os.unlink(store._head_path(SYMBOL))


def _delete_history(store):
    os.unlink(store.path(SYMBOL))


def _rehash_last(store, **config_changes):
    path = store.path(SYMBOL)
    lines = path.read_bytes().splitlines()
    entry = orjson.loads(lines[-1])
    entry["config"].update(config_changes or {"levels": entry["config"]["levels"] + 1})
    entry["hash"] = entry_hash(entry)
    lines[-1] = orjson.dumps(entry)
    path.write_bytes(b"".join(line + b"\n" for line in lines))


DAMAGE = {
    "cut_two_lines": lambda s: _cut_last_lines(s, 2),
    "deleted_head": _delete_head,
    "deleted_history": _delete_history,
    "rehashed_last_line": _rehash_last,
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_item2_update_refuses_and_keeps_the_evidence(tmp_path, kind):
    store = _store_with(tmp_path)
    DAMAGE[kind](store)
    before = store.verify(SYMBOL)
    assert not before.ok
    with pytest.raises(GridStoreError, match="appending refused.*--repair"):
        store.update(SYMBOL, "after damage", levels=9)
    after = store.verify(SYMBOL)
    assert not after.ok and after.problems == before.problems  # nothing appended, nothing erased


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_item2_every_read_path_verifies(tmp_path, kind):
    store = _store_with(tmp_path)
    store.history(SYMBOL)  # a verified result is cached ...
    DAMAGE[kind](store)
    with pytest.raises(GridStoreError):  # ... and dropped when the files change
        store.history(SYMBOL)
    with pytest.raises(GridStoreError):
        store.current(SYMBOL)
    with pytest.raises(GridStoreError):
        GridHistoryStore(tmp_path).current(SYMBOL)


def test_item2_hand_edited_grid_is_never_adopted_by_the_supervisor(tmp_path):
    store = GridHistoryStore(tmp_path / "grids")
    store.update(SYMBOL, "initial", config=GridConfig(SYMBOL, 100.0, 200.0, 5, 1000.0))
    store.update(SYMBOL, "second", levels=6)
    _rehash_last(store, lower=1.0, upper=99999.0)
    with pytest.raises(GridStoreError, match="hash differs"):
        GridSupervisor(SYMBOL, store_dir=tmp_path)
    path = store.path(SYMBOL)  # an edit without a new hash is refused as well
    lines = path.read_bytes().splitlines()
    lines[-1] = lines[-1].replace(b'"lower":1.0', b'"lower":2.0')
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    with pytest.raises(GridStoreError):
        GridSupervisor(SYMBOL, store_dir=tmp_path)


def test_item2_verify_cache_follows_file_changes(tmp_path):
    _store_with(tmp_path, 3)
    store = GridHistoryStore(tmp_path)
    calls = []
    original = store.verify

    def counting(symbol):
        calls.append(symbol)
        return original(symbol)

    store.verify = counting
    for _ in range(5):
        store.history(SYMBOL)
    assert len(calls) == 1
    store.update(SYMBOL, "one more", levels=12)  # verified (cached) before, still valid after
    assert store.history(SYMBOL)[-1].levels == 12
    assert len(calls) == 1
    _cut_last_lines(store, 1)
    with pytest.raises(GridStoreError):
        store.history(SYMBOL)
    assert len(calls) == 2


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_item2_grid_verify_repair_records_the_repair(tmp_path, capsys, kind):
    store = _store_with(tmp_path)
    good = GridHistoryStore(tmp_path).history(SYMBOL)
    DAMAGE[kind](store)
    assert main(["grid", "verify", SYMBOL, "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAILED verification" in out and "--repair" in out
    assert main(["grid", "verify", SYMBOL, "--dir", str(tmp_path), "--repair"]) == 0
    out = capsys.readouterr().out
    assert "damaged file kept as" in out
    damaged = [p for p in os.listdir(tmp_path) if ".damaged-" in p]
    assert damaged
    if kind == "deleted_history":
        assert "no valid version was left" in out and store.history(SYMBOL) == []
        return
    history = store.history(SYMBOL)
    kept = {"cut_two_lines": 2, "deleted_head": 4, "rehashed_last_line": 3}[kind]
    assert history[:kept] == good[:kept]
    repair = history[-1]
    assert repair.version == kept + 1 and repair.reason.startswith(f"repair: kept versions 1..{kept}")
    assert (repair.lower, repair.upper, repair.levels) == (good[kept - 1].lower, good[kept - 1].upper,
                                                            good[kept - 1].levels)
    assert store.verify(SYMBOL).ok
    store.update(SYMBOL, "back to normal", levels=20)
    assert store.verify(SYMBOL).ok
    assert main(["grid", "verify", SYMBOL, "--dir", str(tmp_path)]) == 0


def test_item2_verify_on_a_directory_is_a_report_not_a_traceback(tmp_path, capsys):
    store = GridHistoryStore(tmp_path)
    store.path(SYMBOL).mkdir()
    report = store.verify(SYMBOL)
    assert not report.ok and "expected a regular file" in report.problems[0]
    with pytest.raises(GridStoreError, match="expected a regular file"):
        store.history(SYMBOL)
    assert main(["grid", "verify", SYMBOL, "--dir", str(tmp_path)]) == 1


def _appender(directory: str, count: int) -> None:
    store = GridHistoryStore(directory)
    for i in range(count):
        store.update(SYMBOL, f"c{i}", levels=2 + i % 30)


def test_item2_verify_during_concurrent_appends_reports_no_false_truncation(tmp_path):
    store = _store_with(tmp_path, 1)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_appender, args=(str(tmp_path), 60)) for _ in range(2)]
    for p in procs:
        p.start()
    false_reports = []
    checks = 0
    while any(p.is_alive() for p in procs) or checks < 50:
        report = GridHistoryStore(tmp_path).verify(SYMBOL)
        checks += 1
        if not report.ok:
            false_reports.append(report.problems)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert not false_reports, false_reports[:3]
    assert store.verify(SYMBOL).versions == 121
