#!/usr/bin/env python
"""Hash the analysis outputs of every development 1m file: the batch results table and the grid
supervisor's table, per file. Run it before and after a change that must not change outputs and
compare the lines.

Usage: python tools/output_hashes.py [--data ../shared/data/real] [--stores out/hash-stores] [--json FILE]

Stores are built once (like tools/backtest_dev.py: whole UTC days of each 1m file, hourly history
from the 1h files where they cover it) and re-used. Each table is hashed as SHA-256 over its
columns' values in order (floats by their IEEE bytes, so a change in the last bit shows).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import struct
import sys
from datetime import timedelta
from pathlib import Path

FILE = re.compile(r"^(?P<sym>[A-Z0-9]+-[A-Z0-9]+)_1m_(?P<a>\d{4}-\d{2}-\d{2})_(?P<b>\d{4}-\d{2}-\d{2})\.parquet$")


def table_hash(table) -> str:
    """SHA-256 of the column names and every value, in order (floats as their 8 IEEE bytes)."""
    h = hashlib.sha256()
    for name in table.column_names:
        h.update(name.encode() + b"\0")
        for value in table.column(name).to_pylist():
            if isinstance(value, float):
                h.update(b"f" + struct.pack("<d", value))
            else:
                h.update(repr(value).encode() + b"\0")
    return h.hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))
    ap.add_argument("--stores", default="out/hash-stores")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)

    from gridregime.collect import import_snapshots
    from gridregime.collect.sources import ParquetDirSource
    from gridregime.service import RegimeAnalysisService
    from gridregime.snapshot import SnapshotStorage
    from gridregime.timeutil import HOUR, to_utc_hour

    data = Path(args.data)
    source = ParquetDirSource(data)
    out = {}
    for path in sorted(data.glob("*_1m_*.parquet")):
        m = FILE.match(path.name)
        if not m:
            continue
        sym = m["sym"]
        first, last = to_utc_hour(m["a"]) + timedelta(days=1), to_utc_hour(m["b"])
        root = Path(args.stores) / f"{sym}_{m['a']}"
        import_snapshots(source, sym, first, last, SnapshotStorage(root), history_source=source)
        batch = RegimeAnalysisService(root).analyze_many([sym], first, last - HOUR, keep_results=False,
                                                         supervise=True)
        key = f"{sym} {m['a']}"
        out[key] = {"results": table_hash(batch.to_table()), "grid": table_hash(batch.grid_table()),
                    "hours": len(batch.rows)}
        print(f"{key}: results {out[key]['results'][:16]}  grid {out[key]['grid'][:16]}  ({len(batch.rows)} h)",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
