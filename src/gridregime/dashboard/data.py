"""What a dashboard page shows, gathered per symbol from the store and the optional tables.

Inputs, each optional except the store:

- the results table (``gridregime batch --out``; columns of
  :data:`gridregime.service.RESULT_TABLE_SCHEMA`): verdicts, confidence, scores, range;
- the grid table (``gridregime batch --grid-out``; columns of
  :data:`gridregime.grid.supervisor.ROW_COLUMNS`): grid, gate phase, readiness, events. Columns
  beyond those (``grid_levels``, ``grid_spacing_mode``, ``reason``) are used when present;
- a backtest directory holding ``equity.parquet`` (``symbol``, ``hour``, ``policy``, ``equity``).

Without a results or a grid table the analysis (and the grid supervisor) runs here, on the store;
its reasons then come straight from the supervisor's steps. With tables, the reasons come from the
grid table and the decision factors from each event hour's ``_regime.json`` when the store holds
one. Columns are converted from Arrow once, here; pages never see Arrow.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from gridregime.errors import InvalidParameterError
from gridregime.timeutil import HOUR, HOUR_MS, iso_z, to_ms

VERDICTS = ("RANGE_OK", "RANGE_WEAK", "TREND", "TRANSITION")
PHASES = ("ACTIVE", "STOPPED", "GATE_1", "GATE_2", "GATE_3", "READY")
GRID_EVENT_KINDS = ("initial", "enable", "stop", "restart", "reposition", "promotion")
EQUITY_COLUMNS = ("symbol", "hour", "policy", "equity")
SCORE_COLUMNS = ("trend_score", "mean_rev_score", "vol_change_score", "range_quality_score")


@dataclass
class VerdictSeries:
    """One symbol's analysed hours in time order (``hours`` in epoch ms; NaN where missing)."""

    hours: np.ndarray
    status: list[str]
    verdict: list[str | None]
    columns: dict[str, np.ndarray]  # confidence, the four scores, range_lower/upper, price

    def __len__(self) -> int:
        return int(self.hours.size)

    def latest_ok(self) -> int | None:
        """Index of the last hour with a verdict."""
        for i in range(len(self.verdict) - 1, -1, -1):
            if self.verdict[i] is not None:
                return i
        return None


@dataclass
class GridSeries:
    """The supervisor's hours for one symbol, in time order."""

    hours: np.ndarray
    phase: list[str | None]
    readiness: np.ndarray
    hours_stopped: np.ndarray
    enabled: list[bool]
    mode: list[str | None]
    lower: np.ndarray
    upper: np.ndarray
    version: list[Any]
    action: list[str | None]
    levels: list[tuple[float, ...] | None]

    def __len__(self) -> int:
        return int(self.hours.size)


@dataclass
class GridEvent:
    """A stop, restart, reposition, ... (or a gate passage) with why it happened."""

    hour_ms: int
    kind: str
    reason: str
    factors: list[str] = field(default_factory=list)
    price: float = math.nan


@dataclass
class SymbolData:
    symbol: str
    verdicts: VerdictSeries
    grid: GridSeries | None
    events: list[GridEvent]
    hourly: dict[str, np.ndarray]
    minute: dict[str, np.ndarray]
    equity: dict[str, tuple[np.ndarray, np.ndarray]]
    time_floor_hours: int
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------------
def read_table(path: str | os.PathLike, option: str, required: Sequence[str], what: str) -> pa.Table:
    """Read a Parquet table given as ``option``; errors name the option, the file and what was expected."""
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.is_file():
        raise InvalidParameterError(f"{option}: expected {what} (a Parquet file), got {str(path)!r} (no such file)")
    try:
        table = pq.read_table(p)
    except Exception as exc:  # pyarrow raises several kinds for a file that is not Parquet
        raise InvalidParameterError(f"{option}: {str(path)!r} is not a readable Parquet file ({exc})") from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise InvalidParameterError(
            f"{option}: {str(path)!r} lacks column(s) {', '.join(missing)} (expected {what})")
    return table


def hours_ms(col: pa.ChunkedArray | pa.Array, option: str) -> np.ndarray:
    """A time column as int64 epoch ms (timestamps of any unit; naive times are taken as UTC)."""
    t = col.type
    if len(col) == 0:  # an empty table may carry untyped (null) columns
        return np.zeros(0, dtype=np.int64)
    if pa.types.is_timestamp(t):
        col = col.cast(pa.timestamp("ms", tz=t.tz), safe=False).cast(pa.int64())
    elif not pa.types.is_integer(t):
        raise InvalidParameterError(f"{option}: column 'hour' must hold timestamps, got {t}")
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)


