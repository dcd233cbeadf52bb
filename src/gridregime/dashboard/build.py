"""Build the static dashboard site: ``index.html``, ``symbols/<SYMBOL>.html`` and ``assets/``.

The site is self-contained: ``assets/plotly.min.js`` (written once, from the installed plotly),
``assets/dashboard.js`` (renders each chart from the figure JSON embedded in its page) and
``assets/dashboard.css``. Pages come from Jinja templates with autoescaping; figure JSON sits in
``<script type="application/json">`` blocks with ``<``, ``>`` and ``&`` written as JSON escapes,
so no data string can close the block or open a tag.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gridregime.dashboard import data as D
from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR_MS, from_ms, iso_z, to_ms, to_utc_hour

MINUTE_HOURS = 72  # minute bars of the last three days: enough to zoom into, small enough to ship
STRIP_HOURS = 7 * 24
EXTRA_HINT = 'pip install "gridregime[dashboard]"'


class DashboardDependencyError(GridRegimeError):
    """plotly or jinja2 (the ``dashboard`` extra) is not installed."""


@dataclass
class DashboardReport:
    """Where the site is and what went into it."""

    out: Path
    index: Path
    pages: dict[str, Path]
    site_bytes: int
    seconds: float
    analysed_here: bool
    notes: list[str] = field(default_factory=list)


def _require_libraries() -> tuple[Any, Any]:
    try:
        import jinja2
        import plotly.offline
    except ImportError as exc:
        raise DashboardDependencyError(
            f"the dashboard needs plotly and jinja2 ({exc.name} is missing): {EXTRA_HINT}") from None
    return jinja2, plotly.offline


def _environment(jinja2: Any) -> Any:
    env = jinja2.Environment(loader=jinja2.PackageLoader("gridregime.dashboard", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["when"] = lambda ms: from_ms(int(ms)).strftime("%Y-%m-%d %H:%MZ") if ms is not None else "–"
    return env


def figure_json(figure: dict[str, Any]) -> Any:
    """Figure JSON safe to place inside a ``<script type="application/json">`` block."""
    import orjson
    from markupsafe import Markup

    text = orjson.dumps(figure, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _write(path: Path, data: bytes, *, unless_same: bool = False) -> Path:
    """Write atomically, readable by all (a site is meant to be served); ``unless_same``: keep an
    identical file as it is."""
    from gridregime._atomic import atomic_write_bytes

    if unless_same:
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                return path
        except FileNotFoundError:
            pass
    atomic_write_bytes(path, data)
    os.chmod(path, 0o644)
    return path


def _write_assets(out: Path, plotly_offline: Any) -> None:
    from importlib.resources import files

    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    _write(assets / "plotly.min.js", plotly_offline.get_plotlyjs().encode(), unless_same=True)
    static = files("gridregime.dashboard") / "static"
    for name in ("dashboard.js", "dashboard.css"):
        _write(assets / name, (static / name).read_bytes(), unless_same=True)


# ---------------------------------------------------------------------------------------------
# per-symbol summaries for the index and the page headers
# ---------------------------------------------------------------------------------------------
def _strip(v: D.VerdictSeries, end_ms: int) -> list[dict[str, Any]]:
    """The verdicts of the symbol's last 7 days (up to its last analysed hour, at most ``end_ms``)
    as runs: ``{"x", "w", "color", "title"}`` in hour units."""
    from gridregime.dashboard.figures import NO_VERDICT_COLOR, VERDICT_COLORS

    if len(v):
        end_ms = min(end_ms, int(v.hours[-1]))
    first = end_ms - (STRIP_HOURS - 1) * HOUR_MS
    cells: list[str | None] = [None] * STRIP_HOURS
    known = [False] * STRIP_HOURS
    for t, verdict in zip(v.hours, v.verdict):
        k = int((int(t) - first) // HOUR_MS)
        if 0 <= k < STRIP_HOURS:
            cells[k], known[k] = verdict, True
    runs = []
    k = 0
    while k < STRIP_HOURS:
        j = k
        while j + 1 < STRIP_HOURS and cells[j + 1] == cells[k] and known[j + 1] == known[k]:
            j += 1
        if known[k]:
            label = cells[k] or "no verdict"
            runs.append({"x": k, "w": j - k + 1,
                         "color": VERDICT_COLORS.get(cells[k] or "", NO_VERDICT_COLOR),
                         "title": f"{label}: {iso_z(from_ms(first + k * HOUR_MS))} → "
                                  f"{iso_z(from_ms(first + (j + 1) * HOUR_MS))}"})
        k = j + 1
    return runs


def _summary(d: D.SymbolData, end_ms: int) -> dict[str, Any]:
    v, g = d.verdicts, d.grid
    i = v.latest_ok()
    counts = {name: sum(1 for x in v.verdict if x == name) for name in D.VERDICTS}
    n_ok = sum(counts.values())
    row: dict[str, Any] = {
        "symbol": d.symbol, "href": f"symbols/{d.symbol}.html",
        "verdict": v.verdict[i] if i is not None else None,
        "confidence": float(v.columns["confidence"][i]) if i is not None else None,
        "verdict_hour": int(v.hours[i]) if i is not None else None,
        "warming_up": bool(v.columns["warming_up"][i]) if i is not None else False,
        "price": float(v.columns["price"][i]) if i is not None else None,
        "hours": len(v), "hours_ok": n_ok,
        "shares": {k: (c / n_ok if n_ok else 0.0) for k, c in counts.items()},
        "strip": _strip(v, end_ms),
        "grid_status": "no grid", "gate": None, "readiness": None, "hours_stopped": None,
        "events": {k: sum(1 for e in d.events if e.kind == k) for k in ("stop", "restart", "reposition")},
    }
    if g is not None and len(g):
        j = len(g) - 1
        if g.enabled[j]:
            row["grid_status"] = "running, probationary" if g.mode[j] == "PROBATION" else "running"
        elif g.phase[j] not in (None, "ACTIVE") or g.mode[j] is not None:
            row["grid_status"] = "stopped"
        row["gate"] = g.phase[j]
        row["readiness"] = None if np.isnan(g.readiness[j]) else float(g.readiness[j])
        row["hours_stopped"] = None if np.isnan(g.hours_stopped[j]) else int(g.hours_stopped[j])
    return row


# ---------------------------------------------------------------------------------------------
# the build
# ---------------------------------------------------------------------------------------------
def build_dashboard(root: str | os.PathLike, symbols: Sequence[str], start: Any, end: Any,
                    out: str | os.PathLike, *, results: str | os.PathLike | None = None,
                    grid: str | os.PathLike | None = None, backtest: str | os.PathLike | None = None,
                    config: Any = None, workers: int = 1, progress: bool = False) -> DashboardReport:
    """Build the static dashboard of ``symbols`` from ``start`` to ``end`` (inclusive) into ``out``.

    Parameters
    ----------
    root : path
        The snapshot store (candles, and the analysis when no tables are given).
    symbols : sequence of str
    start, end : hour-like
        First and last hour, inclusive (UTC).
    out : path
        Site directory (created); ``out/index.html`` is the entry page.
    results : path, optional
        Results table of ``gridregime batch --out``. Without it the analysis runs here.
    grid : path, optional
        Grid table of ``gridregime batch --grid-out``. Without it the grid supervisor runs here
        (from an enabled grid, as ``batch --grid-out`` does), on the analysis run here.
    backtest : path, optional
        A backtest report directory; its ``equity.parquet`` gives the policies' equity curves.
    config : RegimeConfig, optional
        For the analysis run here.
    workers : int
        Processes for the analysis run here.
    progress : bool
        Progress bar of the analysis on stderr.

    Returns
    -------
    DashboardReport
        Index and page paths, site size in bytes, seconds, and notes (inputs that were skipped).
    """
    t0 = time.perf_counter()
    jinja2, plotly_offline = _require_libraries()
    from gridregime.grid.settings import GateConfig
    from gridregime.snapshot import SnapshotReader

    root = Path(root)
    if not root.is_dir():
        raise InvalidParameterError(f"root: expected a snapshot directory, got {str(root)!r} (not a directory)")
    symbols = list(dict.fromkeys(validate_symbol(s, name="symbols") for s in symbols))
    if not symbols:
        raise InvalidParameterError("symbols: expected at least one symbol such as ETH-USDT")
    start, end = to_utc_hour(start, name="start"), to_utc_hour(end, name="end")
    if end < start:
        raise InvalidParameterError(f"end: expected >= start ({iso_z(start)}), got {iso_z(end)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidParameterError(f"workers: expected an integer >= 1, got {workers!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidParameterError(f"out: expected a directory for the site, got {str(out)!r} (a file)")
    backtest_dir = None if backtest is None else Path(backtest)
    if backtest_dir is not None and not backtest_dir.is_dir():
        raise InvalidParameterError(f"backtest: expected a backtest report directory, got {str(backtest)!r}")
    start_ms, end_ms = to_ms(start), to_ms(end)
    reader = SnapshotReader(root)
    notes: list[str] = []

    stored = D.stored_hours(root, symbols, start, end)
    empty = [s for s, h in stored.items() if not h]
    if empty:
        raise InvalidParameterError(
            f"symbols: no snapshots of {', '.join(empty)} in {str(root)!r} from {iso_z(start)} to {iso_z(end)}")

    results_tables = grid_tables = None
    if results is not None:
        table = D.read_table(results, "results", ("symbol", "hour", "verdict", "confidence"),
                             "the results table of gridregime batch --out")
        results_tables = D.split_by_symbol(table, "results", symbols, start_ms, end_ms)
    if grid is not None:
        table = D.read_table(grid, "grid", ("symbol", "hour", "gate_phase"),
                             "the grid table of gridregime batch --grid-out")
        grid_tables = D.split_by_symbol(table, "grid", symbols, start_ms, end_ms)
    own = None
    if results_tables is None or grid_tables is None:
        own = D.run_analysis(root, symbols, start, end, config=config, workers=workers, progress=progress)
        if results_tables is None:
            results_tables = D.split_by_symbol(own.results_table(), "results", symbols, start_ms, end_ms)
        if grid_tables is None:
            grid_tables = {s: D.grid_rows_table(own.grid_rows.get(s, [])) for s in symbols}

    equity = {}
    if backtest_dir is not None:
        equity = D.read_equity(backtest_dir, symbols, start_ms, end_ms, notes)

    gate_config = GateConfig()
    datas: list[D.SymbolData] = []
    for s in symbols:
        verdicts = D.verdict_series(results_tables[s], "results")
        gtable = grid_tables[s]
        grid_series = D.grid_series(gtable, "grid") if gtable.num_rows else None
        sym_notes = []
        if not len(verdicts):
            sym_notes.append(f"no results for {s} in the chosen hours")
        if grid_series is None:
            sym_notes.append(f"no grid rows for {s} in the chosen hours")
        if grid is None and own is not None:
            events = own.events.get(s, [])
        elif grid_series is not None:
            events = D.events_from_table(gtable, grid_series, verdicts, reader, s)
        else:
            events = []
        hourly, minute = D.load_candles(reader, s, start, stored[s], MINUTE_HOURS)
        datas.append(D.SymbolData(
            symbol=s, verdicts=verdicts, grid=grid_series, events=events, hourly=hourly, minute=minute,
            equity=equity.get(s, {}), time_floor_hours=gate_config.for_symbol(s).min_hours_stopped,
            notes=sym_notes))

    pages = _render(out, datas, start_ms, end_ms, notes, jinja2, plotly_offline,
                    sources={"results": results, "grid": grid, "backtest": backtest, "root": root,
                             "analysed_here": own is not None})
    index = out / "index.html"
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return DashboardReport(out=out, index=index, pages=pages, site_bytes=size, seconds=time.perf_counter() - t0,
                           analysed_here=own is not None, notes=notes + [n for d in datas for n in d.notes])


def _render(out: Path, datas: list[D.SymbolData], start_ms: int, end_ms: int, notes: list[str], jinja2: Any,
            plotly_offline: Any, sources: dict[str, Any]) -> dict[str, Path]:
    from gridregime import __version__
    from gridregime.dashboard import figures as F

    env = _environment(jinja2)
    _write_assets(out, plotly_offline)
    summaries = [_summary(d, end_ms) for d in datas]
    common = {"version": __version__, "span": f"{iso_z(from_ms(start_ms))} → {iso_z(from_ms(end_ms))}",
              "verdict_colors": F.VERDICT_COLORS, "no_verdict_color": F.NO_VERDICT_COLOR,
              "symbols": [d.symbol for d in datas], "strip_hours": STRIP_HOURS,
              "sources": {k: (None if v is None else (v if isinstance(v, bool) else Path(v).name))
                          for k, v in sources.items()}}
    pages: dict[str, Path] = {}
    page_tpl = env.get_template("symbol.html.j2")
    for d, summary in zip(datas, summaries):
        charts = [{"id": "main", "title": None, "figure": figure_json(F.symbol_figure(d))}]
        if d.equity:
            charts.append({"id": "equity", "title": "Backtest equity by policy",
                           "figure": figure_json(F.equity_figure(d.equity))})
        events = [e for e in d.events if e.kind in F.EVENT_STYLE]  # gate passages: on the gate timeline
        html = page_tpl.render(**common, asset_prefix="../", index_href="../index.html", s=summary,
                               charts=charts, events=events[-300:], events_total=len(events),
                               event_labels={k: v[0] for k, v in F.EVENT_STYLE.items()},
                               has_minute=bool(d.minute["ts"].size), notes=d.notes,
                               equity_note=None if d.equity or sources["backtest"] is None else
                               "the backtest has no equity curves for this symbol",
                               span_data=D.describe_span(d.verdicts.hours))
        pages[d.symbol] = _write(out / "symbols" / f"{d.symbol}.html", html.encode())
    overview = figure_json(F.overview_figure([d.symbol for d in datas],
                                             {s["symbol"]: s["shares"] for s in summaries}))
    html = env.get_template("index.html.j2").render(**common, asset_prefix="", index_href="index.html",
                                                    rows=summaries, notes=notes,
                                                    charts=[{"id": "overview", "title": None, "figure": overview}])
    _write(out / "index.html", html.encode())
    return pages
