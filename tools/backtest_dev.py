#!/usr/bin/env python
"""Backtest every development data file: the 1m files as snapshot stores (hourly history from the
1h files where they cover it), and the 1h files in coarse mode. Prints the pooled tables and writes
each run's report.

Usage: python tools/backtest_dev.py [--data ../shared/data/real] [--out out/backtest-dev]
                                    [--levels 10] [--fee 0.00075] [--path pessimistic] [--seeds 20]
                                    [--workers 2] [--config FILE] [--skip-coarse]

Stores are built once under OUT/stores and re-used (snapshots are immutable). Runs:
  OUT/minute/   every 1m file pooled (report.md, report.json, hours.parquet, equity.parquet)
  OUT/coarse/   the 1h files, from 1,000 hours after each file's first bar (full history), coarse
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

FILE = re.compile(r"^(?P<sym>[A-Z0-9]+-[A-Z0-9]+)_(?P<tf>1m|1h)_(?P<a>\d{4}-\d{2}-\d{2})_(?P<b>\d{4}-\d{2}-\d{2})\.parquet$")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))
    ap.add_argument("--out", default="out/backtest-dev")
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--fee", type=float, default=0.00075)
    ap.add_argument("--path", default="pessimistic")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--config", default=None)
    ap.add_argument("--skip-coarse", action="store_true")
    args = ap.parse_args(argv)

    from gridregime.backtest import BacktestSettings, run_backtest, symbol_range, write_report
    from gridregime.backtest.report import policy_table
    from gridregime.collect import import_snapshots
    from gridregime.collect.sources import ParquetDirSource
    from gridregime.config import load_config
    from gridregime.snapshot import SnapshotStorage
    from gridregime.timeutil import HOUR, to_utc_hour

    data, out = Path(args.data), Path(args.out)
    files = [(FILE.match(p.name), p) for p in sorted(data.glob("*.parquet")) if FILE.match(p.name)]
    source = ParquetDirSource(data)
    settings = BacktestSettings(levels=args.levels, fee=args.fee, path=args.path, seeds=args.seeds)
    config = load_config(args.config)

    minute_ranges = []
    t0 = time.perf_counter()
    for m, _ in files:
        if m["tf"] != "1m":
            continue
        sym = m["sym"]
        first = to_utc_hour(m["a"]) + timedelta(days=1)  # whole days: the first file day may start mid-hour
        last = to_utc_hour(m["b"])  # exclusive: the last file day is partial
        root = out / "stores" / f"{sym}_{m['a']}"
        report = import_snapshots(source, sym, first, last, SnapshotStorage(root), history_source=source)
        print(f"store {root}: {len(report.written)} written, {len(report.unchanged)} there, "
              f"{len(report.skipped)} skipped", flush=True)
        minute_ranges.append(symbol_range(sym, first, last - HOUR, root=root))
    print(f"stores ready in {time.perf_counter() - t0:.1f} s", flush=True)

    def run(ranges, name: str, title: str) -> None:
        t = time.perf_counter()
        result = run_backtest(ranges, config=config, settings=settings, workers=args.workers, progress=True)
        write_report(result, out / name)
        print(f"\n## {title} ({len(ranges)} symbol-ranges), {time.perf_counter() - t:.1f} s")
        print("\n".join(policy_table(result.pooled["policies"])))
        for d in result.differences:
            print(f"{d['a']} - {d['b']} [{d['unit']}]: {d['estimate']} ({d['low']} .. {d['high']})")

    run(minute_ranges, "minute", "1m files")
    if not args.skip_coarse:
        coarse = [symbol_range(m["sym"], to_utc_hour(m["a"]) + timedelta(hours=1000), to_utc_hour(m["b"]),
                               source=source) for m, _ in files if m["tf"] == "1h"]
        run(coarse, "coarse", "1h files, coarse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
