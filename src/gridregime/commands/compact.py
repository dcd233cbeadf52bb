"""``gridregime compact DIR``: build or refresh the columnar (Parquet) cache of a store."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compact",
        help="build the columnar cache of a snapshot store",
        description="Build or refresh <DIR>/.cache/columnar/<SYMBOL>/<YYYY-MM>.parquet from the "
        "JSON minute files (one file per symbol and month). Stale months are rebuilt; fresh ones "
        "are left alone. Reads with load_range(..., use_cache=True) give the same result.",
    )
    p.add_argument("root", metavar="DIR", help="snapshot store root")
    p.add_argument("--symbol", help="only this market, e.g. ETH-USDT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gridregime.errors import InvalidParameterError
    from gridregime.snapshot.compact import compact_store

    if not Path(args.root).is_dir():
        raise InvalidParameterError(f"DIR: expected a snapshot store directory, got {args.root!r}")
    results = compact_store(args.root, symbol=args.symbol)
    rebuilt = sum(1 for _, r in results if r)
    for path, r in results:
        print(f"{'built' if r else 'fresh'}  {path}")
    print(f"{len(results)} month file(s): {rebuilt} built, {len(results) - rebuilt} already fresh")
    return 0
