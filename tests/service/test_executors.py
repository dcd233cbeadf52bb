"""Serial, chunked, process-pool and Dask runs give identical tables, in (symbol, hour) order."""
from __future__ import annotations

import importlib.util
from datetime import timedelta

import pytest

from gridregime.errors import InvalidParameterError
from gridregime.service import ExecutionOptions, RegimeAnalysisService
from tests.service.conftest import (
    REAL_END,
    REAL_START,
    REAL_SYMBOL,
    SYN_HOURS,
    SYN_START,
    SYN_SYMBOLS,
)
from tests.service.helpers import assert_tables_identical

END = SYN_START + timedelta(hours=SYN_HOURS - 1)


@pytest.fixture(scope="module")
def serial_table(synthetic_store):
    batch = RegimeAnalysisService(synthetic_store).analyze_many(list(SYN_SYMBOLS), SYN_START, END)
    assert batch.failures == [] and batch.tasks == len(SYN_SYMBOLS)
    return batch.to_table()


def test_serial_rows_are_in_symbol_then_hour_order(serial_table):
    keys = list(zip(serial_table["symbol"].to_pylist(), serial_table["hour"].to_pylist()))
    expected = [(s, SYN_START + timedelta(hours=k)) for s in SYN_SYMBOLS for k in range(SYN_HOURS)]
    assert [(s, h) for s, h in keys] == expected


@pytest.mark.parametrize("chunk_hours", [1, 5, 13])
def test_time_chunks_equal_the_unchunked_run(synthetic_store, serial_table, chunk_hours):
    """Each chunk loads its own warm-up history; the table is identical, bit for bit."""
    batch = RegimeAnalysisService(synthetic_store).analyze_many(
        list(SYN_SYMBOLS), SYN_START, END, execution=ExecutionOptions(executor="serial", chunk_hours=chunk_hours))
    assert batch.tasks == len(SYN_SYMBOLS) * -(-SYN_HOURS // chunk_hours)
    assert_tables_identical(batch.to_table(), serial_table)


def test_one_symbol_is_split_over_time_so_every_worker_has_work(synthetic_store, serial_table):
    # the plan depends on workers only; running it serially shows the split and its result
    batch = RegimeAnalysisService(synthetic_store).analyze_many(
        [SYN_SYMBOLS[0]], SYN_START, END, execution=ExecutionOptions(workers=2, executor="serial"), keep_results=False)
    assert batch.tasks == 2 and batch.results == []
    assert_tables_identical(batch.to_table(), serial_table.slice(0, SYN_HOURS))


def test_process_pool_with_time_chunks_equals_serial(synthetic_store, serial_table):
    # small chunks over two symbols (spawned workers), so tasks finish out of order
    batch = RegimeAnalysisService(synthetic_store).analyze_many(
        list(SYN_SYMBOLS), SYN_START, END, execution=ExecutionOptions(workers=2, chunk_hours=7))
    assert batch.tasks == 2 * 6
    assert_tables_identical(batch.to_table(), serial_table)
    assert [(r.symbol, r.hour) for r in batch.results] == [(r["symbol"], r["hour"]) for r in batch.rows]


def test_process_pool_reports_the_same_failures_as_serial(real_store):
    service = RegimeAnalysisService(real_store)
    last = REAL_END - timedelta(hours=1)
    serial = service.analyze_range(REAL_SYMBOL, REAL_START, last)
    pooled = service.analyze_range(REAL_SYMBOL, REAL_START, last, execution=ExecutionOptions(workers=2, chunk_hours=24))
    assert pooled.tasks == 3
    assert_tables_identical(pooled.to_table(), serial.to_table())
    assert pooled.failures == serial.failures and len(serial.failures) == 3


def test_dask_executor_equals_serial(synthetic_store, serial_table):
    if importlib.util.find_spec("distributed") is None:
        with pytest.raises(InvalidParameterError, match="executor: 'dask' needs"):
            RegimeAnalysisService(synthetic_store).analyze_many(
                list(SYN_SYMBOLS), SYN_START, END, execution=ExecutionOptions(executor="dask", workers=1))
        return
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        batch = RegimeAnalysisService(synthetic_store).analyze_many(
            list(SYN_SYMBOLS), SYN_START, END,
            execution=ExecutionOptions(executor="dask", chunk_hours=10, dask_client=client))
    assert_tables_identical(batch.to_table(), serial_table)


@pytest.mark.parametrize("kwargs, match", [
    ({"workers": 0}, "workers: expected an integer >= 1"),
    ({"workers": True}, "workers: expected an integer >= 1"),
    ({"executor": "threads"}, "executor: expected one of"),
    ({"chunk_hours": 0}, "chunk_hours: expected an integer >= 1"),
])
def test_bad_parameters_are_named(synthetic_store, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        RegimeAnalysisService(synthetic_store).analyze_many(list(SYN_SYMBOLS), SYN_START, END,
                                                            execution=ExecutionOptions(**kwargs))


def test_bad_symbols_and_ranges_are_named(synthetic_store):
    service = RegimeAnalysisService(synthetic_store)
    with pytest.raises(InvalidParameterError, match="symbols"):
        service.analyze_many(["../etc"], SYN_START, END)
    with pytest.raises(InvalidParameterError, match="symbols: expected at least one"):
        service.analyze_many([], SYN_START, END)
    with pytest.raises(InvalidParameterError, match="end: expected >= start"):
        service.analyze_range(SYN_SYMBOLS[0], END, SYN_START)
    with pytest.raises(InvalidParameterError, match="start"):
        service.analyze_range(SYN_SYMBOLS[0], "yesterday", END)


def test_time_chunks_equal_the_unchunked_run_when_snapshots_hold_short_histories(tmp_path):
    """1h files holding fewer hours than ``history_hours``: a later chunk cannot join its
    history from a few files and loads the whole span instead; the table is still identical
    (every hour here lacks the history for ranks, but ATR and the gap count show any hole)."""
    from gridregime.collect import SyntheticSource, import_snapshots
    from gridregime.snapshot import SnapshotStorage

    import_snapshots(SyntheticSource(5), "SOL-USDT", SYN_START, SYN_START + timedelta(hours=40),
                     SnapshotStorage(tmp_path), history_hours=12)
    service = RegimeAnalysisService(tmp_path)
    end = SYN_START + timedelta(hours=39)
    whole = service.analyze_range("SOL-USDT", SYN_START, end)
    assert whole.failures == [] and len(whole.results) == 40
    assert all(r.data_quality.hourly_gaps == 0 for r in whole.results)
    for chunk_hours in (7, 10):
        chunked = service.analyze_range("SOL-USDT", SYN_START, end, execution=ExecutionOptions(chunk_hours=chunk_hours))
        assert_tables_identical(chunked.to_table(), whole.to_table())
        assert [r.to_dict() for r in chunked.results] == [r.to_dict() for r in whole.results]
