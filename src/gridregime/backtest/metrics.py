"""Figures of a backtest: equity metrics per policy, forward statistics per verdict, the verdict
process (distribution, transitions, durations), the supervisor's stops and restarts, and accuracy
against labels.

Everything here is plain NumPy over per-hour arrays of one symbol-range; pooling across
symbol-ranges happens in :mod:`gridregime.backtest.runner`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gridregime.verdicts import VERDICTS

HORIZON = 24
HOURS_PER_YEAR = 24 * 365
LOSING_STOP = 0.02  # a grid closed more than 2 % of its allocation down


def _f(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


# -- equity ------------------------------------------------------------------------------------
def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall from a running peak, as a share of that peak (0 when equity never falls)."""
    if equity.size == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float(np.max((peak - equity) / peak))


def equity_metrics(equity: np.ndarray, budget: float) -> dict[str, float | None]:
    """Return, max drawdown, return/max drawdown, Sharpe and Sortino (hourly, annualised) and profit
    factor (gains over losses of the hourly equity changes) of one hourly equity curve that starts
    from ``budget``."""
    eq = np.r_[budget, np.asarray(equity, dtype=np.float64)]
    ret = float(eq[-1] / budget - 1.0)
    mdd = max_drawdown(eq)
    r = eq[1:] / eq[:-1] - 1.0
    sd = float(np.std(r)) if r.size > 1 else 0.0
    down = np.minimum(r, 0.0)
    dd = float(np.sqrt(np.mean(down * down))) if r.size else 0.0
    mean = float(np.mean(r)) if r.size else 0.0
    diff = np.diff(eq)
    gains, losses = float(diff[diff > 0].sum()), float(-diff[diff < 0].sum())
    return {
        "return": ret,
        "max_drawdown": mdd,
        "return_over_drawdown": ret / mdd if mdd > 0 else None,
        "sharpe": mean / sd * math.sqrt(HOURS_PER_YEAR) if sd > 0 else None,
        "sortino": mean / dd * math.sqrt(HOURS_PER_YEAR) if dd > 0 else None,
        "profit_factor": gains / losses if losses > 0 else None,
    }


# -- forward statistics per hour ----------------------------------------------------------------
def forward_stats(high: np.ndarray, low: np.ndarray, close: np.ndarray, present: np.ndarray,
                  lower: np.ndarray, upper: np.ndarray, atr: np.ndarray,
                  horizon: int = HORIZON) -> dict[str, np.ndarray]:
    """Per hour ``t`` of a contiguous hourly grid (``present`` marks hours that have a bar):

    - ``hold``: 1.0 when the next ``horizon`` hourly highs and lows all stay inside
      ``[lower[t], upper[t]]``, 0.0 when not, NaN when not measurable (no range, or a missing hour);
    - ``abs_move_atr``: ``|close[t + horizon] - close[t]| / atr[t]``;
    - ``rv_ratio``: the standard deviation of the next ``horizon`` hourly log returns over that of
      the last ``horizon`` (both need every bar present);
    - ``rv_change``: ``|log rv_ratio|``, how much realised volatility changes, up or down (a ratio
      of 0.5 and one of 2 are the same change).
    """
    n = close.size
    hold = np.full(n, np.nan)
    move = np.full(n, np.nan)
    rvr = np.full(n, np.nan)
    if n <= horizon:
        return {"hold": hold, "abs_move_atr": move, "rv_ratio": rvr, "rv_change": rvr.copy()}
    win = np.lib.stride_tricks.sliding_window_view
    m = n - horizon  # hours t = 0 .. m-1 have a full horizon after them: bars t+1 .. t+horizon
    ahead = win(present[1:], horizon).all(axis=1)  # [t]: the next horizon bars are present
    ok = present[:m] & ahead
    with np.errstate(invalid="ignore"):
        top = win(np.where(present, high, -np.inf)[1:], horizon).max(axis=1)
        bottom = win(np.where(present, low, np.inf)[1:], horizon).min(axis=1)
        ranged = ok & np.isfinite(lower[:m]) & np.isfinite(upper[:m])
        hold[:m][ranged] = ((top <= upper[:m]) & (bottom >= lower[:m]))[ranged].astype(float)
        atr_ok = ok & np.isfinite(atr[:m]) & (atr[:m] > 0)
        move[:m][atr_ok] = (np.abs(close[horizon:] - close[:m]) / atr[:m])[atr_ok]
        logc = np.log(np.where(present, close, np.nan))
        lr = np.diff(logc)  # lr[j] is the return into bar j + 1
        sd = win(lr, horizon).std(axis=1)  # sd[j]: returns into bars j+1 .. j+horizon
        # past: returns into bars t-horizon+1 .. t (sd[t-horizon]); next: into t+1 .. t+horizon (sd[t])
        t = np.arange(horizon, m)
        past_ok = win(present, horizon + 1).all(axis=1)[:m - horizon]  # bars t-horizon .. t present
        sd_past, sd_next = sd[t - horizon], sd[t]
        good = ok[t] & past_ok & (sd_past > 0) & np.isfinite(sd_past) & np.isfinite(sd_next)
        rvr[t[good]] = sd_next[good] / sd_past[good]
        change = np.abs(np.log(rvr))  # NaN stays NaN; a ratio of 0 (flat next day) is an infinite change
    return {"hold": hold, "abs_move_atr": move, "rv_ratio": rvr, "rv_change": change}


