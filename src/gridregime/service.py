"""RegimeAnalysisService: analysis of stored snapshots, one hour or months at a time.

The one-hour path loads a snapshot and analyses it. The batch path loads a whole range once,
computes every feature with the rolling kernels over the whole series and classifies each hour
(:meth:`RegimeEngine.analyze_hours`); it equals the one-hour path hour by hour (property 75).
Batch work is split into tasks (symbol × time chunk) run serially, in a process pool or on a
Dask cluster; per-hour failures are collected, never fatal.

The equality holds when each snapshot's hourly history covers the rank window plus the longest
feature warm-up (720 + 168 bars with the defaults; snapshots hold 1000) or starts where the
batch run's series starts. A store written with a shorter ``history_hours`` ranks each hour over
less history than the batch path does, and the two paths then differ in their ranks.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from gridregime.analysis.engine import RegimeEngine
from gridregime.analysis.result import RegimeResult
from gridregime.bars import empty_bars, merge_bars
from gridregime.config import RegimeConfig
from gridregime.errors import InvalidParameterError
from gridregime.grid.settings import SupervisorSettings
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, hour_bounds, iso_z, to_utc_hour

EXECUTORS = ("serial", "process", "dask")

#: How a supervised run starts a symbol with no grid history (``GridSupervisor(start_enabled=...)``);
#: live collection reads it from here so that live hours and batch replay give the same states.
#: False: a run starts with no grid and the first grid follows the ENABLE_GRID rules (RANGE_OK).
SUPERVISE_START_ENABLED = False

RESULT_TABLE_SCHEMA = pa.schema(
    [
        ("symbol", pa.string()),
        ("hour", pa.timestamp("ms", tz="UTC")),
        ("status", pa.string()),
        ("verdict", pa.string()),
        ("direction", pa.int8()),
        ("confidence", pa.float64()),
        ("trend_score", pa.float64()),
        ("mean_rev_score", pa.float64()),
        ("vol_change_score", pa.float64()),
        ("range_quality_score", pa.float64()),
        ("grid_capacity", pa.int32()),
        ("range_lower", pa.float64()),
        ("range_upper", pa.float64()),
        ("range_method", pa.string()),
        ("price", pa.float64()),
        ("atr", pa.float64()),
        ("history_bars", pa.int32()),
        ("warming_up", pa.bool_()),
        ("grid_start_ok", pa.bool_()),
        ("config_hash", pa.string()),
    ]
)


@dataclass(frozen=True)
class ExecutionOptions:
    """How a batch run executes: never what it computes (every choice gives the same results).

    Parameters
    ----------
    workers : int, default 1
        Processes (``executor="process"``). Work is split over symbols and, when there are
        fewer symbols than workers, over time chunks; each chunk reads its own warm-up
        history from the snapshot files, so chunked results equal the serial run.
    executor : {"serial", "process", "dask"}, optional
        Default: "serial" for one worker, "process" otherwise.
    chunk_hours : int, optional
        Hours per task (default: split evenly so every worker has work).
    progress : bool, default False
        A progress bar on stderr.
    dask_client : distributed.Client, optional
        With ``executor="dask"``; default: a local cluster with ``workers`` processes.
    """

    workers: int = 1
    executor: str | None = None
    chunk_hours: int | None = None
    progress: bool = False
    dask_client: Any = None


@dataclass(frozen=True)
class HourFailure:
    """An hour that produced no result: ``kind`` is "missing", "invalid" or "error"."""

    symbol: str
    hour: datetime
    kind: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"symbol": self.symbol, "hour": iso_z(self.hour), "kind": self.kind, "reason": self.reason}


def result_row(result: RegimeResult) -> dict[str, Any]:
    """One row of the results table (see :data:`RESULT_TABLE_SCHEMA`)."""
    s, r = result.scores, result.chosen_range
    return {
        "symbol": result.symbol,
        "hour": result.hour,
        "status": result.status,
        "verdict": result.verdict.value if result.verdict is not None else None,
        "direction": int(result.direction),
        "confidence": float(result.confidence),
        "trend_score": s.trend if s else None,
        "mean_rev_score": s.mean_rev if s else None,
        "vol_change_score": s.vol_change if s else None,
        "range_quality_score": s.range_quality if s else None,
        "grid_capacity": s.grid_capacity if s else None,
        "range_lower": r.lower if r else None,
        "range_upper": r.upper if r else None,
        "range_method": r.method if r else None,
        "price": float(result.price),
        "atr": float(result.atr),
        "history_bars": None if result.data_quality is None else result.data_quality.history_bars,
        "warming_up": None if result.data_quality is None else result.data_quality.warming_up,
        "grid_start_ok": bool(result.grid_start_ok),
        "config_hash": result.config_hash,
    }


def write_parquet_atomic(table: pa.Table, path: str | os.PathLike) -> Path:
    """Write ``table`` as zstd Parquet to ``path`` atomically (temp file + fsync + rename)."""
    import pyarrow.parquet as pq

    from gridregime._atomic import atomic_write_bytes

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return atomic_write_bytes(path, sink.getvalue().to_pybytes())


@dataclass
class BatchResult:
    """What a batch run produced: results in (symbol, hour) order, failures, timings."""

    results: list[RegimeResult] = field(default_factory=list)
    failures: list[HourFailure] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    wall_time: float = 0.0
    tasks: int = 0
    grid_rows: list[dict[str, Any]] = field(default_factory=list)  # with supervise=True
    loaded: dict[str, list[tuple[pa.Table, pa.Table]]] = field(default_factory=dict)  # with keep_bars=True
    markets: list[Any] = field(default_factory=list)
    planned: tuple[datetime, datetime] | None = None  # the range actually planned (clipped to the store)

    @property
    def analysed(self) -> int:
        return sum(1 for r in self.rows if r["status"] == "ok")

    @property
    def insufficient(self) -> int:
        return sum(1 for r in self.rows if r["status"] != "ok")

    def verdict_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.rows:
            if r["status"] == "ok":
                counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        return dict(sorted(counts.items()))

    def skipped_reasons(self) -> dict[str, int]:
        """Skipped hours grouped by kind: missing / invalid / error / insufficient_data."""
        counts: dict[str, int] = {}
        for f in self.failures:
            counts[f.kind] = counts.get(f.kind, 0) + 1
        if self.insufficient:
            counts["insufficient_data"] = self.insufficient
        return dict(sorted(counts.items()))

    def to_table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=RESULT_TABLE_SCHEMA)

    def write_parquet(self, path: str | os.PathLike) -> Path:
        """Write the results table atomically (temp file + rename)."""
        return write_parquet_atomic(self.to_table(), path)

    def write_grid_parquet(self, path: str | os.PathLike) -> Path:
        """Write the grid supervisor's table atomically (``supervise=True`` runs)."""
        return write_parquet_atomic(self.grid_table(), path)

    def summary(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "hours_analysed": self.analysed,
            "hours_skipped": len(self.failures) + self.insufficient,
            "skipped_by_reason": self.skipped_reasons(),
            "verdicts": self.verdict_counts(),
            "warming_up_hours": sum(1 for r in self.rows if r.get("warming_up")),
            "wall_time_s": round(self.wall_time, 3),
        }

    def extend(self, other: _TaskOutput) -> None:
        self.results.extend(other.results)
        self.failures.extend(other.failures)
        self.rows.extend(other.rows)
        self.markets.extend(other.markets)
        if other.bars is not None:
            self.loaded.setdefault(other.bars[0], []).append(other.bars[1:])

    def bars(self, symbol: str) -> tuple[pa.Table, pa.Table]:
        """The hourly and 1m bars the run loaded for ``symbol`` (``keep_bars=True``): the chunks'
        1m bars in order, their hourly bars merged; empty tables when none were loaded."""
        parts = self.loaded.get(symbol, [])
        if not parts:
            return empty_bars(), empty_bars()
        minute = pa.concat_tables([m for _, m in parts])
        hourly = parts[0][0] if len(parts) == 1 else merge_bars([h for h, _ in parts])
        return hourly, minute

    def grid_table(self) -> pa.Table:
        """The grid supervisor's per-hour rows (``supervise=True``): action, gate phase, grid."""
        from gridregime.grid.supervisor import ROW_COLUMNS, rows_to_columns

        return pa.table(rows_to_columns(self.grid_rows)) if self.grid_rows else pa.table(
            {name: pa.array([], type=pa.null()) for name in ROW_COLUMNS})

    def grid_events(self) -> dict[str, dict[str, int]]:
        """Per symbol, how many hours carried each supervisor event (stop, restart, ...)."""
        out: dict[str, dict[str, int]] = {}
        for row in self.grid_rows:
            counts = out.setdefault(row["symbol"], {})
            for kind in filter(None, row["events"].split(",")):
                counts[kind] = counts.get(kind, 0) + 1
        return out


