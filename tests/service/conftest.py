"""Snapshot stores shared by the service tests: a synthetic one and one built from the committed
real ETH-USDT slice (which contains an exchange halt)."""
from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridregime.collect import SyntheticSource, import_snapshots
from gridregime.collect.sources import ParquetDirSource
from gridregime.snapshot import SnapshotStorage

SYN_SYMBOLS = ("ETH-USDT", "BTC-USDT")
SYN_START = datetime(2024, 3, 1, tzinfo=UTC)
SYN_HOURS = 36

REAL_SYMBOL = "ETH-USDT"
REAL_START = datetime(2021, 4, 19, tzinfo=UTC)
REAL_END = datetime(2021, 4, 22, tzinfo=UTC)  # exclusive: 72 hours
# The halt of 2021-04-20: no minutes from 02:00 to 04:29, so three hours have no snapshot.
HALT_HOURS = (datetime(2021, 4, 20, 2, tzinfo=UTC), datetime(2021, 4, 20, 3, tzinfo=UTC),
              datetime(2021, 4, 20, 4, tzinfo=UTC))


def hours_between(start: datetime, n: int) -> list[datetime]:
    return [start + timedelta(hours=k) for k in range(n)]


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory) -> Path:
    """Two synthetic symbols, SYN_HOURS hours each, with a full 1000-hour history per snapshot."""
    root = tmp_path_factory.mktemp("synthetic_store")
    storage = SnapshotStorage(root)
    for seed, symbol in enumerate(SYN_SYMBOLS, start=11):
        report = import_snapshots(SyntheticSource(seed), symbol, SYN_START,
                                  SYN_START + timedelta(hours=SYN_HOURS), storage)
        assert len(report.written) == SYN_HOURS
    return root


@pytest.fixture(scope="session")
def real_store(tmp_path_factory, data_dir) -> Path:
    """The real 1m slice of 2021-04-19..21, history seeded from the committed 1h slice."""
    root = tmp_path_factory.mktemp("real_store")
    source = ParquetDirSource(data_dir)
    report = import_snapshots(source, REAL_SYMBOL, REAL_START, REAL_END, SnapshotStorage(root),
                              history_source=source)
    assert tuple(s.hour for s in report.skipped) == HALT_HOURS
    return root


@pytest.fixture
def store_copy(tmp_path):
    """Copy a session store so that a test may damage it."""
    def copy(src: Path) -> Path:
        dst = tmp_path / "copy"
        shutil.copytree(src, dst)
        return dst
    return copy
