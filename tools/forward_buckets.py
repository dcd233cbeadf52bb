#!/usr/bin/env python
"""A backtest's forward statistics by bucket of one hourly column, pooled and per symbol-range.

Usage: python tools/forward_buckets.py DIR [DIR ...] [--by atr_rank] [--edges 0,20,40,60,80,90,100]
                                       [--stat forward_grid_pnl] [--where verdict=RANGE_OK]

Reads ``hours.parquet`` from each backtest output directory (``gridregime backtest --out DIR``)
and prints, per bucket of ``--by``: the hour count, the mean of ``--stat`` (forward_grid_pnl: what
the hour's reference grid earned over the next 24 h, a share of its allocation), the mean forward
24 h return of the close, and in how many symbol-ranges the bucket's mean is positive. Hours where
the statistic is not measurable are left out. ``--where COLUMN=VALUE`` keeps the matching hours.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

HORIZON = 24


def load(dirs: list[str]) -> dict[str, np.ndarray]:
    cols: dict[str, list] = {}
    for d in dirs:
        path = Path(d) / "hours.parquet"
        if not path.is_file():
            raise SystemExit(f"{path}: not found (expected a 'gridregime backtest --out' directory)")
        t = pq.read_table(path).to_pydict()
        close = np.array([np.nan if p is None else p for p in t["price"]], dtype=float)
        fwd = np.full(close.size, np.nan)
        key = np.array(t["range"], dtype=object)
        # the close HORIZON hours on, within the same symbol-range (its rows are in hour order)
        for r in np.unique(key):
            idx = np.flatnonzero(key == r)
            c = close[idx]
            fwd[idx[:-HORIZON]] = c[HORIZON:] / c[:-HORIZON] - 1.0
        t["forward_return"] = fwd.tolist()
        t["range"] = [f"{d}:{r}" for r in t["range"]]
        for k, v in t.items():
            cols.setdefault(k, []).extend(v)
    return {k: np.array([np.nan if x is None else x for x in v], dtype=object) for k, v in cols.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", metavar="DIR")
    ap.add_argument("--by", default="atr_rank")
    ap.add_argument("--edges", default="0,20,40,60,80,90,100")
    ap.add_argument("--stat", default="forward_grid_pnl")
    ap.add_argument("--where", default=None, metavar="COLUMN=VALUE")
    args = ap.parse_args(argv)
    cols = load(args.dirs)
    for name in (args.by, args.stat):
        if name not in cols:
            print(f"--by/--stat: no column {name!r} in hours.parquet (columns: {', '.join(sorted(cols))})")
            return 2
    keep = np.ones(len(cols["symbol"]), dtype=bool)
    if args.where:
        col, _, value = args.where.partition("=")
        if col not in cols:
            print(f"--where: no column {col!r} in hours.parquet")
            return 2
        keep = np.array([str(x) == value for x in cols[col]])
    try:
        edges = [float(x) for x in args.edges.split(",")]
    except ValueError:
        print(f"--edges: expected comma-separated numbers, got {args.edges!r}")
        return 2
    x = cols[args.by].astype(float)
    y = cols[args.stat].astype(float)
    ret = cols["forward_return"].astype(float)
    ranges = cols["range"]
    ok = keep & np.isfinite(x) & np.isfinite(y)
    print(f"{args.stat} by {args.by} ({ok.sum()} hours{', ' + args.where if args.where else ''})\n")
    print(f"| {args.by} | hours | mean {args.stat} | mean forward 24 h return | ranges with a positive mean |")
    print("|---|---|---|---|---|")
    for lo, hi in zip(edges[:-1], edges[1:]):
        last = hi == edges[-1]
        sel = ok & (x >= lo) & ((x <= hi) if last else (x < hi))
        if not sel.any():
            continue
        per = [y[sel & (ranges == r)].mean() for r in np.unique(ranges[sel])]
        r = ret[sel]
        print(f"| [{lo:g}, {hi:g}{']' if last else ')'} | {int(sel.sum())} | {100 * y[sel].mean():+.3f} % "
              f"| {100 * np.nanmean(r):+.3f} % | {sum(p > 0 for p in per)}/{len(per)} |")
    print(f"| all | {int(ok.sum())} | {100 * y[ok].mean():+.3f} % | {100 * np.nanmean(ret[ok]):+.3f} % | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
