"""Append-only grid history: properties 40, 45 (store side), 46, crash safety, multi-process writers."""
from __future__ import annotations

import multiprocessing
import threading

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridregime.errors import InvalidParameterError
from gridregime.grid import GridConfig, GridHistoryStore, GridStoreError
from gridregime.grid.store import entry_hash

from .strategies import SYMBOL, grid_configs

changes = st.one_of(
    st.builds(dict, enabled=st.booleans()),
    st.builds(dict, levels=st.integers(2, 50)),
    st.builds(dict, allocation=st.floats(1.0, 1e6)),
    st.builds(dict, mode=st.sampled_from(["NORMAL", "PROBATION"])),
)


def _store(tmp_path_factory):
    return GridHistoryStore(tmp_path_factory.mktemp("grids"))


@given(grid_configs(), st.lists(changes, min_size=0, max_size=10), st.data())
@settings(max_examples=25)
def test_property_40_update_integrity(tmp_path_factory, first, updates, data):
    store = _store(tmp_path_factory)
    returned = [store.update(SYMBOL, "initial", config=first)]
    for i, change in enumerate(updates):
        returned.append(store.update(SYMBOL, f"update {i}", **change))
    history = store.history(SYMBOL)
    assert history == returned
    assert [c.version for c in history] == list(range(1, len(returned) + 1))
    assert store.current(SYMBOL) == returned[-1]
    for previous, cfg, change in zip(history, history[1:], updates):
        expected = previous.with_changes(**change)
        assert (cfg.lower, cfg.upper, cfg.levels, cfg.enabled, cfg.mode, cfg.allocation) == (
            expected.lower, expected.upper, expected.levels, expected.enabled, expected.mode, expected.allocation)
    report = store.verify(SYMBOL)
    assert report.ok and report.versions == len(returned) and not report.torn_tail

    # Tampering: edit one field of one entry (keeping valid JSON) -> detected.
    path = store.path(SYMBOL)
    lines = path.read_bytes().splitlines()
    k = data.draw(st.integers(0, len(lines) - 1))
    entry = orjson.loads(lines[k])
    kind = data.draw(st.sampled_from(["config", "reason", "rehash", "delete_middle", "truncate_end"]))
    if kind == "config":
        entry["config"]["upper"] = entry["config"]["upper"] * 2
        lines[k] = orjson.dumps(entry)
    elif kind == "reason":
        entry["reason"] += "!"
        lines[k] = orjson.dumps(entry)
    elif kind == "rehash":  # edit and recompute the entry's own hash: the chain still breaks
        entry["config"]["levels"] = entry["config"]["levels"] + 1
        entry["hash"] = entry_hash(entry)
        lines[k] = orjson.dumps(entry)
    elif kind == "delete_middle":
        del lines[k]
    else:
        lines = lines[:k]
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    assert not store.verify(SYMBOL).ok
    with pytest.raises(GridStoreError):
        store.current(SYMBOL, verify=True)


def test_property_40_rewritten_tail_with_head_is_detected(tmp_path):
    store = GridHistoryStore(tmp_path)
    store.update(SYMBOL, "a", config=GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0))
    store.update(SYMBOL, "b", levels=4)
    # Forge the last entry consistently (hash recomputed): the head file still disagrees.
    path = store.path(SYMBOL)
    lines = path.read_bytes().splitlines()
    entry = orjson.loads(lines[-1])
    entry["config"]["levels"] = 9
    entry["hash"] = entry_hash(entry)
    path.write_bytes(lines[0] + b"\n" + orjson.dumps(entry) + b"\n")
    report = store.verify(SYMBOL)
    assert not report.ok and "head" in report.problems[0]


@given(st.sampled_from([
    ("levels", {"levels": 1}), ("lower", {"lower": -3.0}), ("upper", {"upper": 0.5}),
    ("allocation", {"allocation": float("nan")}), ("mode", {"mode": "X"}), ("version", {"version": 7}),
    ("nope", {"nope": 1}), ("enabled", {"enabled": 1}),
]))
@settings(max_examples=20)
def test_property_45_invalid_update_refused_store_unchanged(tmp_path_factory, case):
    field, change = case
    store = _store(tmp_path_factory)
    store.update(SYMBOL, "initial", config=GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0))
    before = store.path(SYMBOL).read_bytes()
    with pytest.raises(InvalidParameterError, match=field):
        store.update(SYMBOL, "bad", **change)
    with pytest.raises(InvalidParameterError, match="reason"):
        store.update(SYMBOL, "  ", levels=5)
    with pytest.raises(InvalidParameterError, match="config.symbol"):
        store.update(SYMBOL, "wrong symbol", config=GridConfig("BTC-USDT", 1.0, 2.0, 3, 10.0))
    with pytest.raises(InvalidParameterError, match="symbol"):
        store.update("../x", "path", levels=5)
    assert store.path(SYMBOL).read_bytes() == before
    assert store.verify(SYMBOL).ok