def _floats(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    col = table.column(name)
    if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type) or pa.types.is_null(col.type)):
        return np.full(table.num_rows, np.nan)
    return np.asarray(col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)


def _strings(table: pa.Table, name: str) -> list[Any]:
    if name not in table.column_names:
        return [None] * table.num_rows
    return table.column(name).to_pylist()


def split_by_symbol(table: pa.Table, option: str, symbols: Sequence[str], start_ms: int,
                    end_ms: int) -> dict[str, pa.Table]:
    """Rows of each symbol with ``start_ms <= hour <= end_ms``, in hour order."""
    sym = np.array(table.column("symbol").to_pylist(), dtype=object)
    hours = hours_ms(table.column("hour"), option)
    out = {}
    for s in symbols:
        idx = np.flatnonzero((sym == s) & (hours >= start_ms) & (hours <= end_ms))
        idx = idx[np.argsort(hours[idx], kind="stable")]
        out[s] = table.take(pa.array(idx, type=pa.int64()))
    return out


def verdict_series(table: pa.Table, option: str) -> VerdictSeries:
    """A results table's rows of one symbol as columns."""
    hours = hours_ms(table.column("hour"), option)
    verdict = _strings(table, "verdict")
    status = _strings(table, "status")
    status = [s if s is not None else ("ok" if v is not None else "insufficient_data")
              for s, v in zip(status, verdict)]
    verdict = [v if st == "ok" else None for v, st in zip(verdict, status)]
    cols = {name: _floats(table, name) for name in
            ("confidence", *SCORE_COLUMNS, "range_lower", "range_upper", "price", "atr", "history_bars")}
    # hours analysed on less history than the rank windows want (results tables that say so)
    cols["warming_up"] = np.array([bool(w) for w in _strings(table, "warming_up")], dtype=bool)
    return VerdictSeries(hours, status, verdict, cols)


def _levels_of(value: Any, lower: float, upper: float, spacing: Any) -> tuple[float, ...] | None:
    """Level prices from a ``grid_levels`` cell: a list of prices, or a count to spread between the bounds."""
    from gridregime.grid.config import grid_levels

    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        prices = tuple(float(v) for v in value if v is not None and math.isfinite(float(v)))
        return prices or None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        n = int(value)
        if n >= 2 and math.isfinite(lower) and math.isfinite(upper) and 0 < lower < upper:
            try:
                return grid_levels(lower, upper, n, spacing if isinstance(spacing, str) else "ARITHMETIC")
            except InvalidParameterError:
                return None
    return None


def grid_series(table: pa.Table, option: str) -> GridSeries:
    """A grid table's rows of one symbol as columns."""
    hours = hours_ms(table.column("hour"), option)
    lower, upper = _floats(table, "grid_lower"), _floats(table, "grid_upper")
    enabled = [bool(v) for v in _strings(table, "grid_enabled")]
    raw_levels = _strings(table, "grid_levels")
    spacing = _strings(table, "grid_spacing_mode")
    levels = [_levels_of(v, lo, up, sp) if en else None
              for v, lo, up, sp, en in zip(raw_levels, lower, upper, spacing, enabled)]
    return GridSeries(hours=hours, phase=_strings(table, "gate_phase"), readiness=_floats(table, "readiness"),
                      hours_stopped=_floats(table, "hours_stopped"), enabled=enabled,
                      mode=_strings(table, "grid_mode"), lower=lower, upper=upper,
                      version=_strings(table, "grid_version"), action=_strings(table, "action"), levels=levels)


# ---------------------------------------------------------------------------------------------
# decision factors as short lines of text
# ---------------------------------------------------------------------------------------------
def _num(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_num(x) for x in v) + "]"
    return str(v)


def factor_lines(factors: Sequence[Mapping[str, Any]]) -> list[str]:
    """The classifier's decision factors (``RegimeResult.decision_factors`` as dicts), one line each."""
    out = []
    for f in factors:
        mark = "pass" if f.get("passed") else "fail"
        line = f"{f.get('check')}: {_num(f.get('value'))} {f.get('operator', '')} {_num(f.get('threshold'))} ({mark})"
        if f.get("passed") and f.get("on_pass"):
            line += f" -> {f.get('on_pass')}"
        out.append(line)
    return out