def per_verdict(verdicts: Sequence[str | None], stats: Mapping[str, np.ndarray],
                groups: Mapping[str, np.ndarray] | None = None) -> dict[str, dict[str, Any]]:
    """Mean of each forward statistic and its hour count, per verdict, for all analysed hours, and
    for each extra group of hours (``groups``: name -> boolean mask, e.g. the hours a grid may start)."""
    v = np.array([x if x is not None else "" for x in verdicts], dtype=object)
    out: dict[str, dict[str, Any]] = {}
    extra = dict(groups or {})
    for name in VERDICTS + ("ALL",) + tuple(extra):
        sel = extra[name] if name in extra else (v != "" if name == "ALL" else v == name)
        row: dict[str, Any] = {"hours": int(sel.sum())}
        for key, arr in stats.items():
            vals = arr[sel]
            vals = vals[np.isfinite(vals)]
            row[key] = _f(float(vals.mean())) if vals.size else None
            row[f"{key}_n"] = int(vals.size)
        out[name] = row
    return out


# -- the verdict process ------------------------------------------------------------------------
def verdict_process(verdicts: Sequence[str | None]) -> dict[str, Any]:
    """Distribution, transition counts between consecutive analysed hours, and mean run lengths."""
    counts = {v: 0 for v in VERDICTS}
    trans = {a: {b: 0 for b in VERDICTS} for a in VERDICTS}
    runs: dict[str, list[int]] = {v: [] for v in VERDICTS}
    prev, length = None, 0
    for v in verdicts:
        if v in counts:
            counts[v] += 1
        if prev in trans and v in trans:
            trans[prev][v] += 1
        if v == prev and v is not None:
            length += 1
        else:
            if prev in runs:
                runs[prev].append(length)
            prev, length = v, 1
    if prev in runs:
        runs[prev].append(length)
    total = sum(counts.values())
    return {
        "counts": counts,
        "shares": {v: (counts[v] / total if total else None) for v in VERDICTS},
        "transitions": trans,
        "mean_duration_hours": {v: (float(np.mean(runs[v])) if runs[v] else None) for v in VERDICTS},
        "runs": {v: len(runs[v]) for v in VERDICTS},
    }


# -- the supervisor's stops and restarts ----------------------------------------------------------
def stop_stats(rows: Sequence[Mapping[str, Any]], hour_index: Mapping[Any, int], high: np.ndarray,
               low: np.ndarray, present: np.ndarray, horizon: int = HORIZON) -> dict[str, Any]:
    """Stops, restarts, false stops (the next ``horizon`` hourly highs and lows stayed inside the
    stopped grid) and re-triggers (a stop within ``horizon`` hours of a restart), from supervisor rows."""
    stops = restarts = false_stops = measurable = retriggers = 0
    last_restart: int | None = None
    n = high.size
    for row in rows:
        events = [e for e in (row.get("events") or "").split(",") if e]
        t = hour_index.get(row["hour"])
        if t is None:
            continue
        if "restart" in events:
            restarts += 1
            last_restart = t
        if "stop" in events:
            stops += 1
            if last_restart is not None and t - last_restart <= horizon:
                retriggers += 1
            e = t + horizon
            lo, hi = row.get("grid_lower"), row.get("grid_upper")
            if e < n and present[t + 1:e + 1].all() and lo is not None and hi is not None:
                measurable += 1
                false_stops += bool(np.all(high[t + 1:e + 1] <= hi) and np.all(low[t + 1:e + 1] >= lo))
    return {
        "stops": stops, "restarts": restarts, "false_stops": false_stops, "false_stops_measurable": measurable,
        "false_stop_rate": false_stops / measurable if measurable else None,
        "retriggers": retriggers, "retrigger_rate": retriggers / restarts if restarts else None,
    }


# -- labels -------------------------------------------------------------------------------------
LABEL_EXPECT = {"range": ("RANGE_OK", "RANGE_WEAK"), "trend_up": ("TREND",), "trend_down": ("TREND",),
                "trend": ("TREND",), "transition": ("TRANSITION",)}


LABEL_FAMILY = {"range": "range", "trend_up": "trend", "trend_down": "trend", "trend": "trend",
                "transition": "transition"}


def label_accuracy(verdicts: Sequence[str | None], labels: Sequence[str | None], *, settle: int = 0) -> dict[str, Any]:
    """Confusion counts label × verdict, recall per label family, and the costly confusions:
    trend hours called RANGE_OK, range hours called TREND, transition hours called RANGE_OK.

    ``settle``: hours right after each change of label family that are not counted (no hourly
    analysis can know a regime changed until some of it has been seen); ``settled_hours`` and
    ``hours`` say how many were counted of how many labelled."""
    fam = LABEL_FAMILY
    confusion: dict[str, dict[str, int]] = {f: {v: 0 for v in VERDICTS} for f in ("range", "trend", "transition")}
    since, prev, labelled, counted = 0, None, 0, 0
    for v, lab in zip(verdicts, labels):
        f = fam.get(lab or "")
        since = since + 1 if f == prev else 0
        prev = f
        if f is None or v not in VERDICTS:
            continue
        labelled += 1
        if since < settle:
            continue
        counted += 1
        confusion[f][v] += 1
    def share(f: str, vs: tuple[str, ...]) -> float | None:
        tot = sum(confusion[f].values())
        return sum(confusion[f][v] for v in vs) / tot if tot else None
    return {
        "settle_hours": int(settle), "hours": labelled, "settled_hours": counted,
        "confusion": confusion,
        "recall": {"range": share("range", ("RANGE_OK", "RANGE_WEAK")), "trend": share("trend", ("TREND",)),
                   "transition": share("transition", ("TRANSITION",))},
        "trend_called_range_ok": share("trend", ("RANGE_OK",)),
        "range_called_trend": share("range", ("TREND",)),
        "transition_called_range_ok": share("transition", ("RANGE_OK",)),
    }
