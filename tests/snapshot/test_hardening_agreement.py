"""Batch and validate apply one set of rules: for the whole corruption catalogue, applied to a
middle hour and to the newest hour, both flag the corrupted hour, batch never analyses an hour
validate rejects, and batch flags nothing more than the hours whose history holds a disputed bar
(a disputed bar is refused for every hour that would use it; validate names each file once)."""
from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from gridregime.service import RegimeAnalysisService
from gridregime.snapshot import SnapshotReader, market_path
from gridregime.snapshot.audit import audit_store
from gridregime.timeutil import to_utc_hour
from tests.snapshot.fixtures import build_store
from tests.snapshot.test_validation import RULES

SYMBOL = "BTC-USDT"
HISTORY = 6


def _volume_overflow(doc):
    doc["bars"]["volume"][3] = 1e308
    doc["bars"]["volume"][4] = 1e308
    doc["market_summary"]["volume"] = 1e308


def _nudge_close(doc):
    b = doc["bars"]
    i = next(i for i in range(len(b["close"]) - 1) if b["close"][i] < b["high"][i])
    b["close"][i] += 1


def _huge_single_volume(doc):  # valid on its own: 1e308 is a finite volume; the sum breaks cross-file
    doc["bars"]["volume"][0] = 1e308


EXTRA = [
    ("volume-sum-overflow", "1m", _volume_overflow),
    ("one-tick-close-1m", "1m", _nudge_close),
    ("one-tick-close-1h", "1h", _nudge_close),
    ("huge-volume-1m", "1m", _huge_single_volume),
]
CATALOGUE = [(name, tf, corrupt) for name, tf, corrupt, _field in RULES] + EXTRA


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("agree")
    hours = build_store(root, count=4, history_hours=HISTORY)
    return root, hours


def _hour_of(path: str):
    parts = Path(path).parts
    i = next(k for k in range(len(parts) - 4) if parts[k].isdigit() and len(parts[k]) == 4
             and all(p.isdigit() for p in parts[k:k + 4]))
    y, m, d, h = parts[i:i + 4]
    return to_utc_hour(f"{y}-{m}-{d}T{h}:00Z")


@pytest.mark.parametrize("which", ["middle", "newest"])
@pytest.mark.parametrize("name,timeframe,corrupt", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_item5_validate_and_batch_flag_the_same_hours(pristine, tmp_path, name, timeframe, corrupt, which):
    src, hours = pristine
    root = tmp_path / "s"
    shutil.copytree(src, root)
    hour = hours[1] if which == "middle" else hours[-1]
    path = market_path(root, SYMBOL, timeframe, hour)
    doc = orjson.loads(path.read_bytes())
    corrupt(doc)
    if name == "not-an-object":
        doc = [1, 2]
    path.write_bytes(orjson.dumps(doc))

    flagged_by_validate = {_hour_of(p) for p, _ in audit_store(root).bad}
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1], history_hours=HISTORY)
    flagged_by_batch = {p.hour for p in loaded.problems}
    assert hour in flagged_by_validate and hour in flagged_by_batch
    assert flagged_by_validate <= flagged_by_batch, (name, flagged_by_validate, flagged_by_batch)
    assert not set(loaded.hours) & flagged_by_validate
    extra = flagged_by_batch - flagged_by_validate
    assert all(h > hour for h in extra) and all("disagrees" in p.reason for p in loaded.problems if p.hour in extra)
    batch = RegimeAnalysisService(root).analyze_range(SYMBOL, hours[0], hours[-1])
    assert {f.hour for f in batch.failures} == flagged_by_batch
    assert not any(f.kind == "error" for f in batch.failures), [f.reason for f in batch.failures]