@dataclass(frozen=True)
class _Task:
    """One unit of batch work: a symbol over a chunk of hours (both ends inclusive)."""

    root: str
    symbol: str
    start: datetime
    end: datetime
    config: RegimeConfig
    write_analysis: bool
    keep_results: bool
    run_start: datetime  # first hour of the whole run: fixes where every chunk's series begins
    supervise: bool = False  # also return each hour's MarketState for the grid supervisor
    keep_bars: bool = False  # also return the loaded hourly and 1m bars (the backtest trades on them)


@dataclass
class _TaskOutput:
    results: list[RegimeResult]
    failures: list[HourFailure]
    rows: list[dict[str, Any]]
    hours: int
    markets: list[Any] = field(default_factory=list)
    bars: tuple[str, pa.Table, pa.Table] | None = None  # (symbol, hourly, minute) with keep_bars


def _run_task(task: _Task) -> _TaskOutput:
    """Load the chunk once, analyse every loaded hour in one pass (top-level: spawn-safe)."""
    from gridregime.snapshot import SnapshotReader, SnapshotStorage

    reader = SnapshotReader(task.root)
    engine = RegimeEngine(task.config)
    failures: list[HourFailure] = []
    n_hours = int((task.end - task.start) / HOUR) + 1
    try:
        history = task.config.for_symbol(task.symbol).history_hours
        # every chunk's series starts where the whole run's does: features depend (in their
        # last bits, through recursive smoothers) on where the series starts
        loaded = reader.load_range(task.symbol, task.start, task.end, history_hours=history,
                                   series_start=task.run_start)
        hourly, minute, hours, problems = loaded.hourly, loaded.minute, loaded.hours, loaded.problems
    except Exception as exc:  # a broken chunk must not stop the run
        failures.append(HourFailure(task.symbol, task.start, "error", f"{type(exc).__name__}: {exc}"))
        return _TaskOutput([], failures, [], n_hours)
    for p in problems:
        failures.append(HourFailure(task.symbol, p.hour, p.kind, p.reason))
    results: list[RegimeResult] = []
    try:
        results = engine.analyze_hours(task.symbol, hourly, minute, hours)
    except Exception:
        # Fall back to hour-by-hour so one bad hour costs only itself.
        for hour in hours:
            try:
                results.extend(engine.analyze_hours(task.symbol, hourly, minute, [hour]))
            except Exception as exc:
                failures.append(HourFailure(task.symbol, hour, "error", f"{type(exc).__name__}: {exc}"))
    if task.write_analysis:
        storage = SnapshotStorage(task.root)
        for r in results:
            storage.write_analysis(r.symbol, r.hour, r.to_json())
    rows = [result_row(r) for r in results]
    markets = []
    if task.supervise:  # the small per-hour view the grid layer reads, cheap to send back
        from gridregime.grid.inputs import market_state_from_result

        markets = [market_state_from_result(r) for r in results]
    bars = (task.symbol, hourly, minute) if task.keep_bars else None
    return _TaskOutput(results if task.keep_results else [], failures, rows, n_hours, markets, bars)


