"""Backtest outputs: ``report.json`` (validated against a JSON Schema shipped in the package),
``report.md``, ``hours.parquet`` (one row per symbol-hour: verdict, supervisor decisions, forward
statistics, each policy's equity) and ``equity.parquet`` (long form: symbol, hour, policy, equity).
All written atomically.
"""
from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from gridregime import __version__
from gridregime.backtest.metrics import VERDICTS
from gridregime.backtest.runner import BacktestResult, settings_dict

REPORT_FORMAT = 1
POLICY_ORDER = ("ALWAYS", "VERDICT", "STICKY", "SUPERVISOR", "ADX_FILTER", "VOL_PREMIUM", "RANDOM", "HOLD",
                "FLAT")


def report_schema() -> dict[str, Any]:
    """The JSON Schema of ``report.json``."""
    text = resources.files("gridregime").joinpath("schemas/backtest_report.schema.json").read_text("utf-8")
    return json.loads(text)


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item"):  # NumPy scalars
        return _clean(x.item())
    return x


def report_dict(result: BacktestResult) -> dict[str, Any]:
    """The content of ``report.json``."""
    ranges = []
    for o in result.outcomes:
        ranges.append({
            **o.info, "seconds": o.seconds, "policies": o.policies, "random": o.random, "verdicts": o.verdicts,
            "forward": o.forward, "stops": o.stops, "labels": o.labels, "skipped_hours": o.skipped,
        })
    return _clean({
        "format": REPORT_FORMAT,
        "gridregime_version": __version__,
        "config_hash": result.config_hash,
        "settings": settings_dict(result.settings),
        "supervisor": {"gates": result.supervisor.gates.to_dict(), "grid": result.supervisor.policy.to_dict()},
        "seconds": result.seconds,
        "ranges": ranges,
        "pooled": result.pooled,
        "differences": result.differences,
        "failures": result.failures,
    })


