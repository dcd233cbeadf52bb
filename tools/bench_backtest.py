#!/usr/bin/env python
"""Time the backtest: one symbol-month from JSON snapshots (every policy, 20 RANDOM seeds, both
path modes) in-process and through the CLI, and where each second goes.

Usage: python tools/bench_backtest.py [--store DIR --symbol S --start T --end T] [--repeat 5]

Without --store a month of real ETH-USDT (2025-06) is imported from ../shared/data/real into a
temporary store (or a synthetic month when that directory is absent). Targets: one symbol-month
<= 2 s; every development 1m file pooled <= 60 s (``tools/backtest_dev.py`` prints that one).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store")
    ap.add_argument("--symbol", default="ETH-USDT")
    ap.add_argument("--start", default="2025-06-01T00:00Z")
    ap.add_argument("--end", default="2025-06-30T23:00Z")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    from gridregime.backtest import BacktestSettings, run_backtest, symbol_range
    from gridregime.backtest import runner
    from gridregime.collect import SyntheticSource, import_snapshots
    from gridregime.collect.sources import ParquetDirSource
    from gridregime.snapshot import SnapshotStorage

    tmp = None
    store = args.store
    if store is None:
        tmp = tempfile.TemporaryDirectory()
        store = tmp.name
        data = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
        start = datetime(2025, 6, 1, tzinfo=UTC)
        src = ParquetDirSource(data) if data.is_dir() else SyntheticSource(3)
        import_snapshots(src, args.symbol, start, start + timedelta(hours=720), SnapshotStorage(store),
                         history_source=src if data.is_dir() else None)
        print(f"store: {'real' if data.is_dir() else 'synthetic'} {args.symbol} month in {store}")
    rng = symbol_range(args.symbol, args.start, args.end, root=store)
    settings = BacktestSettings(seeds=20)

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = run_backtest([rng], settings=settings)
        times.append(time.perf_counter() - t0)
    print(f"in-process, one symbol-month, 20 seeds: median {statistics.median(times):.3f} s, "
          f"best {min(times):.3f} s (target <= 2 s)")

    # where the time goes: analysis + supervision, then the simulations
    t0 = time.perf_counter()
    runner._analyse_store(rng, runner.RegimeConfig())
    t_an = time.perf_counter() - t0
    print(f"  analysis + supervision + bar loading: {t_an:.3f} s; policies, simulations and figures: "
          f"{statistics.median(times) - t_an:.3f} s")

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gridregime", "backtest", "--root", store, "--symbols", args.symbol,
                        "--start", args.start, "--end", args.end, "--out", out, "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"CLI wall time (process start, imports, run, report): {time.perf_counter() - t0:.3f} s")
    print(f"hours: {result.outcomes[0].info['hours']}, SUPERVISOR return "
          f"{100 * result.outcomes[0].policies['SUPERVISOR']['return']:+.2f} %")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