def gate_lines(evaluation: Mapping[str, Any], gate: int | None = None) -> list[str]:
    """Conditions of one gate (or of the current gate) of a gate evaluation dict."""
    lines = []
    for g in evaluation.get("gates", []):
        if (gate is not None and g.get("gate") != gate) or (gate is None and g.get("status") != "current"):
            continue
        for c in g.get("conditions", []):
            mark = "pass" if c.get("passed") else "fail"
            lines.append(f"gate {g.get('gate')} {c.get('name')}: {_num(c.get('value'))} {c.get('operator')} "
                         f"{_num(c.get('threshold'))} ({mark})")
    if "time_floor_hours_left" in evaluation:
        lines.append(f"hours stopped {evaluation.get('hours_stopped')}, time floor "
                     f"{evaluation.get('time_floor_hours_left')} h left")
    return lines


def _detail_lines(details: Mapping[str, Any]) -> list[str]:
    return [f"{k}: {_num(v)}" for k, v in details.items() if v not in (None, [], ())]


def _score_lines(v: VerdictSeries, i: int) -> list[str]:
    c = v.columns
    return [f"verdict {v.verdict[i]}, confidence {_num(float(c['confidence'][i]))}",
            "scores: trend {}, mean-rev {}, vol-change {}, range quality {}".format(
                *(_num(float(c[name][i])) for name in SCORE_COLUMNS))]


# ---------------------------------------------------------------------------------------------
# the analysis run here (no tables given)
# ---------------------------------------------------------------------------------------------
@dataclass
class OwnRun:
    """Results (table rows) and supervised grid of an analysis run here."""

    rows: list[dict[str, Any]]
    grid_rows: dict[str, list[dict[str, Any]]]
    events: dict[str, list[GridEvent]]

    def results_table(self) -> pa.Table:
        from gridregime.service import RESULT_TABLE_SCHEMA

        return pa.Table.from_pylist(self.rows, schema=RESULT_TABLE_SCHEMA)


def _analyse(root: str, symbols: Sequence[str], start: datetime, end: datetime, config: Any, workers: int,
             progress: bool) -> OwnRun:
    """Analyse ``symbols`` and supervise each one's grid hour by hour (top-level: spawn-safe)."""
    from gridregime import service as service_module
    from gridregime.grid.inputs import market_state_from_result
    from gridregime.grid.supervisor import GridSupervisor

    start_enabled = getattr(service_module, "SUPERVISE_START_ENABLED", True)  # as the batch run starts
    service = service_module.RegimeAnalysisService(root, config)
    # Supervised here rather than by the batch (supervise=True): the batch's rows do not keep the
    # reasons and gate conditions the hover texts show, the steps do. Same inputs, same steps.
    execution = service_module.ExecutionOptions(workers=workers, progress=progress)
    batch = service.analyze_many(symbols, start, end, execution=execution, keep_results=True)
    by_symbol: dict[str, list[Any]] = {}
    factors = {}
    for r in batch.results:
        by_symbol.setdefault(r.symbol, []).append(market_state_from_result(r))
        factors[(r.symbol, to_ms(r.hour))] = r.decision_factors
    grid_rows: dict[str, list[dict[str, Any]]] = {}
    events: dict[str, list[GridEvent]] = {}
    for symbol, markets in by_symbol.items():
        steps = GridSupervisor(symbol, start_enabled=start_enabled).run(markets)
        rows, evs = [], []
        for step in steps:
            row = step.row()
            row["grid_levels"] = list(step.grid.level_prices) if step.grid is not None else None
            rows.append(row)
            hour_ms = to_ms(step.hour)
            for e in step.events:
                lines = []
                if e.kind == "gate_passed":
                    lines = gate_lines(step.evaluation.to_dict(), e.details.get("gate"))
                elif e.kind == "restart":
                    lines = gate_lines(step.evaluation.to_dict(), 3) + _detail_lines(e.details)
                else:
                    lines = _detail_lines(e.details)
                    lines += factor_lines([f.to_dict() for f in factors.get((symbol, hour_ms), ())])
                evs.append(GridEvent(hour_ms, e.kind, e.reason, lines, float(step.market.price)))
        grid_rows[symbol] = rows
        events[symbol] = evs
    return OwnRun(batch.rows, grid_rows, events)


