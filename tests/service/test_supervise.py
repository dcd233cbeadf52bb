"""Batch runs that also drive recommendations and restart gates hour by hour."""
from __future__ import annotations

from datetime import timedelta

import pyarrow as pa

from gridregime.grid.supervisor import ROW_COLUMNS, GridSupervisor
from gridregime.service import ExecutionOptions, RegimeAnalysisService
from tests.service.conftest import REAL_START, SYN_HOURS, SYN_START, SYN_SYMBOLS, hours_between


def _per_hour_rows(service, symbol, hours):
    """Independent path: one-hour analyses, one supervisor stepped by hand."""
    sup = GridSupervisor(symbol, start_enabled=False)
    return [sup.step(service.analyze_timestamp(symbol, h)).row() for h in hours]


def test_supervised_batch_equals_stepping_one_hour_analyses(synthetic_store):
    service = RegimeAnalysisService(synthetic_store)
    end = SYN_START + timedelta(hours=SYN_HOURS - 1)
    batch = service.analyze_many(list(SYN_SYMBOLS), SYN_START, end, execution=ExecutionOptions(chunk_hours=7),
                                 keep_results=False, supervise=True)
    expected = [row for sym in SYN_SYMBOLS
                for row in _per_hour_rows(service, sym, hours_between(SYN_START, SYN_HOURS))]
    assert len(batch.grid_rows) == len(expected) == len(SYN_SYMBOLS) * SYN_HOURS
    for got, want in zip(batch.grid_rows, expected):
        assert got.keys() == want.keys()
        for key in ROW_COLUMNS:
            if isinstance(want[key], float):
                assert abs(got[key] - want[key]) <= 1e-9 * max(1.0, abs(want[key])), key
            else:
                assert got[key] == want[key], key
    table = batch.grid_table()
    assert table.column_names == list(ROW_COLUMNS) and table.num_rows == len(expected)
    # a run starts with no grid; the first grid is an ENABLE_GRID on a RANGE_OK hour
    assert all("initial" not in e for e in batch.grid_events().values())
    for sym in SYN_SYMBOLS:
        rows = [r for r in batch.grid_rows if r["symbol"] == sym]
        first = next((i for i, r in enumerate(rows) if r["grid_enabled"]), None)
        assert all(not r["grid_enabled"] and r["grid_lower"] is None for r in rows[:first])
        if first is not None:
            assert rows[first]["verdict"] == "RANGE_OK" and rows[first]["action"] == "ENABLE_GRID"
            assert rows[first]["events"] == "enable"
            assert rows[first]["grid_levels"] >= 2 and rows[first]["grid_spacing_mode"] == "ARITHMETIC"
            assert rows[first]["grid_allocation"] > 0


def test_supervision_persists_to_grid_dir_and_skips_missing_hours(real_store, tmp_path):
    service = RegimeAnalysisService(real_store)
    end = REAL_START + timedelta(hours=71)
    batch = service.analyze_many(["ETH-USDT"], REAL_START, end, supervise=True, grid_dir=tmp_path)
    analysed = [r["hour"] for r in batch.rows]
    assert [r["hour"] for r in batch.grid_rows] == analysed  # halt hours have no row, no step
    assert (tmp_path / "grids" / "ETH-USDT.jsonl").is_file()
    # a supervisor reopened on the same directory continues from the stored state
    reopened = GridSupervisor("ETH-USDT", store_dir=tmp_path)
    assert reopened.last_hour == analysed[-1]
    assert isinstance(pa.Table.from_pylist(batch.grid_rows), pa.Table)


def test_keep_bars_returns_the_bars_the_run_loaded(real_store):
    """keep_bars hands back the 1m bars of every analysed hour and the hourly history, as the store
    holds them, whatever the chunking."""
    from gridregime.snapshot import SnapshotReader

    service = RegimeAnalysisService(real_store)
    end = REAL_START + timedelta(hours=71)
    whole = SnapshotReader(real_store).load_range("ETH-USDT", REAL_START, end, history_hours=1000)
    for chunk in (None, 10):
        batch = service.analyze_many(["ETH-USDT"], REAL_START, end, keep_results=False, keep_bars=True,
                                     execution=ExecutionOptions(chunk_hours=chunk))
        hourly, minute = batch.bars("ETH-USDT")
        assert minute.equals(whole.minute)
        assert hourly.num_rows == whole.hourly.num_rows and hourly.equals(whole.hourly)
    assert RegimeAnalysisService(real_store).analyze_many(["ETH-USDT"], REAL_START, end).loaded == {}
