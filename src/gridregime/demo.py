"""The main job on embedded data: build snapshots, re-analyse them, write a table and a summary.

``gridregime demo`` runs :func:`run_demo`. For each symbol it takes ``days`` days of 1m data
(the development data set when a ``shared/data/real`` directory is near, else the slice shipped
in the package, else the synthetic market), imports them as hourly snapshots, re-analyses every
hour from the stored files (one pass per symbol, in parallel), and writes:

- ``OUT/snapshots/``      the snapshot store (raw files and each hour's ``_regime.json``);
- ``OUT/results.parquet`` one row per (symbol, hour);
- ``OUT/grid.parquet``    the grid supervisor's hour (recommendation, gate phase, grid), driven
                          hour by hour (no grid until the first ENABLE_GRID); its state persists in ``OUT/grid_state``;
- ``OUT/backtest/``       the backtest of the same hours (:mod:`gridregime.backtest`): every policy
                          simulated on the 1m bars, ``report.md``, ``report.json`` and Parquet tables;
- ``OUT/dashboard/``      the static site (``index.html``; needs the ``dashboard`` extra);
- ``OUT/summary.md``      verdict distribution, skipped hours with reasons, forward range-hold, and
                          what a grid trader would have earned by following each policy.

Re-running with the same ``OUT`` re-uses the immutable snapshots already there.
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, iso_z

DEFAULT_SYMBOLS = ("ETH-USDT", "BTC-USDT")
DEFAULT_DAYS = 60
HOLD_HORIZON_HOURS = 24


@dataclass
class SymbolImport:
    symbol: str
    description: str
    start: datetime
    end: datetime
    written: int
    unchanged: int
    skipped: list[tuple[datetime, int]]
    seconds: float


@dataclass
class DemoReport:
    out: Path
    snapshots: Path
    results_table: Path
    grid_table: Path
    summary_md: Path
    imports: list[SymbolImport]
    batch_summary: dict[str, Any]
    hold_rates: dict[str, dict[str, float | int]]
    grid_events: dict[str, dict[str, int]]
    seconds: dict[str, float] = field(default_factory=dict)
    backtest: Any = None  # BacktestResult
    backtest_dir: Path | None = None
    backtest_error: str | None = None
    dashboard: Any = None  # DashboardReport, None when the dashboard extra is missing
    dashboard_error: str | None = None


def _import_one(symbol: str, days: int, root: str, progress: bool) -> SymbolImport:
    """Import one symbol (top-level so a spawned worker can run it)."""
    from gridregime.collect import import_snapshots
    from gridregime.collect.sources.sample import find_sample_data
    from gridregime.snapshot import SnapshotStorage

    t0 = time.perf_counter()
    sample = find_sample_data(symbol, days=days)
    if sample.origin == "synthetic":
        symbol = synthetic_name(symbol)  # never store generated bars under a real market's name
    report = import_snapshots(sample.source, symbol, sample.start, sample.end, SnapshotStorage(root),
                              history_source=sample.source if sample.has_hourly else None,
                              progress=progress)
    return SymbolImport(symbol, sample.description, sample.start, sample.end,
                        len(report.written), len(report.unchanged),
                        [(s.hour, s.missing_minutes) for s in report.skipped],
                        time.perf_counter() - t0)


def synthetic_name(symbol: str) -> str:
    """The name synthetic bars are stored under: ``BTC-USDT`` -> ``BTCSYN-USDT``."""
    base, quote = symbol.split("-", 1)
    return validate_symbol(f"{base}SYN-{quote}")


def forward_hold_rates(table: pa.Table, horizon: int = HOLD_HORIZON_HOURS) -> dict[str, dict[str, float | int]]:
    """Per symbol: share of hours whose next ``horizon`` hourly closes stay inside that hour's
    chosen range, for RANGE_OK hours and for all analysed hours (hours without ``horizon``
    complete following hours are left out)."""
    out: dict[str, dict[str, float | int]] = {}
    rows = table.to_pydict()
    by_symbol: dict[str, list[int]] = {}
    for i, sym in enumerate(rows["symbol"]):
        by_symbol.setdefault(sym, []).append(i)
    for sym, idx in by_symbol.items():
        hours = np.array([rows["hour"][i].timestamp() for i in idx]) / 3600.0
        price = np.array([rows["price"][i] for i in idx], dtype=float)
        lower = np.array([np.nan if rows["range_lower"][i] is None else rows["range_lower"][i] for i in idx])
        upper = np.array([np.nan if rows["range_upper"][i] is None else rows["range_upper"][i] for i in idx])
        ok = np.array([rows["status"][i] == "ok" for i in idx])
        range_ok = np.array([rows["verdict"][i] == "RANGE_OK" for i in idx])
        held = np.full(len(idx), -1)  # -1: not measurable
        for j in range(len(idx)):
            k = j + horizon
            if not ok[j] or not np.isfinite(lower[j]) or k >= len(idx) or hours[k] - hours[j] != horizon:
                continue
            nxt = price[j + 1:k + 1]
            held[j] = int(np.all((nxt >= lower[j]) & (nxt <= upper[j])))
        measurable = held >= 0
        all_n, ok_n = int(measurable.sum()), int((measurable & range_ok).sum())
        out[sym] = {
            "hours_all": all_n,
            "hold_all": float(held[measurable].mean()) if all_n else float("nan"),
            "hours_range_ok": ok_n,
            "hold_range_ok": float(held[measurable & range_ok].mean()) if ok_n else float("nan"),
        }
    return out


def run_demo(out: str | Path = "gridregime-demo", *, symbols: Sequence[str] = DEFAULT_SYMBOLS,
             days: int = DEFAULT_DAYS, workers: int = 2, progress: bool = False) -> DemoReport:
    """Build snapshots for ``symbols`` and re-analyse them; see the module docstring."""
    from gridregime.service import ExecutionOptions, RegimeAnalysisService

    symbols = [validate_symbol(s, name="symbols") for s in symbols]
    if not symbols:
        raise InvalidParameterError("symbols: expected at least one symbol")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise InvalidParameterError(f"days: expected an integer from 1 to 366, got {days!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidParameterError(f"workers: expected an integer >= 1, got {workers!r}")
    out = Path(out)
    root = out / "snapshots"
    root.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    if workers > 1 and len(symbols) > 1:
        import multiprocessing

        with ProcessPoolExecutor(max_workers=min(workers, len(symbols)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            imports = list(pool.map(_import_one, symbols, [days] * len(symbols),
                                    [str(root)] * len(symbols), [False] * len(symbols)))
    else:
        imports = [_import_one(s, days, str(root), progress) for s in symbols]
    symbols = [i.symbol for i in imports]  # synthetic stand-ins carry a name of their own
    seconds["import"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    start = min(i.start for i in imports)
    end = max(i.end for i in imports) - HOUR
    service = RegimeAnalysisService(root)
    # A fresh grid state each run: the supervisor refuses to step an hour twice.
    grid_state = out / "grid_state"
    if grid_state.exists():
        import shutil

        shutil.rmtree(grid_state)
    batch = service.analyze_many(symbols, start, end, execution=ExecutionOptions(workers=workers, progress=progress),
                                 write_analysis=True, keep_results=False, supervise=True, grid_dir=grid_state)
    seconds["analysis"] = time.perf_counter() - t1
    # Hours outside a symbol's imported span were never written: not failures of the run.
    # and hours the import skipped for missing minutes are reported once, with the import.
    spans = {i.symbol: (i.start, i.end) for i in imports}
    import_skipped = {(i.symbol, hour) for i in imports for hour, _ in i.skipped}
    batch.failures = [f for f in batch.failures
                      if not (f.kind == "missing" and ((f.symbol, f.hour) in import_skipped
                                                       or not spans[f.symbol][0] <= f.hour < spans[f.symbol][1]))]
    table_path = batch.write_parquet(out / "results.parquet")
    grid_path = batch.write_grid_parquet(out / "grid.parquet")
    holds = forward_hold_rates(batch.to_table())

    t2 = time.perf_counter()
    from gridregime.backtest import run_backtest, symbol_range, write_report

    ranges = [symbol_range(i.symbol, i.start, i.end - HOUR, root=root) for i in imports if i.end - i.start > 2 * HOUR]
    backtest, backtest_error = None, None
    if ranges:
        try:
            backtest = run_backtest(ranges, workers=workers)
        except InvalidParameterError as exc:  # e.g. too few hours analysed: say so, keep the rest
            backtest_error = str(exc)
    backtest_dir = out / "backtest"
    if backtest is not None:
        write_report(backtest, backtest_dir)
    seconds["backtest"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    dashboard = None
    try:
        from gridregime.dashboard import build_dashboard
    except ImportError:  # the dashboard extra is not installed: the rest of the demo still stands
        build_dashboard = None
    if build_dashboard is not None:
        try:
            dashboard = build_dashboard(root, symbols, start, end, out / "dashboard", results=table_path,
                                        grid=grid_path, backtest=backtest_dir if backtest is not None else None)
        except GridRegimeError as exc:  # e.g. plotly or jinja2 missing: say so, keep the rest
            dashboard_error = str(exc)
        else:
            dashboard_error = None
    else:
        dashboard_error = 'the dashboard needs the dashboard extra: pip install "gridregime[dashboard]"'
    seconds["dashboard"] = time.perf_counter() - t3
    seconds["total"] = time.perf_counter() - t0

    summary_path = out / "summary.md"
    report = DemoReport(out, root, table_path, grid_path, summary_path, imports, batch.summary(), holds,
                        batch.grid_events(), seconds, backtest, backtest_dir if backtest is not None else None,
                        backtest_error, dashboard, dashboard_error)
    from gridregime._atomic import atomic_write_text

    atomic_write_text(summary_path, render_summary(report, batch))
    return report


def render_summary(report: DemoReport, batch) -> str:
    """The Markdown summary written to ``summary.md``."""
    table = batch.to_table().to_pydict()
    lines = ["# gridregime demo", "",
             f"Snapshots: `{report.snapshots}`  ",
             f"Results table: `{report.results_table}` ({len(table['symbol'])} rows)", "",
             "## Data", "", "| symbol | data | hours | written | already there | skipped (incomplete minutes) |",
             "|---|---|---|---|---|---|"]
    for imp in report.imports:
        n = int((imp.end - imp.start) / HOUR)
        lines.append(f"| {imp.symbol} | {imp.description} | {iso_z(imp.start)} → {iso_z(imp.end)} ({n} h) "
                     f"| {imp.written} | {imp.unchanged} | {len(imp.skipped)} |")
    lines += ["", "## Verdicts", "",
              "| symbol | analysed | insufficient history | RANGE_OK | RANGE_WEAK | TREND | TRANSITION |",
              "|---|---|---|---|---|---|---|"]
    from gridregime.verdicts import VERDICTS as verdicts
    for imp in report.imports:
        mask = [s == imp.symbol for s in table["symbol"]]
        st = [table["status"][i] for i, m in enumerate(mask) if m]
        vs = [table["verdict"][i] for i, m in enumerate(mask) if m and table["status"][i] == "ok"]
        n_ok = len(vs) or 1
        cells = " | ".join(f"{vs.count(v)} ({100 * vs.count(v) / n_ok:.1f} %)" for v in verdicts)
        lines.append(f"| {imp.symbol} | {len(vs)} | {len(st) - len(vs)} | {cells} |")
    lines += ["", f"## Forward range-hold ({HOLD_HORIZON_HOURS} h)", "",
              "Share of hours whose next 24 hourly closes stay inside that hour's discovered range.", "",
              "| symbol | RANGE_OK hours | hold (RANGE_OK) | all hours | hold (all) |", "|---|---|---|---|---|"]
    for sym, h in report.hold_rates.items():
        lines.append(f"| {sym} | {h['hours_range_ok']} | {h['hold_range_ok']:.3f} | {h['hours_all']} "
                     f"| {h['hold_all']:.3f} |")
    lines += ["", "## Grid supervision", "",
              "Recommendations and restart gates driven hour by hour; the first grid follows ENABLE_GRID "
              f"(table: `{report.grid_table}`).", "",
              "| symbol | stops | gate passages | restarts (probationary) | promotions | repositions | hours stopped |",
              "|---|---|---|---|---|---|---|"]
    grid = batch.grid_table().to_pydict() if batch.grid_rows else {"symbol": []}
    for imp in report.imports:
        ev = report.grid_events.get(imp.symbol, {})
        stopped = sum(1 for i, sym in enumerate(grid["symbol"]) if sym == imp.symbol and not grid["grid_enabled"][i])
        lines.append(f"| {imp.symbol} | {ev.get('stop', 0)} | {ev.get('gate_passed', 0)} | {ev.get('restart', 0)} "
                     f"| {ev.get('promotion', 0)} | {ev.get('reposition', 0)} | {stopped} |")
    if report.backtest is not None:
        from gridregime.backtest.report import POLICY_ORDER

        pol = report.backtest.pooled["policies"]
        lines += ["", "## What following it would have earned (backtest)", "",
                  f"Each policy simulated on the 1m bars of the same hours with a budget of "
                  f"{report.backtest.settings.budget:g} per symbol, {report.backtest.settings.levels}-level grids over "
                  f"the discovered range, {100 * report.backtest.settings.fee:.3f} % fee a fill; a decision taken on "
                  f"an hour trades from the next. Full report: `{report.backtest_dir / 'report.md'}`.", "",
                  "| policy | mean return | mean max drawdown | return/drawdown | exposure (hours) |",
                  "|---|---|---|---|---|"]
        for name in POLICY_ORDER:
            if name in pol:
                p = pol[name]
                rod = "–" if p["return_over_drawdown"] is None else f"{p['return_over_drawdown']:.2f}"
                lines.append(f"| {name} | {100 * p['mean_return']:+.2f} % | {100 * p['mean_max_drawdown']:.2f} % "
                             f"| {rod} | {p['exposure_hours']:.0f} |")
    if report.backtest is None and report.backtest_error:
        lines += ["", f"Backtest not run: {report.backtest_error}"]
    if report.dashboard is not None:
        lines += ["", f"Dashboard: `{report.dashboard.index}`"]
    elif report.dashboard_error:
        lines += ["", f"Dashboard not built: {report.dashboard_error}"]
    skipped = [(imp.symbol, hour, f"{missing} minutes missing") for imp in report.imports
               for hour, missing in imp.skipped]
    skipped += [(f.symbol, f.hour, f"{f.kind}: {f.reason}") for f in batch.failures]
    lines += ["", "## Skipped hours", ""]
    if skipped:
        lines += [f"- {sym} {iso_z(hour)}: {why}" for sym, hour, why in sorted(skipped)[:200]]
        if len(skipped) > 200:
            lines.append(f"- … and {len(skipped) - 200} more")
    else:
        lines.append("None.")
    s = report.seconds
    lines += ["", "## Timing", "",
              f"import {s['import']:.1f} s, analysis {s['analysis']:.1f} s, backtest {s.get('backtest', 0.0):.1f} s, "
              f"dashboard {s.get('dashboard', 0.0):.1f} s, total {s['total']:.1f} s", ""]
    return "\n".join(lines)