def run_analysis(root: Path, symbols: Sequence[str], start: datetime, end: datetime, *, config: Any,
                 workers: int, progress: bool) -> OwnRun:
    """Analyse the store and drive the grid supervisor hour by hour (as ``gridregime batch --grid-out``).

    With several workers and symbols, each worker process analyses and supervises whole symbols,
    so the (sequential, per-symbol) supervision runs in parallel too and only table rows and
    events travel back. Otherwise the batch splits the work itself (over time chunks).
    """
    if workers == 1 or len(symbols) == 1:
        return _analyse(str(root), symbols, start, end, config, workers, progress)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    out = OwnRun([], {}, {})
    with ProcessPoolExecutor(max_workers=min(workers, len(symbols)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_analyse, str(root), [s], start, end, config, 1, False) for s in symbols]
        for fut in tqdm(futures, desc="analysing", unit="symbol", disable=not progress, leave=False):
            part = fut.result()  # in symbol order
            out.rows.extend(part.rows)
            out.grid_rows.update(part.grid_rows)
            out.events.update(part.events)
    return out


def grid_rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    from gridregime.grid.supervisor import ROW_COLUMNS

    cols = {name: [r.get(name) for r in rows] for name in dict.fromkeys((*ROW_COLUMNS, "grid_levels"))}
    cols["hour"] = pa.array([to_ms(h) for h in cols["hour"]], type=pa.timestamp("ms", tz="UTC"))
    return pa.table(cols)


def events_from_table(table: pa.Table, grid: GridSeries, verdicts: VerdictSeries, reader: Any,
                      symbol: str) -> list[GridEvent]:
    """Events of a grid table's ``events`` column, with reasons and the hour's decision factors.

    The reason is the table's ``reason`` column when it has one, else what the row says (action,
    verdict, gate phase). Decision factors come from the hour's ``_regime.json`` in the store when
    present, else from the results row's scores.
    """
    kinds = _strings(table, "events")
    reasons = _strings(table, "reason") if "reason" in table.column_names else None
    verdict_of = _strings(table, "verdict")
    row_of_hour = {int(h): i for i, h in enumerate(verdicts.hours)}
    out: list[GridEvent] = []
    analyses: dict[int, Any] = {}
    for i, text in enumerate(kinds):
        if not text:
            continue
        hour_ms = int(grid.hours[i])
        j = row_of_hour.get(hour_ms)
        price = float(verdicts.columns["price"][j]) if j is not None else math.nan
        for kind in [k for k in str(text).split(",") if k]:
            if reasons is not None and reasons[i]:
                reason = str(reasons[i])
            elif kind == "gate_passed":
                reason = f"gate passed; phase now {grid.phase[i]}"
            else:
                reason = f"action {grid.action[i]}, verdict {verdict_of[i]}"
            lines: list[str] = []
            if kind != "gate_passed":
                if hour_ms not in analyses:
                    analyses[hour_ms] = _load_analysis(reader, symbol, hour_ms)
                doc = analyses[hour_ms]
                if doc is not None and isinstance(doc.get("decision_factors"), list):
                    lines = factor_lines([f for f in doc["decision_factors"] if isinstance(f, Mapping)])
                elif j is not None:
                    lines = _score_lines(verdicts, j)
            lines.append(f"gate phase {grid.phase[i]}, readiness {_num(float(grid.readiness[i]))}")
            out.append(GridEvent(hour_ms, kind, reason, lines, price))
    return out


def _load_analysis(reader: Any, symbol: str, hour_ms: int) -> dict | None:
    from gridregime.errors import GridRegimeError
    from gridregime.timeutil import from_ms

    try:
        return reader.load_analysis(symbol, from_ms(hour_ms))
    except GridRegimeError:  # an unreadable analysis file only costs the hover text its factors
        return None


# ---------------------------------------------------------------------------------------------
# candles and equity
# ---------------------------------------------------------------------------------------------
def _bars_dict(table: pa.Table) -> dict[str, np.ndarray]:
    from gridregime.bars import bars_to_numpy

    b = bars_to_numpy(table)
    return {k: b[k] for k in ("ts", "open", "high", "low", "close")}


def _empty_bars() -> dict[str, np.ndarray]:
    return {k: np.zeros(0, dtype=np.int64 if k == "ts" else np.float64) for k in ("ts", "open", "high", "low", "close")}


