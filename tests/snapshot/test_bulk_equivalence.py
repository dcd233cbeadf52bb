"""The bulk reader and the per-file reference validator agree on every damaged file."""
from __future__ import annotations

import shutil

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from gridregime.snapshot import SnapshotError, SnapshotReader, market_path
from tests.snapshot.fixtures import build_store

SYMBOL = "BTC-USDT"
# bytes a damaged or hand-edited file plausibly holds: digits, JSON punctuation, letters of
# true/false/null/NaN, white space
REPLACEMENTS = st.sampled_from(list(b"0123456789,.-+eE[]{}\":tfnNaI \n"))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("equiv")
    return root, build_store(root, count=3, history_hours=5)


@settings(max_examples=150)
@given(data=st.data())
def test_bulk_reader_agrees_with_reference_on_damaged_files(pristine, tmp_path_factory, data):
    src, hours = pristine
    root = tmp_path_factory.mktemp("damaged")
    shutil.copytree(src, root, dirs_exist_ok=True)
    hour = data.draw(st.sampled_from(hours), label="hour")
    path = market_path(root, SYMBOL, "1m", hour)
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans(), label="harmless"):
        # white space after a comma: still valid JSON, but no longer the writer's own layout
        commas = [i for i, b in enumerate(raw) if b == ord(",")]
        at = data.draw(st.sampled_from(commas), label="comma")
        raw[at + 1:at + 1] = data.draw(st.sampled_from([b" ", b"\n", b"  "]), label="space")
        path.write_bytes(bytes(raw))
        raw = bytearray(path.read_bytes())
        edits_wanted = data.draw(st.booleans(), label="also damage")
    else:
        edits_wanted = True
    edits = [] if not edits_wanted else data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), REPLACEMENTS), min_size=1, max_size=3),
                      label="edits")
    for pos, byte in edits:
        raw[pos] = byte
    if edits_wanted and data.draw(st.booleans(), label="insert"):
        raw.insert(data.draw(st.integers(0, len(raw)), label="at"), data.draw(REPLACEMENTS, label="byte"))
    path.write_bytes(bytes(raw))

    reader = SnapshotReader(root)
    try:
        reader.load_snapshot(SYMBOL, hour)
        reference_ok = True
    except SnapshotError:
        reference_ok = False
    event(f"reference {'accepts' if reference_ok else 'rejects'}")
    loaded = reader.load_range(SYMBOL, hours[0], hours[-1])
    problem_hours = [p.hour for p in loaded.problems]
    assert (hour in loaded.hours) == reference_ok
    assert problem_hours == ([] if reference_ok else [hour])
    if reference_ok:
        assert loaded.minute.slice(hours.index(hour) * 60, 60).equals(reader.load_snapshot(SYMBOL, hour).minute)


def test_value_counts_are_checked_per_file(pristine, tmp_path):
    """A file with 59 values in a column next to one with 61: the column total is right."""
    src, hours = pristine
    root = tmp_path / "s"
    shutil.copytree(src, root)
    short, long_ = (market_path(root, SYMBOL, "1m", h) for h in hours[:2])
    raw = short.read_bytes()
    at = raw.index(b",", raw.index(b'"open":[') + 8)
    short.write_bytes(raw[:at] + raw[at + 1:])  # two values glued into one: 59
    raw = long_.read_bytes()
    at = raw.index(b'"open":[') + 8
    long_.write_bytes(raw[:at] + b"1," + raw[at:])  # one value more: 61
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1])
    assert [p.hour for p in loaded.problems] == hours[:2]
    assert all("bars.open" in p.reason for p in loaded.problems)
    assert list(loaded.hours) == hours[2:]
