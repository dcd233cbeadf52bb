#!/usr/bin/env python
"""The decision-quality targets, per development file and pooled, from backtests on real data.

Usage: python tools/validation_report.py [--stores out/backtest-dev/stores] [--out out/validation]
                                         [--data ../shared/data/real] [--skip-coarse] [--skip-robustness]
                                         [--workers 2] [--config FILE]

Reads the snapshot stores ``tools/backtest_dev.py`` builds (one per 1m file, hourly history from
the 1h files) and, unless skipped, the 1h files in coarse mode. Runs the backtest with the
defaults (10 levels, 0.075 % fees, pessimistic path), then the robustness grid of target d
(5, 10 and 20 levels x fees 0.02 %, 0.075 %, 0.1 %; each run also gives the other path mode), and
writes ``validation.md`` (the tables of docs/validation.md) and ``validation.json``.

Targets (issue "verdicts and grid decisions that pay"): a. start-ok 24 h range-hold lift;
b. SUPERVISOR return > 0, return/max-DD above ALWAYS, VERDICT, STICKY and the RANDOM 95th
percentile, DD <= 0.6 x ALWAYS; c. TREND forward |return|/ATR above RANGE_OK's, TRANSITION forward
RV change above the other hours'; d. b's ranking over levels, fees and path modes.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

STORE = re.compile(r"^(?P<sym>[A-Z0-9]+-[A-Z0-9]+)_(?P<a>\d{4}-\d{2}-\d{2})$")
FILE = re.compile(r"^(?P<sym>[A-Z0-9]+-[A-Z0-9]+)_1h_(?P<a>\d{4}-\d{2}-\d{2})_(?P<b>\d{4}-\d{2}-\d{2})\.parquet$")
RANKED = ("ALWAYS", "VERDICT", "STICKY")


def pct(x, digits=2):
    return "–" if x is None else f"{100 * x:+.{digits}f} %"


def num(x, digits=2):
    return "–" if x is None else f"{x:+.{digits}f}"


def diff(result, kind, a):
    d = next((d for d in result.differences if d["kind"] == kind and d["a"] == a), None)
    return d


def pair(result, a, b):
    return next((d for d in result.differences if d["kind"] == "policy_return" and d["a"] == a and d["b"] == b), None)


def ci(d, scale=1.0, unit=""):
    if d is None or d["estimate"] is None:
        return "–"
    return (f"{scale * d['estimate']:+.2f}{unit} ({scale * (d['low'] or 0):+.2f} … "
            f"{scale * (d['high'] or 0):+.2f})")


def supervisor_checks(result) -> dict:
    """Target b on one backtest: every condition, and whether all hold."""
    pol = result.pooled["policies"]
    sup = pol["SUPERVISOR"]
    rod = sup["return_over_drawdown"]
    ranks = [o.random.get("supervisor_rank") for o in result.outcomes if o.random.get("supervisor_rank") is not None]
    rank = sum(ranks) / len(ranks) if ranks else None
    checks = {
        "return > 0": sup["mean_return"] > 0,
        **{f"r/DD > {p}": rod is not None and pol[p]["return_over_drawdown"] is not None
           and rod > pol[p]["return_over_drawdown"] for p in RANKED},
        "beats RANDOM p95 (rank >= 0.95)": rank is not None and rank >= 0.95,
        "DD <= 0.6 x ALWAYS": sup["mean_max_drawdown"] <= 0.6 * pol["ALWAYS"]["mean_max_drawdown"],
    }
    return {"checks": checks, "met": all(checks.values()), "random_rank": rank,
            "return": sup["mean_return"], "return_over_drawdown": rod, "max_drawdown": sup["mean_max_drawdown"],
            "always_max_drawdown": pol["ALWAYS"]["mean_max_drawdown"]}


def transition_minus_other(f, stat):
    """TRANSITION hours' mean of ``stat`` minus the other analysed hours' (from ALL, count-weighted)."""
    t, a = f["TRANSITION"], f["ALL"]
    if t[stat] is None or a[stat] is None or a[f"{stat}_n"] <= t[f"{stat}_n"]:
        return None
    other = (a[stat] * a[f"{stat}_n"] - t[stat] * t[f"{stat}_n"]) / (a[f"{stat}_n"] - t[f"{stat}_n"])
    return t[stat] - other


def per_file_tables(result) -> list[str]:
    lines = ["| file | hours | start-ok hours | hold start-ok − all (pp) | hold RANGE_OK − all (pp) | "
             "TREND − RANGE_OK abs move (ATR) | TRANSITION − other RV change (abs log) | TRANSITION − other RV ratio | a | c |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for o in result.outcomes:
        f = o.forward
        allh = f["ALL"]["hold"]
        start = f.get("GRID_START_OK", {})
        lift = None if start.get("hold") is None or allh is None else start["hold"] - allh
        rok = None if f["RANGE_OK"]["hold"] is None or allh is None else f["RANGE_OK"]["hold"] - allh
        tr = f["TREND"]["abs_move_atr"]
        ro = f["RANGE_OK"]["abs_move_atr"]
        move = None if tr is None or ro is None else tr - ro
        # TRANSITION vs the other hours: the other hours' ratio from ALL minus TRANSITION (weighted)
        rv = transition_minus_other(f, "rv_ratio")
        rvc = transition_minus_other(f, "rv_change")
        a_ok = lift is not None and lift > 0
        c_ok = move is not None and move > 0 and rvc is not None and rvc > 0
        lines.append(f"| {o.key} | {len(o.hours)} | {start.get('hours', 0)} | {num(None if lift is None else 100 * lift, 1)} "
                     f"| {num(None if rok is None else 100 * rok, 1)} | {num(move)} | {num(rvc)} | {num(rv)} "
                     f"| {'yes' if a_ok else 'no'} | {'yes' if c_ok else 'no'} |")
    return lines


def policy_rows(result) -> list[str]:
    lines = ["| file | ALWAYS | VERDICT | STICKY | SUPERVISOR | SUPERVISOR max DD | RANDOM median (5–95 %) "
             "| SUPERVISOR rank in RANDOM | VOL_PREMIUM | HOLD | grid P&L 24 h: all / start-ok / HIGH_VOL |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for o in result.outcomes:
        p, r = o.policies, o.random
        lines.append(f"| {o.key} | {pct(p['ALWAYS']['return'])} | {pct(p['VERDICT']['return'])} "
                     f"| {pct(p['STICKY']['return'])} | {pct(p['SUPERVISOR']['return'])} "
                     f"| {pct(p['SUPERVISOR']['max_drawdown'])} "
                     f"| {pct(r['return']['median'])} ({pct(r['return']['p05'])} … {pct(r['return']['p95'])}) "
                     f"| {num(r.get('supervisor_rank'))} | {pct(p['VOL_PREMIUM']['return'])} | {pct(p['HOLD']['return'])} "
                     f"| {' / '.join(pct(o.forward[g]['grid_pnl'], 3) for g in ('ALL', 'GRID_START_OK', 'HIGH_VOL'))} |")
    return lines


def pooled_lines(result, title) -> list[str]:
    from gridregime.backtest.report import policy_table

    b = supervisor_checks(result)
    out = [f"### {title}", "", *policy_table(result.pooled["policies"]), "",
           f"- a. 24 h range-hold, start-ok hours minus all hours: {ci(diff(result, 'forward_hold', 'GRID_START_OK'), 100, ' pp')}"
           f"; RANGE_OK hours minus all: {ci(diff(result, 'forward_hold', 'RANGE_OK'), 100, ' pp')}",
           f"- c. TREND − RANGE_OK forward |return|/ATR: {ci(diff(result, 'forward_move', 'TREND'))}; "
           f"TRANSITION − other forward RV change |log ratio|: {ci(diff(result, 'forward_rv_change', 'TRANSITION'))} "
           f"(signed ratio: {ci(diff(result, 'forward_rv', 'TRANSITION'))})",
           "- b. " + "; ".join(f"{k}: {'yes' if v else 'no'}" for k, v in b["checks"].items())
           + f" (SUPERVISOR mean rank among RANDOM seeds {num(b['random_rank'])})",
           "- forward 24 h grid P&L (share of allocation) minus all hours': start-ok "
           f"{ci(diff(result, 'forward_grid_pnl', 'GRID_START_OK'), 100, ' pp')}; RANGE_OK "
           f"{ci(diff(result, 'forward_grid_pnl', 'RANGE_OK'), 100, ' pp')}; HIGH_VOL (pct(ATR) >= 80) "
           f"{ci(diff(result, 'forward_grid_pnl', 'HIGH_VOL'), 100, ' pp')}",
           f"- VOL_PREMIUM − ALWAYS, return per symbol-month: {ci(pair(result, 'VOL_PREMIUM', 'ALWAYS'), 100, ' %')}; "
           f"SUPERVISOR − VOL_PREMIUM: {ci(pair(result, 'SUPERVISOR', 'VOL_PREMIUM'), 100, ' %')}", ""]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stores", default="out/backtest-dev/stores")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))
    ap.add_argument("--out", default="out/validation")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--config", default=None)
    ap.add_argument("--skip-coarse", action="store_true")
    ap.add_argument("--skip-robustness", action="store_true")
    args = ap.parse_args(argv)

    from gridregime.backtest import BacktestSettings, run_backtest, symbol_range
    from gridregime.collect.sources import ParquetDirSource
    from gridregime.commands._config import load_settings_option
    from gridregime.snapshot import SnapshotReader
    from gridregime.timeutil import to_utc_hour

    config, supervisor = load_settings_option(args.config)
    stores = sorted(p for p in Path(args.stores).iterdir() if STORE.match(p.name))
    if not stores:
        print(f"--stores: no SYMBOL_DATE stores in {args.stores} (build them with tools/backtest_dev.py)")
        return 2
    minute = []
    for root in stores:
        sym = STORE.match(root.name)["sym"]
        hours = SnapshotReader(root).hours(sym)
        minute.append(symbol_range(sym, hours[0], hours[-1], root=root))

    def run(ranges, **kw):
        t = time.perf_counter()
        res = run_backtest(ranges, config=config, supervisor=supervisor, workers=args.workers,
                           settings=BacktestSettings(**kw))
        print(f"  {len(ranges)} ranges {kw or 'defaults'}: {time.perf_counter() - t:.0f} s", flush=True)
        return res

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md = ["# Decision-quality validation (generated by tools/validation_report.py)", ""]
    js: dict = {}
    main_run = run(minute)
    md += ["## 1m files: per file", "", *per_file_tables(main_run), "", *policy_rows(main_run), "",
           *pooled_lines(main_run, "1m files pooled (10 levels, 0.075 % fees, pessimistic path)")]
    js["minute"] = {"b": supervisor_checks(main_run), "differences": main_run.differences}
    if not args.skip_coarse:
        data = Path(args.data)
        coarse_ranges = [symbol_range(m["sym"], to_utc_hour(m["a"]) + timedelta(hours=1000), to_utc_hour(m["b"]),
                                      source=ParquetDirSource(data))
                         for m in (FILE.match(p.name) for p in sorted(data.glob("*.parquet"))) if m]
        if coarse_ranges:
            coarse = run(coarse_ranges)
            md += ["## 1h files, coarse mode: per file", "", *per_file_tables(coarse), "", *policy_rows(coarse), "",
                   *pooled_lines(coarse, "1h files pooled (coarse)")]
            js["coarse"] = {"b": supervisor_checks(coarse), "differences": coarse.differences}
    if not args.skip_robustness:
        md += ["## Robustness of b (1m files): levels x fees, both path modes", "",
               "| levels | fee | SUPERVISOR return | other path | r/DD | ALWAYS r/DD | VERDICT r/DD | STICKY r/DD "
               "| rank in RANDOM | DD / ALWAYS DD | b met | ALWAYS return | VOL_PREMIUM return | VOL_PREMIUM r/DD |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        js["robustness"] = []
        for levels in (5, 10, 20):
            for fee in (0.0002, 0.00075, 0.001):
                res = main_run if (levels, fee) == (10, 0.00075) else run(minute, levels=levels, fee=fee, seeds=20)
                b = supervisor_checks(res)
                pol = res.pooled["policies"]
                other = sum(o.policies["SUPERVISOR"]["return_other_path"] for o in res.outcomes) / len(res.outcomes)
                md.append(f"| {levels} | {100 * fee:.3f} % | {pct(b['return'])} | {pct(other)} "
                          f"| {num(b['return_over_drawdown'])} | {num(pol['ALWAYS']['return_over_drawdown'])} "
                          f"| {num(pol['VERDICT']['return_over_drawdown'])} | {num(pol['STICKY']['return_over_drawdown'])} "
                          f"| {num(b['random_rank'])} | {num(b['max_drawdown'] / b['always_max_drawdown'])} "
                          f"| {'yes' if b['met'] else 'no'} | {pct(pol['ALWAYS']['mean_return'])} "
                          f"| {pct(pol['VOL_PREMIUM']['mean_return'])} | {num(pol['VOL_PREMIUM']['return_over_drawdown'])} |")
                js["robustness"].append({"levels": levels, "fee": fee, **b, "return_other_path": other})
        md.append("")
    (out / "validation.md").write_text("\n".join(md) + "\n")
    (out / "validation.json").write_text(json.dumps(js, indent=1, default=str))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