def stored_hours(root: Path, symbols: Sequence[str], start: datetime, end: datetime) -> dict[str, list[datetime]]:
    """Per symbol, the hours from ``start`` to ``end`` whose directory holds both market files.

    One listing per hour directory for all symbols (``SnapshotReader.hours`` lists every directory
    once per symbol).
    """
    from gridregime.snapshot.paths import hour_dir, market_file_name

    want = {s: (market_file_name(s, "1m"), market_file_name(s, "1h")) for s in symbols}
    out: dict[str, list[datetime]] = {s: [] for s in symbols}
    hour = start
    while hour <= end:
        try:
            names = set(os.listdir(hour_dir(root, hour)))
        except (FileNotFoundError, NotADirectoryError):
            names = set()
        for s, (m, h) in want.items():
            if m in names and h in names:
                out[s].append(hour)
        hour += HOUR
    return out


def load_candles(reader: Any, symbol: str, start: datetime, hours: Sequence[datetime],
                 minute_hours: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Hourly bars from ``start`` to the last of the stored ``hours`` and minute bars of the last
    ``minute_hours`` of them.

    Reads the 1m files of those last hours and as few 1h files as cover the span (normally one).
    """
    from gridregime.bars import slice_time, ts_ms

    if not hours:
        return _empty_bars(), _empty_bars()
    last = hours[-1]
    mstart = max(hours[0], last - (minute_hours - 1) * HOUR)
    back = int((mstart - start) / HOUR) + 1
    loaded = reader.load_range(symbol, mstart, last, history_hours=max(1, back))
    hourly = loaded.hourly
    start_ms, end_ms = to_ms(start), to_ms(last) + HOUR_MS
    # A span longer than one file's history: earlier 1h files bring the earlier bars.
    tables = [hourly]
    earliest = int(ts_ms(hourly)[0]) if hourly.num_rows else end_ms
    while earliest > start_ms:
        earlier = [h for h in hours if to_ms(h) < earliest]
        if not earlier:
            break
        more = reader.load_range(symbol, earlier[-1], earlier[-1]).hourly
        if not more.num_rows or int(ts_ms(more)[0]) >= earliest:
            break
        tables.append(slice_time(more, None, earliest))
        earliest = int(ts_ms(more)[0])
    if len(tables) > 1:
        hourly = pa.concat_tables(tables[::-1])
    hourly = slice_time(hourly, start_ms, end_ms)
    minute = slice_time(loaded.minute, to_ms(mstart), end_ms)
    return _bars_dict(hourly), _bars_dict(minute)


def read_equity(backtest: Path, symbols: Sequence[str], start_ms: int, end_ms: int,
                notes: list[str]) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per symbol and policy, ``(hours_ms, equity)`` from ``backtest/equity.parquet``.

    Tolerant: a missing file or missing columns leave a note and no curves.
    """
    import pyarrow.parquet as pq

    path = backtest / "equity.parquet"
    if not path.is_file():
        notes.append(f"--backtest: {path.name} not found in the backtest directory; no equity curves")
        return {}
    try:
        table = pq.read_table(path)
    except Exception as exc:
        notes.append(f"--backtest: {path.name} is not a readable Parquet file ({exc}); no equity curves")
        return {}
    missing = [c for c in EQUITY_COLUMNS if c not in table.column_names]
    if missing:
        notes.append(f"--backtest: {path.name} lacks column(s) {', '.join(missing)}; no equity curves")
        return {}
    try:
        hours = hours_ms(table.column("hour"), "--backtest")
    except InvalidParameterError as exc:
        notes.append(f"{exc}; no equity curves")
        return {}
    sym = np.array(table.column("symbol").to_pylist(), dtype=object)
    pol = np.array(table.column("policy").to_pylist(), dtype=object)
    eq = _floats(table, "equity")
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for s in symbols:
        mask = (sym == s) & (hours >= start_ms) & (hours <= end_ms)
        curves = {}
        for p in sorted({str(x) for x in pol[mask]}):
            idx = np.flatnonzero(mask & (pol == p))
            idx = idx[np.argsort(hours[idx], kind="stable")]
            curves[p] = (hours[idx], eq[idx])
        if curves:
            out[s] = curves
    return out


def describe_span(hours: np.ndarray) -> str:
    from gridregime.timeutil import from_ms

    if not hours.size:
        return "no hours"
    return f"{iso_z(from_ms(int(hours[0])))} → {iso_z(from_ms(int(hours[-1])))}"