class RegimeAnalysisService:
    """Analyse stored snapshots.

    Parameters
    ----------
    reader : SnapshotReader or path
        Where the snapshots are; a path builds a ``SnapshotReader``.
    config : RegimeConfig, optional
        Thresholds and windows (defaults of SPEC §5); per-symbol overrides apply.
    """

    def __init__(self, reader: Any, config: RegimeConfig | None = None) -> None:
        from gridregime.snapshot import SnapshotReader

        self.reader = reader if isinstance(reader, SnapshotReader) else SnapshotReader(reader)
        self.config = config if config is not None else RegimeConfig()
        self.engine = RegimeEngine(self.config)

    @property
    def root(self) -> Path:
        return Path(self.reader.root)

    # -- one hour -------------------------------------------------------------------------------
    def analyze_timestamp(self, symbol: str, hour: Any, grid_config: Any = None) -> RegimeResult:
        """Analyse one hour from its snapshot (exactly what a live hourly run computes)."""
        snapshot = self.reader.load_snapshot(validate_symbol(symbol), to_utc_hour(hour))
        return self.engine.analyze_from_snapshot(snapshot, grid_config)

    # -- many hours -----------------------------------------------------------------------------
    def analyze_range(self, symbol: str, start: Any, end: Any, **kwargs: Any) -> BatchResult:
        """Analyse every stored hour of one symbol from ``start`` to ``end`` (inclusive)."""
        return self.analyze_many([symbol], start, end, **kwargs)

    def analyze_many(
        self,
        symbols: Sequence[str],
        start: Any,
        end: Any,
        *,
        execution: ExecutionOptions | None = None,
        write_analysis: bool = False,
        keep_results: bool = True,
        keep_bars: bool = False,
        supervise: bool | SupervisorSettings = False,
        grid_dir: str | os.PathLike | None = None,
    ) -> BatchResult:
        """Analyse every stored hour of several symbols.

        Parameters
        ----------
        symbols : sequence of str
        start, end : hour-like
            First and last hour, inclusive.
        execution : ExecutionOptions, optional
            Workers, executor, chunk size, progress bar, Dask client (default: serial, one
            chunk per symbol, no progress bar).
        write_analysis : bool
            Also write each hour's ``_regime.json`` next to its snapshot.
        keep_bars : bool
            Also keep the hourly and 1m bars each task loaded (:meth:`BatchResult.bars`), so that
            a caller trading on them (the backtest) does not read the store twice.
        keep_results : bool
            Return the full ``RegimeResult`` objects (False keeps only the table rows: less
            memory and less inter-process traffic for month-long runs).
        supervise : bool or SupervisorSettings
            Also drive recommendations and the restart gates hour by hour
            (:class:`gridregime.grid.GridSupervisor`; a symbol starts with no grid and its first
            grid follows the ENABLE_GRID rules, see :data:`SUPERVISE_START_ENABLED`); rows in ``BatchResult.grid_rows``. Gates are
            sequential, so this runs in the parent, per symbol, after the analysis. ``True``
            supervises with the default gate and grid settings, a
            :class:`gridregime.grid.settings.SupervisorSettings` with those.
        grid_dir : path, optional
            With ``supervise``: where grid histories and gate states persist (default: memory).

        Returns
        -------
        BatchResult
            Results and rows in (symbol, hour) order, failures with reasons, wall time.
        """
        t0 = time.perf_counter()
        run = execution if execution is not None else ExecutionOptions()
        workers = run.workers
        symbols = [validate_symbol(s, name="symbols") for s in symbols]
        if not symbols:
            raise InvalidParameterError("symbols: expected at least one symbol")
        start, end = hour_bounds(start, end)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidParameterError(f"workers: expected an integer >= 1, got {workers!r}")
        executor = run.executor or ("serial" if workers == 1 else "process")
        if executor not in EXECUTORS:
            raise InvalidParameterError(f"executor: expected one of {EXECUTORS}, got {executor!r}")
        # plan only what the store can hold: a range reaching far beyond it costs nothing
        span = self.reader.span() if hasattr(self.reader, "span") else (start, end)
        planned = None if span is None else (max(start, span[0]), min(end, span[1]))
        if planned is not None and planned[0] > planned[1]:
            planned = None
        tasks = [] if planned is None else self._plan(symbols, planned[0], planned[1], workers, run.chunk_hours,
                                                      write_analysis, keep_results)
        if supervise or keep_bars:
            tasks = [dataclasses.replace(t, supervise=bool(supervise), keep_bars=keep_bars) for t in tasks]
        outputs = _execute(tasks, executor, workers, run.progress, run.dask_client)
        batch = BatchResult(tasks=len(tasks), planned=planned)
        for out in outputs:  # tasks were planned in (symbol, time) order
            batch.extend(out)
        if supervise:
            from gridregime.grid.supervisor import supervise_results

            chosen = supervise if isinstance(supervise, SupervisorSettings) else SupervisorSettings()
            batch.grid_rows = supervise_results(batch.markets, store_dir=grid_dir, gate_config=chosen.gates,
                                               policy=chosen.policy, start_enabled=SUPERVISE_START_ENABLED)
        batch.wall_time = time.perf_counter() - t0
        return batch

    def _plan(self, symbols, start, end, workers, chunk_hours, write_analysis, keep_results) -> list[_Task]:
        n_hours = int((end - start) / HOUR) + 1
        if chunk_hours is None:
            per_symbol = max(1, -(-workers // len(symbols)))  # ceil: every worker gets work
            chunk_hours = -(-n_hours // per_symbol)
        if isinstance(chunk_hours, bool) or not isinstance(chunk_hours, int) or chunk_hours < 1:
            raise InvalidParameterError(f"chunk_hours: expected an integer >= 1, got {chunk_hours!r}")
        tasks = []
        for sym in symbols:
            chunk_start = start
            while chunk_start <= end:
                chunk_end = end if end - chunk_start <= (chunk_hours - 1) * HOUR else \
                    chunk_start + (chunk_hours - 1) * HOUR
                tasks.append(_Task(str(self.root), sym, chunk_start, chunk_end, self.config,
                                   write_analysis, keep_results, start))
                if chunk_end >= end:
                    break
                chunk_start = chunk_end + HOUR
        return tasks


def _execute(tasks: list[_Task], executor: str, workers: int, progress: bool, dask_client: Any) -> list[_TaskOutput]:
    """Run tasks; return their outputs in task order whatever order they finish in."""
    from tqdm import tqdm

    bar = tqdm(total=sum(int((t.end - t.start) / HOUR) + 1 for t in tasks), unit="h",
               desc="analysing", disable=not progress, leave=False)
    outputs: list[_TaskOutput | None] = [None] * len(tasks)
    try:
        if executor == "serial" or (executor == "process" and workers == 1):
            for i, task in enumerate(tasks):
                outputs[i] = _run_task(task)
                bar.update(outputs[i].hours)
        elif executor == "process":
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # spawn: no inherited locks or Arrow thread pools from the parent; same on every OS.
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
                futures = {pool.submit(_run_task, t): i for i, t in enumerate(tasks)}
                for fut in as_completed(futures):
                    i = futures[fut]
                    outputs[i] = _collect(fut, tasks[i])
                    bar.update(outputs[i].hours)
        else:
            outputs = _execute_dask(tasks, workers, dask_client, bar)
    finally:
        bar.close()
    return outputs  # type: ignore[return-value]


def _collect(fut, task: _Task) -> _TaskOutput:
    try:
        return fut.result()
    except Exception as exc:  # a crashed worker fails its task, not the run
        n = int((task.end - task.start) / HOUR) + 1
        failure = HourFailure(task.symbol, task.start, "error",
                              f"task {iso_z(task.start)}..{iso_z(task.end)} failed: {type(exc).__name__}: {exc}")
        return _TaskOutput([], [failure], [], n)


def _execute_dask(tasks: list[_Task], workers: int, client: Any, bar) -> list[_TaskOutput]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise InvalidParameterError(
            "executor: 'dask' needs the optional extra: pip install 'gridregime[dask]'"
        ) from exc
    own = client is None
    if own:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(_run_task, tasks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        outputs: list[_TaskOutput | None] = [None] * len(tasks)
        for fut in as_completed(futures):
            i = index[fut.key]
            outputs[i] = _collect(fut, tasks[i])
            bar.update(outputs[i].hours)
        return outputs  # type: ignore[return-value]
    finally:
        if own:
            client.close()
            cluster.close()

