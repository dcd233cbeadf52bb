"""Plotly figures of the dashboard as plain dicts (``{"data": [...], "layout": {...}}``).

Built as dicts rather than ``plotly.graph_objects``: the page only needs the JSON, and skipping
the objects' validation keeps a month of 20 symbols well under a second of figure building.
Times are epoch milliseconds on ``type: "date"`` axes (Plotly reads them as UTC); prices are
rounded to 7 significant digits and scores to 2 decimals to keep pages small. Every string taken
from data (reasons, factors) is HTML-escaped before it goes into a hover text, since Plotly reads
a few tags there.
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gridregime.dashboard.data import PHASES, VERDICTS, GridEvent, GridSeries, SymbolData, VerdictSeries
from gridregime.timeutil import HOUR_MS

VERDICT_COLORS = {"RANGE_OK": "#2ca02c", "RANGE_WEAK": "#f0b400", "TREND": "#d62728", "TRANSITION": "#7b3fb0"}
NO_VERDICT_COLOR = "#bdbdbd"
SCORE_STYLE = {"trend_score": ("trend", "#d62728"), "mean_rev_score": ("mean reversion", "#1f77b4"),
               "vol_change_score": ("volatility change", "#7b3fb0"),
               "range_quality_score": ("range quality", "#2ca02c")}
EVENT_STYLE = {  # kind: (label, marker symbol, colour)
    "stop": ("stop", "x", "#d62728"),
    "restart": ("restart (probationary)", "triangle-up", "#2ca02c"),
    "reposition": ("reposition", "diamond", "#1f77b4"),
    "enable": ("enable", "circle-open", "#2ca02c"),
    "initial": ("initial grid", "circle-open", "#555555"),
    "promotion": ("promotion", "star", "#2ca02c"),
}
GRID_STYLE = {"NORMAL": ("grid levels", "#1f77b4", "solid", 1.0),
              "PROBATION": ("grid levels (probationary)", "#ff7f0e", "dash", 1.5)}
PHASE_Y = {p: i for i, p in enumerate(PHASES)}
PHASE_LABELS = ["ACTIVE", "STOPPED", "gate 1", "gate 2", "gate 3", "READY"]
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


def round_sig(values: Any, sig: int = 7) -> np.ndarray:
    """Round an array to ``sig`` significant digits of its largest magnitude (one decimals for all)."""
    a = np.asarray(values, dtype=np.float64)
    finite = a[np.isfinite(a)]
    if not finite.size:
        return a
    top = float(np.max(np.abs(finite)))
    if top == 0.0:
        return a
    decimals = int(sig - 1 - math.floor(math.log10(top)))
    return np.round(a, max(0, min(decimals, 12)))


def esc(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _hover(event: GridEvent, when: str) -> str:
    label = EVENT_STYLE.get(event.kind, (event.kind,))[0]
    lines = [f"<b>{esc(label)}</b> {when}", esc(event.reason)] + [esc(x) for x in event.factors[:14]]
    return "<br>".join(lines)


def _when(ms: int) -> str:
    from gridregime.timeutil import from_ms

    return from_ms(ms).strftime("%Y-%m-%d %H:%MZ")


# ---------------------------------------------------------------------------------------------
# the symbol page
# ---------------------------------------------------------------------------------------------
def _grid_segments(grid: GridSeries, mode: str) -> tuple[list[Any], list[Any]]:
    """Horizontal segments of the grid levels for the hours the grid ran enabled in ``mode``.

    One segment per level and per run of hours with the same levels; ``None`` breaks the line.
    """
    xs: list[Any] = []
    ys: list[Any] = []
    n = len(grid)
    i = 0
    while i < n:
        levels = grid.levels[i] if grid.enabled[i] and grid.mode[i] == mode else None
        if levels is None:
            i += 1
            continue
        j = i
        while j + 1 < n and grid.enabled[j + 1] and grid.mode[j + 1] == mode and grid.levels[j + 1] == levels \
                and grid.hours[j + 1] - grid.hours[j] == HOUR_MS:
            j += 1
        x0, x1 = int(grid.hours[i]) - HOUR_MS // 2, int(grid.hours[j]) + HOUR_MS // 2
        for level in levels:
            xs += [x0, x1, None]
            ys += [level, level, None]
        i = j + 1
    return xs, ys


def _bounds_only(grid: GridSeries) -> GridSeries:
    """The grid with its bounds as its levels, for tables without level prices."""
    levels = [(float(lo), float(up)) if en and math.isfinite(lo) and math.isfinite(up) else None
              for lo, up, en in zip(grid.lower, grid.upper, grid.enabled)]
    return GridSeries(grid.hours, grid.phase, grid.readiness, grid.hours_stopped, grid.enabled, grid.mode,
                      grid.lower, grid.upper, grid.version, grid.action, levels)


def symbol_figure(d: SymbolData) -> dict[str, Any]:
    """Price with range and grid, verdict ribbon, confidence and scores, restart gates: one figure,
    four rows sharing the time axis (zooming one zooms all)."""
    v: VerdictSeries = d.verdicts
    data: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}

    # -- row 1: price ----------------------------------------------------------------------
    h = d.hourly
    meta["hourly_index"] = len(data)
    data.append({"type": "candlestick", "name": "hourly candles", "x": h["ts"],
                 "open": round_sig(h["open"]), "high": round_sig(h["high"]), "low": round_sig(h["low"]),
                 "close": round_sig(h["close"]), "xaxis": "x", "yaxis": "y", "showlegend": False, "visible": True,
                 "increasing": {"line": {"color": "#26a69a", "width": 1}},
                 "decreasing": {"line": {"color": "#ef5350", "width": 1}}})
    m = d.minute
    if m["ts"].size:
        meta["minute_index"] = len(data)
        meta["minute_range"] = [int(m["ts"][0]), int(m["ts"][-1]) + 60_000]
        data.append({"type": "candlestick", "name": "minute candles", "x": m["ts"],
                     "open": round_sig(m["open"]), "high": round_sig(m["high"]), "low": round_sig(m["low"]),
                     "close": round_sig(m["close"]), "xaxis": "x", "yaxis": "y", "visible": False,
                     "showlegend": False,
                     "increasing": {"line": {"color": "#26a69a", "width": 1}},
                     "decreasing": {"line": {"color": "#ef5350", "width": 1}}})
    lower, upper = round_sig(v.columns["range_lower"]), round_sig(v.columns["range_upper"])
    data.append({"type": "scatter", "mode": "lines", "name": "discovered range", "x": v.hours, "y": lower,
                 "line": {"color": "rgba(44,160,44,0.6)", "width": 1, "shape": "hv"}, "xaxis": "x", "yaxis": "y",
                 "legendgroup": "range", "hovertemplate": "range low %{y}<extra></extra>"})
    data.append({"type": "scatter", "mode": "lines", "name": "discovered range", "x": v.hours, "y": upper,
                 "fill": "tonexty", "fillcolor": "rgba(44,160,44,0.12)", "showlegend": False,
                 "line": {"color": "rgba(44,160,44,0.6)", "width": 1, "shape": "hv"}, "xaxis": "x", "yaxis": "y",
                 "legendgroup": "range", "hovertemplate": "range high %{y}<extra></extra>"})
    if d.grid is not None and len(d.grid):
        grid = d.grid if any(lv is not None for lv in d.grid.levels) else _bounds_only(d.grid)
        for mode, (name, color, dash, width) in GRID_STYLE.items():
            xs, ys = _grid_segments(grid, mode)
            if xs:
                data.append({"type": "scatter", "mode": "lines", "name": name, "x": xs,
                             "y": [None if y is None else float(round_sig([y])[0]) for y in ys],
                             "line": {"color": color, "width": width, "dash": dash}, "opacity": 0.8,
                             "xaxis": "x", "yaxis": "y", "hovertemplate": name + " %{y}<extra></extra>"})
    by_kind: dict[str, list[GridEvent]] = {}
    for e in d.events:
        if e.kind in EVENT_STYLE and math.isfinite(e.price):
            by_kind.setdefault(e.kind, []).append(e)
    for kind, evs in by_kind.items():
        label, symbol, color = EVENT_STYLE[kind]
        data.append({"type": "scatter", "mode": "markers", "name": label, "x": [e.hour_ms for e in evs],
                     "y": [e.price for e in evs], "xaxis": "x", "yaxis": "y",
                     "marker": {"symbol": symbol, "size": 11, "color": color,
                                "line": {"width": 2, "color": color}},
                     "hovertext": [_hover(e, _when(e.hour_ms)) for e in evs], "hoverinfo": "text",
                     "hoverlabel": {"align": "left"}})

    # -- row 2: verdict ribbon ---------------------------------------------------------------
    verdicts = np.array([x if x is not None else "" for x in v.verdict], dtype=object)
    conf = np.round(v.columns["confidence"], 2)
    warming = v.columns["warming_up"]
    bars = v.columns["history_bars"]
    for name in (*VERDICTS, ""):
        idx = np.flatnonzero(verdicts == name)
        if not idx.size:
            continue
        label = name or "no verdict"
        marker: dict[str, Any] = {"color": VERDICT_COLORS.get(name, NO_VERDICT_COLOR), "line": {"width": 0}}
        trace = {"type": "bar", "name": label, "x": v.hours[idx], "y": np.ones(idx.size),
                 "width": HOUR_MS, "base": 0, "xaxis": "x2", "yaxis": "y2",
                 "marker": marker, "meta": "ribbon:" + label,
                 "hovertemplate": "no verdict (insufficient data)<extra></extra>"}
        if name:
            trace["customdata"] = conf[idx]
            trace["hovertemplate"] = f"{label}<br>confidence %{{customdata}}<extra></extra>"
            if warming[idx].any():  # paler, and said so: ranked over less history than configured
                marker["opacity"] = np.where(warming[idx], 0.45, 1.0)
                trace["customdata"] = [[c, f"<br>warming up ({int(b)} bars of history)" if w and b == b
                                        else ("<br>warming up" if w else "")]
                                       for c, w, b in zip(conf[idx].tolist(), warming[idx], bars[idx])]
                trace["hovertemplate"] = f"{label}<br>confidence %{{customdata[0]}}%{{customdata[1]}}<extra></extra>"
        data.append(trace)

    # -- row 3: confidence and scores ----------------------------------------------------------
    for col, (name, color) in SCORE_STYLE.items():
        data.append({"type": "scatter", "mode": "lines", "name": name, "x": v.hours,
                     "y": np.round(v.columns[col], 2), "xaxis": "x3", "yaxis": "y3",
                     "line": {"color": color, "width": 1}, "opacity": 0.85,
                     "hovertemplate": name + " %{y}<extra></extra>"})
    data.append({"type": "scatter", "mode": "lines", "name": "confidence (%)", "x": v.hours,
                 "y": np.round(100 * v.columns["confidence"], 1), "xaxis": "x3", "yaxis": "y3",
                 "line": {"color": "#222222", "width": 2}, "hovertemplate": "confidence %{y} %<extra></extra>"})

    # -- row 4: restart gates --------------------------------------------------------------------
    if d.grid is not None and len(d.grid):
        g = d.grid
        phase_y = np.array([PHASE_Y.get(p, np.nan) if p is not None else np.nan for p in g.phase], dtype=float)
        stopped = np.array([p not in (None, "ACTIVE") for p in g.phase])
        floor_left = np.where(stopped, np.maximum(0.0, d.time_floor_hours - np.nan_to_num(g.hours_stopped)), 0.0)
        in_floor = np.flatnonzero(stopped & (floor_left > 0))
        if in_floor.size:
            data.append({"type": "bar", "name": f"time floor ({d.time_floor_hours} h)", "x": g.hours[in_floor],
                         "y": np.full(in_floor.size, len(PHASES) - 0.5), "base": -0.5, "width": HOUR_MS,
                         "xaxis": "x4", "yaxis": "y4", "marker": {"color": "rgba(255,127,14,0.25)",
                                                                  "line": {"width": 0}},
                         "customdata": floor_left[in_floor],
                         "hovertemplate": "time floor: %{customdata} h left<extra></extra>"})
        data.append({"type": "scatter", "mode": "lines", "name": "gate phase", "x": g.hours, "y": phase_y,
                     "xaxis": "x4", "yaxis": "y4", "line": {"color": "#444444", "width": 2, "shape": "hv"},
                     "customdata": [p or "" for p in g.phase],
                     "hovertemplate": "%{customdata}<extra></extra>"})
        data.append({"type": "scatter", "mode": "lines", "name": "restart readiness", "x": g.hours,
                     "y": np.round(g.readiness, 3), "xaxis": "x4", "yaxis": "y5",
                     "line": {"color": "#17becf", "width": 1.5, "shape": "hv"}, "fill": "tozeroy",
                     "fillcolor": "rgba(23,190,207,0.12)", "hovertemplate": "readiness %{y}<extra></extra>"})
        passed = [e for e in d.events if e.kind == "gate_passed"]
        if passed:
            row_of = {int(t): i for i, t in enumerate(g.hours)}
            data.append({"type": "scatter", "mode": "markers", "name": "gate passed", "xaxis": "x4", "yaxis": "y4",
                         "x": [e.hour_ms for e in passed],
                         "y": [phase_y[row_of[e.hour_ms]] if e.hour_ms in row_of else None for e in passed],
                         "marker": {"symbol": "diamond", "size": 9, "color": "#2ca02c"},
                         "hovertext": [_hover(e, _when(e.hour_ms)) for e in passed], "hoverinfo": "text",
                         "hoverlabel": {"align": "left"}})

    axis = {"type": "date", "showgrid": True, "gridcolor": "#eeeeee", "hoverformat": "%Y-%m-%d %H:%M"}
    layout = {
        "height": 1000, "margin": {"l": 70, "r": 60, "t": 80, "b": 40}, "font": FONT,
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff", "hovermode": "closest", "barmode": "overlay",
        "bargap": 0, "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0, "font": {"size": 11}},
        "xaxis": {**axis, "anchor": "y", "showticklabels": False, "rangeslider": {"visible": False}},
        "xaxis2": {**axis, "anchor": "y2", "matches": "x", "showticklabels": False, "showgrid": False},
        "xaxis3": {**axis, "anchor": "y3", "matches": "x", "showticklabels": False},
        "xaxis4": {**axis, "anchor": "y4", "matches": "x"},
        "yaxis": {"domain": [0.47, 1.0], "title": {"text": "price"}, "gridcolor": "#eeeeee", "fixedrange": False},
        "yaxis2": {"domain": [0.415, 0.455], "range": [0, 1], "showticklabels": False, "showgrid": False,
                   "fixedrange": True, "zeroline": False, "title": {"text": "verdict", "font": {"size": 11}}},
        "yaxis3": {"domain": [0.2, 0.395], "range": [0, 101], "title": {"text": "score"}, "gridcolor": "#eeeeee",
                   "fixedrange": True},
        "yaxis4": {"domain": [0.0, 0.175], "range": [-0.5, len(PHASES) - 0.5], "tickvals": list(range(len(PHASES))),
                   "ticktext": PHASE_LABELS, "fixedrange": True, "gridcolor": "#eeeeee",
                   "title": {"text": "gates", "font": {"size": 11}}},
        "yaxis5": {"overlaying": "y4", "side": "right", "range": [0, 1.02], "fixedrange": True, "showgrid": False,
                   "tickvals": [0, 0.5, 1], "tickformat": ".0%",
                   "title": {"text": "readiness", "font": {"size": 11}}, "anchor": "x4"},
    }
    return {"data": data, "layout": layout, "meta": meta}


def equity_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """One equity line per backtest policy."""
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
    data = []
    for i, (policy, (x, y)) in enumerate(sorted(curves.items())):
        data.append({"type": "scatter", "mode": "lines", "name": policy, "x": x, "y": round_sig(y),
                     "line": {"color": palette[i % len(palette)], "width": 2 if policy == "SUPERVISOR" else 1.2},
                     "hovertemplate": policy + " %{y}<extra></extra>"})
    layout = {"height": 360, "margin": {"l": 70, "r": 30, "t": 20, "b": 40}, "font": FONT,
              "plot_bgcolor": "#ffffff", "hovermode": "x unified",
              "xaxis": {"type": "date", "gridcolor": "#eeeeee"},
              "yaxis": {"title": {"text": "equity (quote)"}, "gridcolor": "#eeeeee"},
              "legend": {"orientation": "h", "y": 1.1}}
    return {"data": data, "layout": layout, "meta": {}}


# ---------------------------------------------------------------------------------------------
# the index
# ---------------------------------------------------------------------------------------------
def overview_figure(symbols: Sequence[str], shares: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Share of hours in each verdict, per symbol (stacked horizontal bars)."""
    data = []
    ys = list(symbols)[::-1]
    for verdict in VERDICTS:
        data.append({"type": "bar", "orientation": "h", "name": verdict, "y": ys,
                     "x": [round(100 * shares.get(s, {}).get(verdict, 0.0), 1) for s in ys],
                     "marker": {"color": VERDICT_COLORS[verdict]},
                     "hovertemplate": "%{y}: %{x} % " + verdict + "<extra></extra>"})
    layout = {"height": 80 + 26 * len(ys), "barmode": "stack", "font": FONT,
              "margin": {"l": 110, "r": 20, "t": 10, "b": 30}, "plot_bgcolor": "#ffffff",
              "xaxis": {"range": [0, 100], "ticksuffix": " %", "fixedrange": True},
              "yaxis": {"fixedrange": True, "type": "category"},
              "legend": {"orientation": "h", "traceorder": "normal", "y": -0.25 if len(ys) < 4 else -0.08}}
    return {"data": data, "layout": layout, "meta": {}}
