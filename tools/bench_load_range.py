"""Time ``SnapshotReader.load_range`` over a month of snapshots (720 hours, 1000-bar history).

Builds one symbol's month into a temporary store from the real ETH-USDT 1m candles when
available (``--data``), else from ``tests/data`` or synthetic candles, then times, in one process
and warm cache (best of ``--repeat``):

* raw ``open`` + ``read`` of the 720 minute files,
* a plain orjson + NumPy decode of them (no validation),
* ``load_range`` (validated, cross-file check, hourly history),
* ``load_range`` through the columnar (Parquet) cache,
* ``load_range`` with 5 % of the hours missing or corrupt.

Usage::

    python tools/bench_load_range.py [--data PARQUET] [--store DIR] [--repeat N] [--hours 720]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import orjson

from gridregime.bars import aggregate_hourly, bars_table, normalize_bars, slice_time
from gridregime.snapshot import SnapshotReader, SnapshotStorage, market_path
from gridregime.timeutil import HOUR_MS, from_ms

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = "../shared/data/real/ETH-USDT_1m_2025-05-20_2025-08-18.parquet"
SYMBOL = "ETH-USDT"
HISTORY = 1000


def synthetic_minutes(hours: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = hours * 60
    ts = 1_700_000_000_000 // HOUR_MS * HOUR_MS + 60_000 * np.arange(n, dtype=np.int64)
    close = np.round(2500 * np.exp(np.cumsum(rng.normal(0, 5e-4, n))), 2)
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + np.round(rng.random(n), 2)
    low = np.minimum(open_, close) - np.round(rng.random(n), 2)
    return bars_table(ts, open_, high, low, close, np.round(rng.random(n) * 100, 4))


def load_minutes(data: str | None, hours_needed: int):
    import pyarrow.parquet as pq

    candidates = [data] if data else []
    candidates += [str(REPO / DEFAULT_DATA), str(REPO / "tests/data/BTC-USDT_1m_2025-06-01_2025-06-03.parquet")]
    for path in candidates:
        if path and os.path.exists(path):
            table = normalize_bars(pq.read_table(path))
            if table.num_rows >= hours_needed * 60:
                return table, path
    return synthetic_minutes(hours_needed), "synthetic"


def build_month(root: Path, minutes, n_hours: int) -> list:
    hourly_all, counts = aggregate_hourly(minutes)
    hts = hourly_all.column("ts").cast("int64").to_numpy()
    complete = hts[counts == 60]
    hours = [from_ms(int(t)) for t in complete[-n_hours:]]
    storage = SnapshotStorage(root, history_hours=HISTORY)
    done = 0
    for hour in hours:
        if market_path(root, SYMBOL, "1h", hour).exists():
            continue
        h = int(hour.timestamp() * 1000)
        minute = slice_time(minutes, h, h + HOUR_MS)
        hist = slice_time(hourly_all, h - (HISTORY - 1) * HOUR_MS, h + 1)
        storage.write_hour(SYMBOL, hour, minute, hist, source="binance", collected_at=hour + timedelta(hours=1))
        done += 1
        if done % 100 == 0:
            print(f"  built {done} hours", file=sys.stderr)
    return hours


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="1m parquet to build from (default: the real ETH-USDT 2025 file)")
    ap.add_argument("--store", help="reuse/keep the built store in this directory")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--hours", type=int, default=720)
    args = ap.parse_args(argv)

    minutes, source = load_minutes(args.data, args.hours + HISTORY)
    tmp = None
    root = Path(args.store) if args.store else Path(tmp := tempfile.mkdtemp(prefix="bench_snap_"))
    try:
        t0 = time.perf_counter()
        hours = build_month(root, minutes, args.hours)
        print(f"data: {os.path.basename(source)}; store built/checked in {time.perf_counter() - t0:.1f} s; "
              f"{len(hours)} hours, {HISTORY}-bar history")
        paths = [str(market_path(root, SYMBOL, "1m", h)) for h in hours]
        n = len(paths)

        def raw():
            for p in paths:
                with open(p, "rb") as fh:
                    fh.read()

        def plain():
            cols = []
            for p in paths:
                with open(p, "rb") as fh:
                    b = orjson.loads(fh.read())["bars"]
                cols.append([np.array(b[k]) for k in ("ts", "open", "high", "low", "close", "volume")])
            return cols

        reader = SnapshotReader(root)
        reader.load_range(SYMBOL, hours[0], hours[-1])  # warm the page cache and imports
        rows = []
        for name, fn in [("raw open+read", raw), ("plain orjson+numpy", plain),
                         ("load_range", lambda: reader.load_range(SYMBOL, hours[0], hours[-1]))]:
            fn()
            t = best_of(fn, args.repeat)
            rows.append((name, t))
        reader.load_range(SYMBOL, hours[0], hours[-1], use_cache=True)  # build the columnar cache
        fn = lambda: reader.load_range(SYMBOL, hours[0], hours[-1], use_cache=True)
        rows.append(("load_range, cached", best_of(fn, args.repeat)))
        result = reader.load_range(SYMBOL, hours[0], hours[-1])
        assert not result.problems and result.minute.num_rows == 60 * n, result.problems[:3]

        # 5 % of the hours missing or corrupt, on a copy
        bad_root = Path(tempfile.mkdtemp(prefix="bench_snap_bad_"))
        try:
            shutil.copytree(root, bad_root, dirs_exist_ok=True)
            rng = random.Random(5)
            victims = rng.sample(hours, max(1, n // 20))
            for i, h in enumerate(victims):
                p = market_path(bad_root, SYMBOL, "1m", h)
                if i % 3 == 0:
                    p.unlink()
                elif i % 3 == 1:
                    p.write_bytes(p.read_bytes()[:-200])
                else:
                    doc = orjson.loads(p.read_bytes())
                    doc["bars"]["low"][5] = doc["bars"]["high"][5] + 1
                    p.write_bytes(orjson.dumps(doc))
            bad_reader = SnapshotReader(bad_root)
            bad_reader.load_range(SYMBOL, hours[0], hours[-1])
            t = best_of(lambda: bad_reader.load_range(SYMBOL, hours[0], hours[-1]), args.repeat)
            rows.append(("load_range, 5% bad", t))
            got = bad_reader.load_range(SYMBOL, hours[0], hours[-1])
            assert len(got.problems) == len(victims), (len(got.problems), len(victims))
        finally:
            shutil.rmtree(bad_root, ignore_errors=True)

        print(f"{'case':<22} {'ms/month':>10} {'us/file':>9}   ({n} minute files, best of {args.repeat})")
        for name, t in rows:
            print(f"{name:<22} {t * 1e3:>10.2f} {t / n * 1e6:>9.2f}")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
