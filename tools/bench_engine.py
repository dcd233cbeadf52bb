#!/usr/bin/env python
"""Time the regime engine: one hour from a loaded snapshot, load + analyse from JSON files, and
the many-hour path. Prints medians (wall and CPU time) over ``--repeat`` calls.

Usage: python tools/bench_engine.py [--repeat 500] [--json FILE]

Targets (issue 4): ``analyze_from_snapshot`` <= 2 ms median; load + analyse one hour <= 4 ms.
The machine may be shared: the CPU-time median (time.process_time) is less sensitive to other
processes than the wall-clock median, and both are printed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

SYMBOL = "ETH-USDT"
HOUR = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)


def build_snapshot(root: Path, hours: int = 1) -> list[datetime]:
    """Write ``hours`` consecutive snapshots ending at HOUR from the synthetic source."""
    from gridregime.bars import slice_time
    from gridregime.collect.sources.synthetic import SyntheticSource
    from gridregime.snapshot import SnapshotStorage
    from gridregime.timeutil import HOUR_MS, to_ms

    src = SyntheticSource(1)
    first = HOUR - timedelta(hours=hours - 1)
    hourly = src.fetch_ohlcv(SYMBOL, "1h", first - timedelta(hours=999), HOUR + timedelta(hours=1))
    minute = src.fetch_ohlcv(SYMBOL, "1m", first, HOUR + timedelta(hours=1))
    storage = SnapshotStorage(root)
    out = []
    for k in range(hours):
        h = first + timedelta(hours=k)
        h_ms = to_ms(h)
        storage.write_hour(SYMBOL, h, slice_time(minute, h_ms, h_ms + HOUR_MS),
                           slice_time(hourly, h_ms - 999 * HOUR_MS, h_ms + HOUR_MS), source=src.name)
        out.append(h)
    return out


def timed(fn, repeat: int) -> dict[str, float]:
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"wall_median_ms": statistics.median(wall) * 1e3, "wall_min_ms": min(wall) * 1e3,
            "cpu_median_ms": statistics.median(cpu) * 1e3}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=500)
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)

    from gridregime.analysis import RegimeEngine
    from gridregime.snapshot import SnapshotReader

    engine = RegimeEngine()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        build_snapshot(Path(tmp), hours=24)
        reader = SnapshotReader(tmp)
        snap = reader.load_snapshot(SYMBOL, HOUR)
        rows["analyze_from_snapshot (loaded, 1000 h history)"] = timed(
            lambda: engine.analyze_from_snapshot(snap), args.repeat)
        rows["load_snapshot + analyze (JSON files, validated)"] = timed(
            lambda: engine.analyze_from_snapshot(reader.load_snapshot(SYMBOL, HOUR)), max(50, args.repeat // 2))
        rows["load_snapshot only (JSON files, validated)"] = timed(
            lambda: reader.load_snapshot(SYMBOL, HOUR), max(50, args.repeat // 2))
        # many-hour path: a month of hours in one pass
        from gridregime.collect.sources.synthetic import SyntheticSource

        src = SyntheticSource(1)
        end = HOUR + timedelta(hours=1)
        hourly = src.fetch_ohlcv(SYMBOL, "1h", end - timedelta(hours=1720), end)
        minute = src.fetch_ohlcv(SYMBOL, "1m", end - timedelta(hours=720), end)
        month = [end - timedelta(hours=k) for k in range(720, 0, -1)]
        t = timed(lambda: engine.analyze_hours(SYMBOL, hourly, minute, month), 3)
        rows["analyze_hours, 720 hours (per hour)"] = {k: v / 720 for k, v in t.items()}
    for name, r in rows.items():
        print(f"{name:<52} median {r['wall_median_ms']:7.3f} ms  min {r['wall_min_ms']:7.3f} ms  "
              f"cpu median {r['cpu_median_ms']:7.3f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
