"""Live collection: store the hour that just closed, analyse it from the files, step the grid.

:class:`MetricsCollector` is what an hourly trigger (cron, the n8n webhook of
:mod:`gridregime.server`) calls. For each symbol and the hour just closed it

1. fetches the hour's 60 minutes from the source and checks they are all there (an incomplete
   hour is never written: the answer says why, and a later trigger may try again);
2. builds the hourly history: the previous hour's stored 1h file plus the new bar (aggregated
   from the minutes, so the cross-file rule holds), or the source's hourly bars when the previous
   hour was not stored;
3. writes both market files (validated, atomic, immutable);
4. analyses the hour *from the stored files* (exactly what a batch replay reads) and writes
   ``_regime.json``;
5. steps the symbol's :class:`~gridregime.grid.supervisor.GridSupervisor` (state persisted under
   ``grid_dir``, started as :data:`gridregime.service.SUPERVISE_START_ENABLED` says, like a batch
   run with ``supervise=True``), so live hours and a replay give the same grid states;
6. writes the per-market YAML summary last. Its presence marks the (symbol, hour) as done.

Idempotency: a (symbol, hour) whose summary exists is answered from the stored files and nothing
is written. Concurrency: one writer per symbol at a time (a thread lock inside the process and a
file lock across processes); the others wait and then find the summary. A crash at any point
leaves whole files only; the next trigger finishes the hour (stored market files are reused, and a
supervisor step that was saved but not summarised is replayed from the state saved before it).
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from gridregime._atomic import atomic_write_bytes
from gridregime.bars import aggregate_hourly, slice_time, ts_ms
from gridregime.collect.summary import build_summary, dump_summary, load_summary
from gridregime.config import RegimeConfig
from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.snapshot import SnapshotError, SnapshotStorage, read_market_file
from gridregime.snapshot.paths import analysis_path, market_path, summary_path
from gridregime.symbols import validate_symbol
from gridregime.timeutil import (
    HOUR,
    MINUTE_MS,
    UTC,
    floor_hour,
    iso_z,
    to_ms,
    to_utc,
    to_utc_hour,
)

log = logging.getLogger("gridregime.collect")

#: Earliest hour the collector accepts (guards against nonsense trigger times).
EARLIEST_HOUR = datetime(2000, 1, 1, tzinfo=UTC)

STATUSES = ("ok", "insufficient_data", "incomplete", "error")


@dataclass(frozen=True)
class SymbolOutcome:
    """What one (symbol, hour) gave.

    ``status``: ``ok`` (analysed), ``insufficient_data`` (stored and analysed, too little history
    for a verdict), ``incomplete`` (the source lacks minutes of the hour: nothing written) or
    ``error`` (``reason`` says what; nothing half-written). ``files`` are relative to the store
    root. The other fields come from the stored summary, so a repeat gives the same outcome.
    """

    symbol: str
    hour: str
    status: str
    reason: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    verdict: str | None = None
    confidence: float | None = None
    range: dict[str, Any] | None = None
    action: str | None = None
    actionable: bool = False
    grid_enabled: bool = False
    gate_phase: str | None = None
    time_floor_hours_left: int | None = None

    @classmethod
    def from_summary(cls, doc: dict[str, Any]) -> SymbolOutcome:
        rec, gates, rng = doc.get("recommendation") or {}, doc.get("gates") or {}, doc.get("range")
        return cls(
            symbol=doc["symbol"], hour=doc["hour"], status=doc["status"], reason=doc.get("reason"),
            files=dict(doc.get("files") or {}), verdict=doc.get("verdict"), confidence=doc.get("confidence"),
            range=None if rng is None else {k: rng.get(k) for k in ("method", "lower", "upper")},
            action=rec.get("action"), actionable=bool(rec.get("actionable", False)),
            grid_enabled=bool((doc.get("grid") or {}).get("enabled", False)),
            gate_phase=gates.get("phase"), time_floor_hours_left=gates.get("time_floor_hours_left"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "hour": self.hour, "status": self.status, "reason": self.reason,
                "files": dict(self.files), "verdict": self.verdict, "confidence": self.confidence,
                "range": self.range, "action": self.action, "actionable": self.actionable,
                "grid_enabled": self.grid_enabled, "gate_phase": self.gate_phase,
                "time_floor_hours_left": self.time_floor_hours_left}


@dataclass(frozen=True)
class CollectReport:
    """One trigger's answer: the hour and one :class:`SymbolOutcome` per symbol, in request order."""

    hour: datetime
    results: tuple[SymbolOutcome, ...]
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The webhook's JSON answer (SPEC §9)."""
        return {"status": "ok", "hour": iso_z(self.hour), "results": [r.to_dict() for r in self.results],
                "duration_ms": round(self.duration_ms, 3)}

    @property
    def complete(self) -> bool:
        """True when every symbol was stored and analysed (``ok`` or ``insufficient_data``)."""
        return all(r.status in ("ok", "insufficient_data") for r in self.results)