@given(st.integers(2, 4), st.integers(3, 10))
@settings(max_examples=5)
def test_property_46_concurrent_updates_lose_nothing(tmp_path_factory, writers, per_writer):
    store = _store(tmp_path_factory)
    store.update(SYMBOL, "initial", config=GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0))

    def work(w):
        own = GridHistoryStore(store.directory)  # a separate store object (own lock handle) per writer
        for i in range(per_writer):
            own.update(SYMBOL, f"w{w}-{i}", levels=2 + (w * per_writer + i) % 50)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = store.history(SYMBOL)
    assert [c.version for c in history] == list(range(1, writers * per_writer + 2))
    reasons = [c.reason for c in history[1:]]
    assert sorted(reasons) == sorted(f"w{w}-{i}" for w in range(writers) for i in range(per_writer))
    assert store.verify(SYMBOL).ok


def _process_writer(directory: str, writer: int, count: int) -> None:
    store = GridHistoryStore(directory)
    for i in range(count):
        store.update(SYMBOL, f"p{writer}-{i}", levels=2 + (i % 40), enabled=bool(i % 2))


def test_concurrent_processes_lose_no_version(tmp_path):
    """4 processes x 50 updates on one symbol: every version exactly once, the chain verifies."""
    writers, count = 4, 50
    store = GridHistoryStore(tmp_path)
    store.update(SYMBOL, "initial", config=GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_writer, args=(str(tmp_path), w, count)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    history = store.history(SYMBOL)
    assert [c.version for c in history] == list(range(1, writers * count + 2))
    reasons = [c.reason for c in history[1:]]
    assert len(set(reasons)) == len(reasons) == writers * count
    assert set(reasons) == {f"p{w}-{i}" for w in range(writers) for i in range(count)}
    report = store.verify(SYMBOL)
    assert report.ok, report.problems


@pytest.mark.parametrize("tail", [b'{"version": 3, "prev_ha', b"garbage\n", b'{"version": 3}'])
def test_crash_mid_append_keeps_earlier_versions_and_is_repaired(tmp_path, tail):
    store = GridHistoryStore(tmp_path)
    a = store.update(SYMBOL, "a", config=GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0))
    b = store.update(SYMBOL, "b", levels=4)
    with open(store.path(SYMBOL), "ab") as fh:  # what a crash in the middle of an append leaves
        fh.write(tail)
    report = store.verify(SYMBOL)
    assert report.torn_tail and report.ok and report.versions == 2
    assert store.history(SYMBOL) == [a, b]
    c = store.update(SYMBOL, "c", levels=5)  # the next locked append repairs the torn line
    assert store.history(SYMBOL) == [a, b, c]
    report = store.verify(SYMBOL)
    assert report.ok and not report.torn_tail and report.versions == 3


def test_damaged_head_file_is_reported(tmp_path):
    store = GridHistoryStore(tmp_path)
    store.update(SYMBOL, "a", config=GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0))
    head = tmp_path / f"{SYMBOL}.head.json"
    for content in (b"[1, 2]", b"{not json"):
        head.write_bytes(content)
        report = store.verify(SYMBOL)
        assert not report.ok and "head.json" in report.problems[0]


def test_crash_during_first_append(tmp_path):
    store = GridHistoryStore(tmp_path)
    store.path(SYMBOL).write_bytes(b'{"version": 1, "prev')
    report = store.verify(SYMBOL)
    assert report.ok and report.torn_tail and report.versions == 0
    assert store.current(SYMBOL) is None
    first = store.update(SYMBOL, "a", config=GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0))
    assert store.history(SYMBOL, verify=True) == [first]


def test_crash_after_line_before_head_is_consistent(tmp_path):
    store = GridHistoryStore(tmp_path)
    store.update(SYMBOL, "a", config=GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0))
    head = (tmp_path / f"{SYMBOL}.head.json").read_bytes()
    store.update(SYMBOL, "b", levels=4)
    (tmp_path / f"{SYMBOL}.head.json").write_bytes(head)  # head one version behind
    assert store.verify(SYMBOL).ok
    store.update(SYMBOL, "c", levels=5)
    assert store.verify(SYMBOL).ok and store.verify(SYMBOL).versions == 3


def test_damaged_middle_line_refuses_append(tmp_path):
    store = GridHistoryStore(tmp_path)
    store.update(SYMBOL, "a", config=GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0))
    store.update(SYMBOL, "b", levels=4)
    path = store.path(SYMBOL)
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"not json\n" + lines[1] + b"\n")
    with pytest.raises(GridStoreError, match="line 1"):
        store.update(SYMBOL, "c", levels=5)
    with pytest.raises(GridStoreError, match=str(path.name)):
        store.history(SYMBOL)
    assert not store.verify(SYMBOL).ok
    assert store.current("BTC-USDT") is None and store.history("BTC-USDT") == []
