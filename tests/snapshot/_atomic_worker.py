"""Processes for the atomicity test: a writer that rewrites an hour forever, and a reader."""
from __future__ import annotations

import tempfile
from datetime import datetime

from gridregime.bars import bars_table
from gridregime.snapshot import (
    SnapshotNotFoundError,
    SnapshotStorage,
    SnapshotValidationError,
    market_path,
)
from gridregime.snapshot.validate import read_market_file


def write_forever(root, symbol, hour, variants, collected_at, first: int = 0) -> None:
    """Alternate between the variants (from ``variants[first]``) with ``overwrite=True`` until killed."""
    storage = SnapshotStorage(root)
    i = first
    while True:
        minute, hourly = variants[i % len(variants)]
        storage.write_hour(symbol, hour, minute, hourly, source="test", collected_at=collected_at, overwrite=True)
        i += 1


def read_until(root, symbol, hour, stop, results) -> None:
    """Read and validate both files until ``stop`` is set.

    Reports (reads, first torn errors, number torn, distinct first minute volumes seen).
    """
    paths = {tf: market_path(root, symbol, tf, hour) for tf in ("1m", "1h")}
    reads, torn, seen = 0, [], set()
    while not stop.is_set():
        for tf, path in paths.items():
            try:
                market = read_market_file(path, symbol=symbol, timeframe=tf, hour=hour)
            except SnapshotNotFoundError:
                torn.append(f"{path}: vanished")
            except SnapshotValidationError as exc:
                torn.append(str(exc))
            else:
                reads += 1
                if tf == "1m":
                    seen.add(float(market.volume[0]))
    results.put((reads, torn[:5], len(torn), sorted(seen)))


def _warm_up() -> None:
    """One complete write and read at import, so the lazy first-use set-up of pyarrow and numpy
    happens once in the fork server and not in every (soon killed) writer."""
    hour = datetime(2020, 1, 1)
    ts = [1577836800000 + 60_000 * k for k in range(60)]
    minute = bars_table(ts, [1.0] * 60, [1.0] * 60, [1.0] * 60, [1.0] * 60, [1.0] * 60)
    hourly = bars_table([1577836800000], [1.0], [1.0], [1.0], [1.0], [60.0])
    with tempfile.TemporaryDirectory() as root:
        SnapshotStorage(root).write_hour("WARM-UP", hour, minute, hourly, source="warm-up")
        read_market_file(market_path(root, "WARM-UP", "1h", hour))


_warm_up()
