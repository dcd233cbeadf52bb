"""``gridregime compact``: build or refresh the columnar cache of a store, month by month."""
from __future__ import annotations

import os
from pathlib import Path

from gridregime.snapshot.cache import ColumnarCache
from gridregime.snapshot.minute_scan import MinuteScan
from gridregime.snapshot.reader import SnapshotReader
from gridregime.symbols import validate_symbol


def compact_store(root: str | os.PathLike, *, symbol: str | None = None) -> list[tuple[Path, bool]]:
    """Build or refresh the cache of every month (of ``symbol``, or of every symbol).

    Returns ``(cache file, rebuilt)`` for each month.
    """
    reader = SnapshotReader(root)
    cache = ColumnarCache(root)
    minutes = MinuteScan(reader.root)
    symbols = [validate_symbol(symbol, name="--symbol")] if symbol is not None else reader.symbols()
    out = []
    for sym in symbols:
        months = sorted({(h.year, h.month) for h in reader.hours(sym)})
        for year, month in months:
            _, rebuilt = cache.refresh(minutes, sym, year, month)
            out.append((cache.path(sym, year, month), rebuilt))
    return out
