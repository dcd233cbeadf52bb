"""``gridregime demo``: build a week of snapshots from the sample data and check every file."""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="build a week of snapshots from the sample data and validate them",
        description="Import a week of ETH-USDT 1m bars into OUT/snapshots, validate every file "
        "with the snapshot reader and print where they are. Data: $GRIDREGIME_SAMPLE_DATA, else a "
        "shared/data/real directory here or above, else the slice shipped with gridregime, else the "
        "synthetic market.",
    )
    p.add_argument("--out", default="gridregime-demo", metavar="DIR",
                   help="output directory (default ./gridregime-demo)")
    p.add_argument("--symbol", default="ETH-USDT", help="market to import (default ETH-USDT)")
    p.add_argument("--days", default="7", help="days of snapshots, 1 to 31 (default 7)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridregime.collect import import_snapshots
    from gridregime.collect.sources.sample import find_sample_data
    from gridregime.errors import InvalidParameterError
    from gridregime.snapshot import SnapshotReader, SnapshotStorage
    from gridregime.symbols import validate_symbol

    t0 = time.perf_counter()
    symbol = validate_symbol(args.symbol, name="--symbol")
    try:
        days = int(args.days)
    except ValueError:
        days = 0
    if not 1 <= days <= 31:
        raise InvalidParameterError(f"--days: expected 1 to 31, got {args.days!r}")
    out = Path(args.out)
    root = out / "snapshots"
    sample = find_sample_data(symbol, days=days)
    print(f"data: {sample.description}")
    storage = SnapshotStorage(root)
    history = sample.source if sample.has_hourly else None
    report = import_snapshots(sample.source, symbol, sample.start, sample.end, storage,
                              history_source=history, progress=not args.quiet)
    reader = SnapshotReader(root, validate=True)
    hours = sorted(report.written + report.unchanged)
    first = last = None
    for hour in hours:
        snap = reader.load_snapshot(symbol, hour)
        if first is None:
            first = snap
        last = snap
    print(report.summary())
    print(f"validated {len(hours)} hours ({2 * len(hours)} files) with the snapshot reader")
    if first is not None and last is not None:
        p0 = first.minute.column("open")[0].as_py()
        p1 = last.minute.column("close")[-1].as_py()
        print(f"{symbol}: {p0:g} -> {p1:g} ({(p1 / p0 - 1) * 100:+.2f} %), "
              f"{last.hourly.num_rows} hourly bars of history at {hours[-1]:%Y-%m-%d %H:00} UTC")
    print(f"snapshots: {root.resolve()}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0 if hours else 1