def closed_hour(trigger_time: object = None, *, name: str = "trigger_time") -> datetime:
    """The hour that had just closed at ``trigger_time`` (default: now): 14:00:05 → 13:00."""
    when = datetime.now(UTC) if trigger_time is None else to_utc(trigger_time, name=name)
    if when < EARLIEST_HOUR + HOUR:
        raise InvalidParameterError(f"{name}: expected a time after {iso_z(EARLIEST_HOUR)}, got {when.isoformat()}")
    hour = floor_hour(when) - HOUR
    if hour < EARLIEST_HOUR:
        raise InvalidParameterError(f"{name}: expected a time after {iso_z(EARLIEST_HOUR)}, got {iso_z(when)}")
    return hour


def check_hour(hour: object, *, name: str = "hour") -> datetime:
    """An hour to collect: on the hour, not before 2000, already closed (by the local clock)."""
    h = to_utc_hour(hour, name=name)
    if h < EARLIEST_HOUR:
        raise InvalidParameterError(f"{name}: expected an hour from {iso_z(EARLIEST_HOUR)} on, got {iso_z(h)}")
    if h + HOUR > datetime.now(UTC) + timedelta(minutes=5):
        raise InvalidParameterError(f"{name}: expected an hour that has closed, got {iso_z(h)}")
    return h


def source_has_symbol(source: Any, symbol: str) -> bool:
    """Whether ``source`` knows ``symbol`` (sources that cannot tell say yes)."""
    has = getattr(source, "has_symbol", None)
    if callable(has):
        return bool(has(symbol))
    files = getattr(source, "files", None)
    if callable(files):
        try:
            return bool(files(symbol))
        except GridRegimeError:
            return False
    return True


class _SymbolLocks:
    """One writer per symbol: a thread lock (this process), then a file lock (other processes)."""

    def __init__(self, directory: Path, timeout: float) -> None:
        self.directory = directory
        self.timeout = timeout
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def hold(self, symbol: str):
        from contextlib import contextmanager

        with self._guard:
            lock = self._locks.setdefault(symbol, threading.Lock())

        @contextmanager
        def held():
            if not lock.acquire(timeout=self.timeout):
                raise CollectBusyError(f"symbol {symbol}: another collection held it for {self.timeout:g} s")
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                with _process_lock(self.directory / f"{symbol}.lock", self.timeout, symbol):
                    yield
            finally:
                lock.release()

        return held()


