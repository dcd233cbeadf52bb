"""A directory symlink planted inside the store never makes a write land outside it: import and
every storage write refuse with an error naming the path, and nothing is written elsewhere."""
from __future__ import annotations

from datetime import timedelta

import pytest

from gridregime.cli import main
from gridregime.snapshot import SnapshotConflictError, SnapshotStorage
from tests.snapshot.fixtures import (
    build_store,
    complete_hours,
    hour_inputs,
    read_minutes,
)

SYMBOL = "BTC-USDT"


@pytest.mark.parametrize("level", ["year", "month", "day", "hour"])
def test_item7_symlinked_directory_pointing_outside_is_refused(tmp_path, level):
    root = tmp_path / "store"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    minutes = read_minutes()
    hour = complete_hours(minutes)[5]
    parts = [f"{hour.year:04d}", f"{hour.month:02d}", f"{hour.day:02d}", f"{hour.hour:02d}"]
    depth = ["year", "month", "day", "hour"].index(level) + 1
    link = root.joinpath(*parts[:depth])
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    minute, hourly = hour_inputs(minutes, hour, 24)
    storage = SnapshotStorage(root, history_hours=24)
    with pytest.raises(SnapshotConflictError, match="refusing to write outside the store"):
        storage.write_hour(SYMBOL, hour, minute, hourly, source="binance", collected_at=hour + timedelta(hours=1))
    with pytest.raises(SnapshotConflictError, match="outside the store"):
        storage.write_analysis(SYMBOL, hour, {"ok": True})
    assert list(elsewhere.rglob("*")) == []


def test_item7_symlink_inside_the_store_is_allowed(tmp_path):
    root = tmp_path / "store"
    hours = build_store(root, count=1, history_hours=24)
    hour = hours[0] + timedelta(hours=1)
    real = root / "real"
    real.mkdir()
    day = root / f"{hour.year:04d}" / f"{hour.month:02d}" / f"{hour.day:02d}" / f"{hour.hour:02d}"
    if not day.exists():
        day.symlink_to(real, target_is_directory=True)
    minute, hourly = hour_inputs(read_minutes(), hour, 24)
    SnapshotStorage(root, history_hours=24).write_hour(SYMBOL, hour, minute, hourly, source="binance",
                                                       collected_at=hour + timedelta(hours=1))


def test_item7_import_command_refuses_with_one_line(tmp_path, data_dir, capsys):
    root = tmp_path / "store"
    (root / "2025" / "06").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "2025" / "06" / "02").symlink_to(elsewhere, target_is_directory=True)
    code = main(["import", "--out", str(root), "--source", f"parquet:{data_dir}",
                 "--symbol", SYMBOL, "--start", "2025-06-02T00:00Z", "--end", "2025-06-02T03:00Z", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "outside the store" in err and "Traceback" not in err
    assert list(elsewhere.rglob("*")) == []
