"""Snapshot files respect the umask: 0644 under the usual 022, 0600 under 077, 0664 under 002."""
from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest

from gridregime._atomic import atomic_write_bytes
from gridregime.snapshot import SnapshotStorage, market_path
from tests.snapshot.fixtures import complete_hours, hour_inputs, read_minutes


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_item11_snapshot_files_respect_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    minutes = read_minutes()
    hour = complete_hours(minutes)[3]
    minute, hourly = hour_inputs(minutes, hour, 24)
    storage = SnapshotStorage(tmp_path, history_hours=24)
    storage.write_hour("BTC-USDT", hour, minute, hourly, source="binance", collected_at=hour + timedelta(hours=1))
    analysis = storage.write_analysis("BTC-USDT", hour, {"verdict": "RANGE_OK"})
    for path in (market_path(tmp_path, "BTC-USDT", "1m", hour), market_path(tmp_path, "BTC-USDT", "1h", hour),
                 analysis, atomic_write_bytes(tmp_path / "other.bin", b"x")):
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, path