@contextlib.contextmanager
def _process_lock(path: Path, timeout: float, symbol: str):
    """An exclusive lock on ``path`` across processes (``flock``; filelock where there is none)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        from filelock import FileLock, Timeout

        try:
            with FileLock(str(path), timeout=timeout):
                yield
        except Timeout:
            raise CollectBusyError(f"symbol {symbol}: another process held its lock for {timeout:g} s") from None
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CollectBusyError(
                        f"symbol {symbol}: another process held its lock for {timeout:g} s") from None
                time.sleep(0.005)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class CollectBusyError(GridRegimeError):
    """Another collection of the same symbol held its lock for longer than the timeout."""


class MetricsCollector:
    """Collect, store, analyse and supervise the hour that just closed (SPEC §9).

    Parameters
    ----------
    source : DataSource
        Where minutes (and, when the previous hour is not stored, hourly history) come from.
    root : path-like
        The snapshot store.
    config : RegimeConfig, optional
        Analysis thresholds; its ``history_hours`` sets how many hourly bars a 1h file keeps.
    grid_dir : path-like, optional
        Where the grid supervisor keeps each symbol's grid history and gate state
        (default ``<root>/grid``). ``supervise=False`` skips the supervisor.
    lock_timeout : float
        Seconds a trigger waits for another collection of the same symbol.
    threads : int
        Symbols of one trigger collected at once (each has its own lock; results keep the order of
        the symbols). 1 (the default) collects them one after the other: the work is mostly
        Python holding the GIL, and with 20 symbols 2 and 4 threads measured 35 % and 55 % slower
        than 1 (``tools/bench_collect.py``); more threads help only a source that waits on the
        network.
    """

    def __init__(self, source: Any, root: str | os.PathLike, *, config: RegimeConfig | None = None,
                 grid_dir: str | os.PathLike | None = None, supervise: bool = True,
                 lock_timeout: float = 120.0, threads: int = 1) -> None:
        if not hasattr(source, "fetch_ohlcv"):
            raise InvalidParameterError(f"source: expected a DataSource with fetch_ohlcv(), got {type(source).__name__}")
        from gridregime.service import RegimeAnalysisService

        self.source = source
        self.source_name = str(getattr(source, "name", type(source).__name__))
        self.root = Path(root)
        self.config = config if config is not None else RegimeConfig()
        self.storage = SnapshotStorage(self.root)
        self.service = RegimeAnalysisService(self.root, self.config)
        self.supervise = bool(supervise)
        self.grid_dir = self.root / "grid" if grid_dir is None else Path(grid_dir)
        if not isinstance(lock_timeout, (int, float)) or isinstance(lock_timeout, bool) or lock_timeout <= 0:
            raise InvalidParameterError(f"lock_timeout: expected seconds > 0, got {lock_timeout!r}")
        self._locks = _SymbolLocks(self.root / ".locks", float(lock_timeout))
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidParameterError(f"threads: expected an integer >= 1, got {threads!r}")
        self.threads = threads
        self._outcomes: dict[tuple[str, datetime], tuple[tuple[int, int, int], SymbolOutcome]] = {}
        self._outcomes_guard = threading.Lock()
        self.max_remembered = 10_000

    # -- public API ------------------------------------------------------------------------------
    def collect(self, trigger_time: object = None, symbols: Sequence[str] = ()) -> CollectReport:
        """Collect the hour that had just closed at ``trigger_time`` (default: now) for ``symbols``."""
        return self.collect_hour(closed_hour(trigger_time), symbols)

    def collect_hour(self, hour: object, symbols: Sequence[str]) -> CollectReport:
        """Collect one given (closed) hour for ``symbols``; outcomes in the order of ``symbols``."""
        t0 = time.perf_counter()
        hour = check_hour(hour)
        symbols = self.check_symbols(symbols)
        if self.threads > 1 and len(symbols) > 1:
            # symbols are independent (one lock each); threads overlap the fsyncs of their writes
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(self.threads, len(symbols))) as pool:
                results = tuple(pool.map(lambda sym: self._collect_one(sym, hour), symbols))
        else:
            results = tuple(self._collect_one(sym, hour) for sym in symbols)
        return CollectReport(hour, results, (time.perf_counter() - t0) * 1000.0)

    def collect_range(self, start: object, end: object, symbols: Sequence[str]) -> list[CollectReport]:
        """Backfill: every hour from ``start`` to ``end`` (inclusive), in order, through :meth:`collect_hour`."""
        start = check_hour(start, name="start")
        end = check_hour(end, name="end")
        if end < start:
            raise InvalidParameterError(f"end: expected an hour >= start ({iso_z(start)}), got {iso_z(end)}")
        symbols = self.check_symbols(symbols)
        out = []
        hour = start
        while hour <= end:
            out.append(self.collect_hour(hour, symbols))
            hour += HOUR
        return out

    def check_symbols(self, symbols: Iterable[str], *, name: str = "symbols") -> list[str]:
        """Validated, de-duplicated symbols the source knows (errors name ``name``)."""
        if isinstance(symbols, str) or not isinstance(symbols, Iterable):
            raise InvalidParameterError(f"{name}: expected a list of symbols such as ['ETH-USDT'], got {symbols!r}")
        out: list[str] = []
        for s in symbols:
            s = validate_symbol(s, name=name)
            if s not in out:
                out.append(s)
        if not out:
            raise InvalidParameterError(f"{name}: expected at least one symbol such as 'ETH-USDT'")
        unknown = [s for s in out if not source_has_symbol(self.source, s)]
        if unknown:
            raise InvalidParameterError(f"{name}: unknown to source {self.source_name}: {', '.join(unknown)}")
        return out

    def stored(self, symbol: str, hour: object) -> SymbolOutcome | None:
        """The stored outcome of (symbol, hour), or None when the hour was not collected."""
        return self._read_outcome(validate_symbol(symbol), to_utc_hour(hour))

    def stored_summary(self, symbol: str, hour: object) -> dict[str, Any] | None:
        """The stored YAML summary of (symbol, hour) as a dict, or None when there is none."""
        path = summary_path(self.root, validate_symbol(symbol), to_utc_hour(hour))
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None
        return load_summary(text, path=self._relative(path))

    # -- one symbol-hour -------------------------------------------------------------------------
    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _read_outcome(self, symbol: str, hour: datetime) -> SymbolOutcome | None:
        """The outcome in the stored summary; remembered while the file stays the same file."""
        path = summary_path(self.root, symbol, hour)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        key, stamp = (symbol, hour), (st.st_ino, st.st_mtime_ns, st.st_size)
        known = self._outcomes.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            outcome = SymbolOutcome.from_summary(load_summary(text, path=self._relative(path)))
        except (InvalidParameterError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable summary, collecting the hour again: %s", path, exc)
            return None
        self._remember(key, stamp, outcome)
        return outcome

    def _remember(self, key: tuple[str, datetime], stamp: tuple[int, int, int], outcome: SymbolOutcome) -> None:
        with self._outcomes_guard:
            self._outcomes[key] = (stamp, outcome)
            while len(self._outcomes) > self.max_remembered:
                self._outcomes.pop(next(iter(self._outcomes)))

    def stored_report(self, hour: object, symbols: Sequence[str]) -> CollectReport | None:
        """The answer for (hour, symbols) when every symbol-hour is already collected, else None.

        Cheap (a ``stat`` per symbol once remembered): a server answers repeats with it directly.
        """
        t0 = time.perf_counter()
        hour = to_utc_hour(hour)
        results = []
        for symbol in symbols:
            done = self._read_outcome(validate_symbol(symbol), hour)
            if done is None:
                return None
            results.append(done)
        return CollectReport(hour, tuple(results), (time.perf_counter() - t0) * 1000.0)

    def _collect_one(self, symbol: str, hour: datetime) -> SymbolOutcome:
        done = self._read_outcome(symbol, hour)
        if done is not None:
            return done
        try:
            with self._locks.hold(symbol):
                done = self._read_outcome(symbol, hour)  # another trigger finished it while we waited
                if done is not None:
                    return done
                return self._collect_locked(symbol, hour)
        except GridRegimeError as exc:
            reason = str(exc).replace(str(self.root) + os.sep, "")
            log.warning("%s %s: not collected: %s", symbol, iso_z(hour), reason)
            return SymbolOutcome(symbol, iso_z(hour), "error", reason)
        except Exception as exc:  # never let one symbol take the others down; never leak internals
            log.exception("%s %s: collection failed", symbol, iso_z(hour))
            return SymbolOutcome(symbol, iso_z(hour), "error", f"internal error ({type(exc).__name__})")

    def _collect_locked(self, symbol: str, hour: datetime) -> SymbolOutcome:
        notes: list[str] = []
        p1m, p1h = market_path(self.root, symbol, "1m", hour), market_path(self.root, symbol, "1h", hour)
        if not self._valid_snapshot(symbol, hour, p1m, p1h):
            minutes = self.source.fetch_ohlcv(symbol, "1m", hour, hour + HOUR)
            missing = _missing_minutes(minutes, hour)
            if missing:
                first = iso_z(missing[0])
                reason = (f"incomplete hour: {len(missing)} of 60 minutes missing from source "
                          f"{self.source_name} (first missing {first}); nothing stored, analysis skipped")
                log.warning("%s %s: %s", symbol, iso_z(hour), reason)
                return SymbolOutcome(symbol, iso_z(hour), "incomplete", reason)
            hourly, scale = self._hourly_history(symbol, hour, minutes, notes)
            self.storage.write_hour(symbol, hour, minutes, hourly, source=self.source_name, price_scale=scale)
        result = self.service.analyze_timestamp(symbol, hour)
        self.storage.write_analysis(symbol, hour, result.to_json())
        grid_before, step = self._step_supervisor(symbol, hour, result, notes)
        comparison = None
        if grid_before is not None and result.chosen_range is not None:
            from gridregime.analysis.comparison import compare_discovered_vs_configured

            try:
                comparison = compare_discovered_vs_configured(grid_before, result.chosen_range, result.price,
                                                              result.atr, self.config.for_symbol(symbol))
            except InvalidParameterError:
                comparison = None
        files = {"minute": self._relative(p1m), "hourly": self._relative(p1h),
                 "analysis": self._relative(analysis_path(self.root, symbol, hour)),
                 "summary": self._relative(summary_path(self.root, symbol, hour))}
        collected_at = _collected_at(p1m)
        doc = build_summary(result, step=step, grid_before=grid_before, comparison=comparison, files=files,
                            source=self.source_name, collected_at=collected_at, notes=notes)
        written = self.storage.write_summary(symbol, hour, dump_summary(doc))
        if result.status != "ok":
            log.warning("%s %s: %s: %s", symbol, iso_z(hour), result.status, result.reason)
        # the summary's values are plain scalars that YAML gives back unchanged, so this equals what a
        # repeat reads from the file (the tests compare the two)
        outcome = SymbolOutcome.from_summary(doc)
        st = os.stat(written)
        self._remember((symbol, hour), (st.st_ino, st.st_mtime_ns, st.st_size), outcome)
        return outcome

    def _valid_snapshot(self, symbol: str, hour: datetime, p1m: Path, p1h: Path) -> bool:
        """Both market files already stored and readable (a retry after a crash, or an import)."""
        if not (p1m.exists() and p1h.exists()):
            return False
        try:
            self.service.reader.load_snapshot(symbol, hour)
        except SnapshotError:
            return False
        return True

    def _hourly_history(self, symbol: str, hour: datetime, minutes: pa.Table,
                        notes: list[str]) -> tuple[pa.Table, int]:
        """History ending with the new bar, and the price scale to store it with."""
        from gridregime.snapshot import infer_price_scale

        history_hours = self.config.for_symbol(symbol).history_hours
        new_bar, _ = aggregate_hourly(minutes)
        prev = hour - HOUR
        scale = infer_price_scale(minutes)
        try:
            mf = read_market_file(market_path(self.root, symbol, "1h", prev), symbol=symbol, timeframe="1h",
                                  hour=prev)
            history = mf.bars()
            scale = max(scale, int(mf.price_scale))
        except SnapshotError:
            start = hour - (history_hours - 1) * HOUR
            history = self.source.fetch_ohlcv(symbol, "1h", start, hour)
            notes.append(f"hourly history fetched from source {self.source_name} "
                         f"({history.num_rows} bars; the previous hour has no snapshot)")
            if history.num_rows:
                scale = max(scale, infer_price_scale(history))
        history = slice_time(history, to_ms(hour) - (history_hours - 1) * 3_600_000, to_ms(hour))
        return pa.concat_tables([history.cast(new_bar.schema), new_bar]), scale

    def _step_supervisor(self, symbol: str, hour: datetime, result: Any, notes: list[str]):
        if not self.supervise:
            return None, None
        from gridregime.grid.supervisor import GridSupervisor
        from gridregime.service import SUPERVISE_START_ENABLED

        def open_supervisor() -> GridSupervisor:
            return GridSupervisor(symbol, store_dir=self.grid_dir, start_enabled=SUPERVISE_START_ENABLED)

        sup = open_supervisor()
        before = self.grid_dir / "supervisor" / f"{symbol}.before.json"
        if sup.last_hour is not None and sup.last_hour >= hour:
            if sup.last_hour == hour and _restore_before(before, sup.state_path, hour):
                sup = open_supervisor()  # the step was saved, its summary was not: replay it
            else:
                notes.append(f"grid supervisor not stepped: it has already supervised {iso_z(sup.last_hour)}")
                return sup.grid, None
        state_path = sup.state_path
        assert state_path is not None
        try:
            saved = state_path.read_text("utf-8")
        except FileNotFoundError:
            saved = None
        _write_replaced(before, orjson.dumps({"hour": iso_z(hour), "state": saved}))
        grid_before = sup.grid
        return grid_before, sup.step(result)


def _write_replaced(path: Path, data: bytes) -> None:
    """Temp file + rename, without fsync: whole after a process crash (what the file is for); after a
    power loss it may be missing, and the hour is then reported as already supervised."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _restore_before(before: Path, state_path: Path | None, hour: datetime) -> bool:
    """Put back the supervisor state saved before ``hour``'s step; False when there is none."""
    try:
        data = orjson.loads(before.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return False
    if not isinstance(data, dict) or data.get("hour") != iso_z(hour) or state_path is None:
        return False
    saved = data.get("state")
    if saved is None:
        state_path.unlink(missing_ok=True)
    else:
        atomic_write_bytes(state_path, saved.encode("utf-8"))
    return True


def _missing_minutes(minutes: pa.Table, hour: datetime) -> list[datetime]:
    """Minute open times of ``hour`` with no bar (completeness is decided by time, not by row count)."""
    expected = to_ms(hour) + MINUTE_MS * np.arange(60, dtype=np.int64)
    have = ts_ms(minutes) if minutes.num_rows else np.zeros(0, dtype=np.int64)
    missing = np.setdiff1d(expected, have)
    return [hour + timedelta(milliseconds=int(t - to_ms(hour))) for t in missing]


def _collected_at(path: Path) -> datetime | None:
    try:
        meta = orjson.loads(path.read_bytes())["metadata"]
        return to_utc(meta["collected_at"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, InvalidParameterError):
        return None
