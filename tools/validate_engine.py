#!/usr/bin/env python
"""Validate the regime engine on known conditions and write a Markdown + JSON report.

1. Synthetic ground truth: ``--seeds`` seeds × ``--days`` days from the synthetic source, and
   ``--holdout`` further seeds reported on their own (seeds 6-10 by default, never used to choose
   thresholds). Confusion matrix of label × verdict; recall of range→RANGE_OK, trend→TREND and
   transition→TRANSITION, excluding the first ``--settle`` hours after each regime switch; the
   forward range-hold rate below, for the same hours.
2. Real data: every 1m file in ``--real DIR`` (hourly history seeded with the 1h files of the
   same symbol where they cover the hours before the 1m file starts). Verdict distribution and
   forward range-hold rate: among RANGE_OK hours, the share whose next 24 hourly closes all stay
   inside the chosen range, next to the same share over every analysed hour.

Usage::

    python tools/validate_engine.py --out out/validation            # both parts
    python tools/validate_engine.py --skip-real --seeds 5 --days 60  # synthetic only
    python tools/validate_engine.py --skip-real --holdout 0          # tuning seeds only
    python tools/validate_engine.py --config my.toml ...             # another configuration
    python tools/validate_engine.py --set range_ok_min_room_atr=2.0  # change single fields
    python tools/validate_engine.py --skip-real --half-life 8        # slower synthetic ranges
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from gridregime.analysis import RegimeEngine, Verdict
from gridregime.bars import aggregate_hourly, bars_to_numpy, normalize_bars, slice_time
from gridregime.config import RegimeConfig
from gridregime.timeutil import HOUR_MS, from_ms, iso_z

VERDICTS = [v.value for v in Verdict] + ["insufficient_data"]
LABEL_TARGET = {"range": "RANGE_OK", "trend": "TREND", "transition": "TRANSITION"}


def _label_group(name: str) -> str:
    return "trend" if name.startswith("trend") else name


def _held(result, cols: dict[str, np.ndarray], k: int, horizon: int) -> bool | None:
    """Whether the ``horizon`` hourly closes after bar ``k`` all lie inside the result's chosen range;
    None when the result has no range or those bars are not all present."""
    if result.verdict is None or result.chosen_range is None:
        return None
    ts = cols["ts"]
    if k + horizon >= ts.size or ts[k + horizon] - ts[k] != horizon * HOUR_MS:
        return None  # the next `horizon` hours are not all there
    nxt = cols["close"][k + 1:k + 1 + horizon]
    return bool(np.all((nxt >= result.chosen_range.lower) & (nxt <= result.chosen_range.upper)))


def _hold_rates(held: dict[str, list[int]]) -> dict[str, float]:
    return {k: (v[0] / v[1] if v[1] else float("nan")) for k, v in held.items()}


def synthetic_part(engine: RegimeEngine, seeds: list[int], days: int, settle: int, symbol: str,
                   horizon: int = 24, half_life: float = 2.0) -> dict:
    from gridregime.collect.sources.synthetic import SyntheticSource

    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=days)
    history = engine.config.history_hours
    confusion: dict[str, Counter] = {g: Counter() for g in LABEL_TARGET}
    # forward range-hold over the counted hours: RANGE_OK hours, range-labelled RANGE_OK hours, all hours
    held = {"RANGE_OK": [0, 0], "range_label_RANGE_OK": [0, 0], "all": [0, 0]}
    per_seed = []
    for seed in seeds:
        src = SyntheticSource(seed, half_life_hours=half_life)
        # `horizon` hours past the end for the forward range-hold only: an analysis of hour H never
        # reads bars after H.
        hourly = src.fetch_ohlcv(symbol, "1h", start - timedelta(hours=history), end + timedelta(hours=horizon))
        minute = src.fetch_ohlcv(symbol, "1m", start, end)
        labels = src.labels(symbol, start - timedelta(hours=settle), end)
        names = labels.column("regime").to_pylist()
        groups = [_label_group(n) for n in names]
        label_ts = labels.column("ts").cast(pa.int64()).to_numpy()
        # Hours since the last switch of the *label group* (trend_up → trend_down counts as a switch).
        since = np.zeros(len(names), dtype=np.int64)
        for k in range(1, len(names)):
            since[k] = since[k - 1] + 1 if names[k] == names[k - 1] else 0
        hours = [from_ms(int(t)) for t in label_ts[settle:]]
        t0 = time.perf_counter()
        results = engine.analyze_hours(symbol, hourly, minute, hours)
        elapsed = time.perf_counter() - t0
        cols = bars_to_numpy(hourly)
        index = {int(t): i for i, t in enumerate(cols["ts"])}
        seed_conf: dict[str, Counter] = {g: Counter() for g in LABEL_TARGET}
        for k, res in enumerate(results, start=settle):
            verdict = res.verdict.value if res.verdict is not None else "insufficient_data"
            if since[k] < settle and k >= settle:
                # within `settle` hours of a switch: excluded (since counts from the first hour of a segment)
                continue
            seed_conf[groups[k]][verdict] += 1
            confusion[groups[k]][verdict] += 1
            inside = _held(res, cols, index[int(label_ts[k])], horizon)
            if inside is None:
                continue
            keys = ["all"]
            if res.verdict is Verdict.RANGE_OK:
                keys += ["RANGE_OK"] + (["range_label_RANGE_OK"] if groups[k] == "range" else [])
            for key in keys:
                held[key][0] += inside
                held[key][1] += 1
        per_seed.append({"seed": seed, "hours": len(results), "seconds": elapsed,
                         "recall": _recalls(seed_conf)})
        print(f"seed {seed}: {len(results)} hours in {elapsed:.2f} s; recall {_recalls(seed_conf)}", flush=True)
    return {"seeds": seeds, "days": days, "settle_hours": settle, "symbol": symbol, "half_life_hours": half_life,
            "confusion": {g: dict(c) for g, c in confusion.items()}, "recall": _recalls(confusion),
            "per_seed": per_seed, "hold_rates": _hold_rates(held),
            "hold_counts": {k: {"held": v[0], "hours": v[1]} for k, v in held.items()}}


def _recalls(conf: dict[str, Counter]) -> dict[str, float]:
    out = {}
    for g, target in LABEL_TARGET.items():
        total = sum(conf[g].values())
        out[g] = conf[g][target] / total if total else float("nan")
    return out


def _real_files(real: Path) -> list[Path]:
    return sorted(p for p in real.glob("*_1m_*.parquet"))


def _read(path: Path) -> pa.Table:
    return normalize_bars(pq.read_table(path), name=str(path.name))


def real_part(engine: RegimeEngine, real: Path, horizon: int = 24) -> list[dict]:
    out = []
    for path in _real_files(real):
        symbol = path.name.split("_")[0]
        minute = _read(path)
        hourly_1m, counts = aggregate_hourly(minute)
        ts_h = bars_to_numpy(hourly_1m)["ts"]
        full = ts_h[counts == 60]
        first_full = int(full[0])
        # Seed the history with the 1h file of the same symbol where it covers the earlier hours.
        seeded_from = None
        parts = []
        for hpath in sorted(real.glob(f"{symbol}_1h_*.parquet")):
            h = slice_time(_read(hpath), first_full - engine.config.history_hours * HOUR_MS, first_full)
            if h.num_rows:
                parts.append(h)
                seeded_from = hpath.name
        parts.append(slice_time(hourly_1m, first_full, None))
        hourly = pa.concat_tables(parts)
        hours = [from_ms(int(t)) for t in full]
        t0 = time.perf_counter()
        results = engine.analyze_hours(symbol, hourly, minute, hours)
        elapsed = time.perf_counter() - t0
        cols = bars_to_numpy(hourly)
        index = {int(t): k for k, t in enumerate(cols["ts"])}
        dist = Counter(r.verdict.value if r.verdict is not None else "insufficient_data" for r in results)
        held = {"RANGE_OK": [0, 0], "all": [0, 0]}
        for r, t in zip(results, full):
            inside = _held(r, cols, index[int(t)], horizon)
            if inside is None:
                continue
            for key in ("all",) + (("RANGE_OK",) if r.verdict is Verdict.RANGE_OK else ()):
                held[key][0] += inside
                held[key][1] += 1
        rate = _hold_rates(held)
        row = {"file": path.name, "symbol": symbol, "hours": len(results), "seconds": elapsed,
               "history_seeded_from": seeded_from, "verdicts": {v: dist.get(v, 0) for v in VERDICTS},
               "hold_rate_range_ok": rate["RANGE_OK"], "hold_rate_all": rate["all"],
               "hold_counts": {k: {"held": v[0], "hours": v[1]} for k, v in held.items()}}
        out.append(row)
        print(f"{path.name}: {len(results)} h in {elapsed:.1f} s  {dict(dist)}  hold RANGE_OK "
              f"{rate['RANGE_OK']:.3f} vs all {rate['all']:.3f}", flush=True)
    return out


def _synthetic_markdown(syn: dict, title: str) -> list[str]:
    heading = (f"## {title} ({len(syn['seeds'])} seeds: {syn['seeds'][0]}–{syn['seeds'][-1]}, {syn['days']} days, "
               f"{syn['symbol']}, range half-life {syn.get('half_life_hours', 2.0):g} h, "
               f"first {syn['settle_hours']} h after each switch excluded)")
    lines = [heading, "",
             "| label \\ verdict | " + " | ".join(VERDICTS) + " | recall |",
             "|---|" + "---|" * (len(VERDICTS) + 1)]
    for g in LABEL_TARGET:
        row = syn["confusion"][g]
        lines.append(f"| {g} | " + " | ".join(str(row.get(v, 0)) for v in VERDICTS)
                     + f" | {syn['recall'][g]:.3f} |")
    lines += ["", "Per seed: " + "; ".join(
        f"seed {s['seed']}: " + ", ".join(f"{k} {v:.2f}" for k, v in s["recall"].items())
        for s in syn["per_seed"]), ""]
    if "hold_rates" in syn:
        h, n = syn["hold_rates"], syn["hold_counts"]
        lines += [f"Forward 24 h range-hold: RANGE_OK {h['RANGE_OK']:.3f} ({n['RANGE_OK']['hours']} h), "
                  f"range-labelled RANGE_OK {h['range_label_RANGE_OK']:.3f} ({n['range_label_RANGE_OK']['hours']} h), "
                  f"all hours {h['all']:.3f} ({n['all']['hours']} h).", ""]
    return lines


def markdown(report: dict) -> str:
    changed = ", ".join(report.get("overrides") or []) or "none"
    lines = ["# Regime engine validation", "", f"Config hash `{report['config_hash']}` (overrides: {changed}), "
             f"engine {report['engine_version']}, generated {report['generated']}.", ""]
    if report.get("synthetic"):
        lines += _synthetic_markdown(report["synthetic"], "Synthetic ground truth")
    if report.get("synthetic_holdout"):
        lines += _synthetic_markdown(report["synthetic_holdout"], "Synthetic ground truth, hold-out seeds")
    real = report.get("real")
    if real:
        lines += ["## Real data (Binance candles)", "",
                  "| file | hours | " + " | ".join(VERDICTS) + " | hold RANGE_OK | hold all hours | difference |",
                  "|---|---|" + "---|" * (len(VERDICTS) + 3)]
        for r in real:
            lines.append(f"| {r['file']} | {r['hours']} | " + " | ".join(str(r["verdicts"][v]) for v in VERDICTS)
                         + f" | {r['hold_rate_range_ok']:.3f} ({r['hold_counts']['RANGE_OK']['hours']} h) | "
                         f"{r['hold_rate_all']:.3f} ({r['hold_counts']['all']['hours']} h) | "
                         f"{100 * (r['hold_rate_range_ok'] - r['hold_rate_all']):+.1f} points |")
        beats = sum(r["hold_rate_range_ok"] > r["hold_rate_all"] for r in real)
        lines += ["", f"RANGE_OK beats the all-hours hold rate in {beats} of {len(real)} files.", ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/validation", help="output path prefix (.md and .json are added)")
    ap.add_argument("--config", default=None, help="RegimeConfig TOML file (default: built-in defaults)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override one RegimeConfig field (repeatable)")
    ap.add_argument("--seeds", type=int, default=5, help="tuning seeds 1..N (default 5)")
    ap.add_argument("--holdout", type=int, default=5,
                    help="hold-out seeds N+1..N+H reported separately (default 5; 0 = none)")
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--settle", type=int, default=12)
    ap.add_argument("--half-life", type=float, default=2.0,
                    help="mean-reversion half-life of the synthetic range regime, hours (default 2)")
    ap.add_argument("--symbol", default="ETH-USDT")
    ap.add_argument("--real", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"))
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--skip-synthetic", action="store_true")
    args = ap.parse_args(argv)
    config = RegimeConfig() if args.config is None else RegimeConfig.from_toml(args.config)
    if args.set:
        changes = {}
        for item in args.set:
            key, _, value = item.partition("=")
            current = getattr(config, key.strip(), None)
            if current is None:
                ap.error(f"--set {item}: unknown RegimeConfig field {key!r}")
            changes[key.strip()] = type(current)(value)
        config = config.replace(**changes)
    engine = RegimeEngine(config)
    from gridregime.analysis.engine import ENGINE_VERSION

    report = {"config_hash": config.config_hash, "engine_version": ENGINE_VERSION,
              "overrides": args.set, "config_file": args.config,
              "generated": iso_z(datetime.now(timezone.utc))}
    if not args.skip_synthetic:
        report["synthetic"] = synthetic_part(engine, list(range(1, args.seeds + 1)), args.days, args.settle,
                                             args.symbol, half_life=args.half_life)
        if args.holdout > 0:
            seeds = list(range(args.seeds + 1, args.seeds + args.holdout + 1))
            report["synthetic_holdout"] = synthetic_part(engine, seeds, args.days, args.settle, args.symbol,
                                                         half_life=args.half_life)
    real = Path(args.real)
    if not args.skip_real:
        if not real.is_dir():
            print(f"--real {real}: not a directory; real-data part skipped", file=sys.stderr)
        else:
            report["real"] = real_part(engine, real)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