def _pct(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{100 * x:+.{digits}f} %"


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def policy_table(pooled_policies: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows: the pooled policy figures."""
    lines = ["| policy | mean return | per month | positive | mean max DD | return/DD | Sharpe | Sortino "
             "| profit factor | exposure h | starts | fills | fees | losing stops | model risk |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    names = [p for p in POLICY_ORDER if p in pooled_policies] + [p for p in pooled_policies if p not in POLICY_ORDER]
    for name in names:
        p = pooled_policies[name]
        lines.append(
            f"| {name} | {_pct(p['mean_return'])} | {_pct(p['mean_monthly_return'])} | "
            f"{p['positive_ranges']}/{p['ranges']} | {_pct(p['mean_max_drawdown'])} | "
            f"{_num(p['return_over_drawdown'])} | {_num(p['sharpe'])} | {_num(p['sortino'])} | "
            f"{_num(p['profit_factor'])} | {p['exposure_hours']:.0f} | {p['starts']:.0f} | {p['fills']:.0f} | "
            f"{p['fees']:.2f} | {p['losing_stops']:.0f} | {_pct(p['mean_model_risk'])} |")
    return lines


def render_markdown(result: BacktestResult) -> str:
    s = result.settings
    pooled = result.pooled
    lines = ["# gridregime backtest", "",
             f"{len(result.outcomes)} symbol-range(s), {pooled['hours']} hours "
             f"({pooled['warming_up_hours']} warming up, {pooled['insufficient_data']} with insufficient history). "
             f"Grids of {s.levels} levels over the discovered range, fee {100 * s.fee:.3f} % a fill, minimum order "
             f"{s.min_notional:g}, budget {s.budget:g} per symbol-range, intrabar path `{s.path}` (model risk: the "
             f"other path's return minus this one's), {s.seeds} RANDOM seeds. Config `{result.config_hash}`. "
             f"{result.seconds:.1f} s.", "", f"Supervisor settings: {_changed_settings(result.supervisor)}.", ""]
    coarse = [o for o in result.outcomes if o.coarse]
    if coarse:
        lines += [f"**Coarse:** {len(coarse)} symbol-range(s) simulated on 1h bars (no 1m bars): fills inside an "
                  "hour are approximated by the hourly high and low.", ""]
    lines += ["## Policies (pooled)", "",
              "Returns net of fees on the budget, equity marked to market at each hour's close; max drawdown on "
              "hourly equity; Sharpe and Sortino on hourly returns, annualised.", ""]
    lines += policy_table(pooled["policies"])
    lines += ["", "## Differences (90 % day-block bootstrap intervals)", "",
              "| a | b | what | estimate | 90 % interval | days |", "|---|---|---|---|---|---|"]
    for d in result.differences:
        unit = "return / symbol-month" if d["kind"] == "policy_return" else d["unit"]
        fmt = _pct if d["kind"] in ("policy_return", "forward_hold", "forward_grid_pnl") else _num
        lo, hi = d["low"], d["high"]
        lines.append(f"| {d['a']} | {d['b']} | {unit} | {fmt(d['estimate'])} | "
                     f"{fmt(lo)} … {fmt(hi)} | {d['days']} |")
    lines += ["", "## Verdicts", "",
              "Forward statistics over the next 24 h. *Grid P&L*: the hour's reference grid (ALWAYS's, over the "
              "discovered range) started at the next hour, closed 24 h later, as a share of its allocation. "
              "GRID_START_OK: the hours a grid may start; HIGH_VOL: pct(ATR) >= 80.", "",
              "| verdict | hours | share | mean duration h | forward 24 h hold | "
              "forward abs move (ATR) | forward RV ratio | forward RV change (abs log) | forward grid P&L |",
              "|---|---|---|---|---|---|---|---|---|"]
    fw = pooled["forward"]
    for v in VERDICTS + ("ALL", "GRID_START_OK", "HIGH_VOL"):
        hours = pooled["verdicts"]["counts"].get(v, fw[v]["hours"])
        share = pooled["verdicts"]["shares"].get(v, 1.0 if v == "ALL" else fw[v]["hours"] / max(fw["ALL"]["hours"], 1))
        dur = pooled["verdicts"]["mean_duration_hours"].get(v)
        lines.append(f"| {v} | {hours} | {_pct(share, 1) if share is not None else '–'} | {_num(dur, 1)} | "
                     f"{_num(fw[v]['hold'], 3)} (n={fw[v]['hold_n']}) | {_num(fw[v]['abs_move_atr'])} | "
                     f"{_num(fw[v]['rv_ratio'])} | {_num(fw[v]['rv_change'])} | {_pct(fw[v]['grid_pnl'], 3)} |")
    lines += ["", "Transitions (row: from, column: to):", "", "| from \\ to | " + " | ".join(VERDICTS) + " |",
              "|---|" + "---|" * len(VERDICTS)]
    for a in VERDICTS:
        lines.append(f"| {a} | " + " | ".join(str(pooled["verdicts"]["transitions"][a][b]) for b in VERDICTS) + " |")
    st = pooled["stops"]
    lines += ["", "## Grid supervisor: stops and restarts", "",
              f"{st['stops']} stops, {st['restarts']} restarts; false stops (price stayed inside the stopped grid "
              f"for the next 24 h) {st['false_stops']} of {st['false_stops_measurable']} measurable "
              f"({_pct(st['false_stop_rate'], 1)}); re-triggers (a stop within 24 h of a restart) {st['retriggers']} "
              f"({_pct(st['retrigger_rate'], 1)} of restarts).", ""]
    if pooled.get("labels"):
        lab = pooled["labels"]
        lines += ["## Accuracy against labels", "",
                  f"{lab['settled_hours']} of {lab['hours']} labelled hours scored: the first "
                  f"{lab['settle_hours']} hours after each change of label are left out.", "",
                  "| label | " + " | ".join(VERDICTS) + " | recall |", "|---|" + "---|" * (len(VERDICTS) + 1)]
        for fam in ("range", "trend", "transition"):
            lines.append(f"| {fam} | " + " | ".join(str(lab["confusion"][fam][v]) for v in VERDICTS)
                         + f" | {_num(lab['recall'][fam], 3)} |")
        lines += ["", f"Trend hours called RANGE_OK {_pct(lab['trend_called_range_ok'], 1)}, range hours called "
                  f"TREND {_pct(lab['range_called_trend'], 1)}, transition hours called RANGE_OK "
                  f"{_pct(lab['transition_called_range_ok'], 1)}.", ""]
    lines += ["## Per symbol-range", "",
              "| range | bars | hours | warming up | ALWAYS | VERDICT | STICKY | SUPERVISOR | ADX_FILTER | VOL_PREMIUM "
              "| RANDOM (median, 5–95 %) | HOLD | RANGE_OK hold | start-ok hold | all hold |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for o in result.outcomes:
        p, r = o.policies, o.random.get("return")
        band = "–" if not r else f"{_pct(r['median'])} ({_pct(r['p05'])} … {_pct(r['p95'])})"
        lines.append(f"| {o.key} | {o.info['bars']} | {o.info['hours']} | {o.info['warming_up_hours']} | "
                     + " | ".join(_pct(p[k]["return"]) if k in p else "–"
                                  for k in ("ALWAYS", "VERDICT", "STICKY", "SUPERVISOR", "ADX_FILTER", "VOL_PREMIUM"))
                     + f" | {band} | {_pct(p['HOLD']['return'])} | {_num(o.forward['RANGE_OK']['hold'], 3)} | "
                     f"{_num(o.forward['GRID_START_OK']['hold'], 3)} | {_num(o.forward['ALL']['hold'], 3)} |")
    if result.failures:
        lines += ["", "## Symbol-ranges not backtested", ""] + [f"- {f['range']}: {f['reason']}"
                                                                  for f in result.failures]
    skipped = [(o.key, s) for o in result.outcomes for s in o.skipped]
    if skipped:
        lines += ["", "## Skipped hours", ""]
        lines += [f"- {k} {s['hour']} [{s['kind']}] {s['reason']}" for k, s in skipped[:100]]
        if len(skipped) > 100:
            lines.append(f"- … and {len(skipped) - 100} more")
    return "\n".join(lines) + "\n"


def hours_table(result: BacktestResult) -> pa.Table:
    """All symbol-ranges' per-hour rows in one table (a ``range`` column names the symbol-range)."""
    tables = []
    for o in result.outcomes:
        cols = dict(o.table)
        cols["hour"] = pa.array(o.hours, pa.timestamp("ms", tz="UTC"))
        cols["range"] = [o.key] * len(o.hours)
        tables.append(pa.table(cols))
    return pa.concat_tables(tables, promote_options="default")


def equity_table(result: BacktestResult) -> pa.Table:
    """Long form: one row per symbol, hour and policy (the dashboard's input)."""
    sym, hour, pol, eq = [], [], [], []
    for o in result.outcomes:
        for name in [c[len("equity_"):] for c in o.table if c.startswith("equity_")]:
            values = o.table[f"equity_{name}"]
            sym += [o.symbol] * len(values)
            hour += list(o.hours)
            pol += [name] * len(values)
            eq += values
    return pa.table({"symbol": pa.array(sym, pa.string()), "hour": pa.array(hour, pa.timestamp("ms", tz="UTC")),
                     "policy": pa.array(pol, pa.string()), "equity": pa.array(eq, pa.float64())})


def _changed_settings(sup: Any) -> str:
    """The supervisor settings that differ from the defaults (``defaults`` when none do)."""
    from gridregime.grid.settings import GateConfig, GridPolicy

    out = []
    for section, obj, default in (("gates", sup.gates, GateConfig()), ("grid", sup.policy, GridPolicy())):
        mine, base = obj.to_dict(), default.to_dict()
        out += [f"`{section}.{k} = {v!r}`" for k, v in mine.items() if v != base[k]]
    return ", ".join(out) or "defaults"


def write_report(result: BacktestResult, out: str | Path) -> dict[str, Path]:
    """Write the four outputs into directory ``out`` (created when missing); returns their paths."""
    from gridregime._atomic import atomic_write_bytes, atomic_write_text
    from gridregime.service import write_parquet_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report_json": out / "report.json", "report_md": out / "report.md",
             "hours": out / "hours.parquet", "equity": out / "equity.parquet"}
    atomic_write_bytes(paths["report_json"], orjson.dumps(report_dict(result), option=orjson.OPT_INDENT_2))
    atomic_write_text(paths["report_md"], render_markdown(result))
    write_parquet_atomic(hours_table(result), paths["hours"])
    write_parquet_atomic(equity_table(result), paths["equity"])
    return paths
