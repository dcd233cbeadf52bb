"""``gridregime compact DIR``: build or refresh the columnar (Parquet) cache of a store."""
from __future__ import annotations

import argparse

from gridregime.commands._options import add_command, add_store_dir, check_store_dir


def register(subparsers) -> None:
    p = add_command(subparsers, "compact", run, help="build the columnar cache of a snapshot store",
                    description="""
                        Build or refresh <DIR>/.cache/columnar/<SYMBOL>/<YYYY-MM>.parquet from the JSON minute
                        files (one file per symbol and month). Stale months are rebuilt; fresh ones are left
                        alone. Reads with load_range(..., use_cache=True) give the same result.
                    """)
    add_store_dir(p)


def run(args: argparse.Namespace) -> int:
    from gridregime.snapshot.compact import compact_store

    check_store_dir(args.root)
    results = compact_store(args.root, symbol=args.symbol)
    rebuilt = sum(1 for _, r in results if r)
    for path, r in results:
        print(f"{'built' if r else 'fresh'}  {path}")
    print(f"{len(results)} month file(s): {rebuilt} built, {len(results) - rebuilt} already fresh")
    return 0
