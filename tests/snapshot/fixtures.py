"""Build snapshot stores from the committed candles in tests/data (never from shared data)."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from gridregime.bars import aggregate_hourly, normalize_bars, slice_time
from gridregime.snapshot import SnapshotStorage
from gridregime.timeutil import HOUR_MS, UTC, from_ms, to_ms

DATA = Path(__file__).resolve().parent.parent / "data"
BTC_1M = DATA / "BTC-USDT_1m_2025-06-01_2025-06-03.parquet"
ETH_1M = DATA / "ETH-USDT_1m_2021-04-19_2021-04-21.parquet"
COLLECTED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def read_minutes(path: Path = BTC_1M) -> pa.Table:
    return normalize_bars(pq.read_table(path))


def complete_hours(minutes: pa.Table) -> list[datetime]:
    """Hours of ``minutes`` holding all 60 minute bars."""
    _, counts = aggregate_hourly(minutes)
    hourly, _ = aggregate_hourly(minutes)
    ts = hourly.column("ts").cast(pa.int64()).to_pylist()
    return [from_ms(t) for t, n in zip(ts, counts) if n == 60]


def hour_inputs(minutes: pa.Table, hour: datetime, history_hours: int) -> tuple[pa.Table, pa.Table]:
    """(60 minute bars of ``hour``, hourly history ending with ``hour``) from minute candles."""
    h = to_ms(hour)
    minute = slice_time(minutes, h, h + HOUR_MS)
    hourly, _ = aggregate_hourly(slice_time(minutes, h - (history_hours - 1) * HOUR_MS, h + HOUR_MS))
    return minute, hourly


def build_store(root: Path, *, symbol: str = "BTC-USDT", source_file: Path = BTC_1M, first: int = 0,
                count: int = 24, history_hours: int = 48, price_scale: int | None = None) -> list[datetime]:
    """Write ``count`` consecutive complete hours (from the ``first``-th) into a store at ``root``."""
    minutes = read_minutes(source_file)
    hours = complete_hours(minutes)[first:first + count]
    storage = SnapshotStorage(root, history_hours=history_hours)
    for hour in hours:
        minute, hourly = hour_inputs(minutes, hour, history_hours)
        storage.write_hour(symbol, hour, minute, hourly, source="binance", price_scale=price_scale,
                           collected_at=hour + timedelta(hours=1, seconds=4))
    return hours


def redigest(doc: dict) -> dict:
    """Recompute ``metadata.content_sha256`` of a decoded market document after editing its bars,
    as a deliberate forger would, so that only the rule under test can catch the edit."""
    import numpy as np

    from gridregime.snapshot.format import DIGEST_KEY, bars_digest

    if DIGEST_KEY in doc.get("metadata", {}):
        b = doc["bars"]
        doc["metadata"][DIGEST_KEY] = bars_digest(*(np.asarray(b[k], dtype=np.int64)
                                                    for k in ("ts", "open", "high", "low", "close")),
                                                  np.asarray(b["volume"], dtype=np.float64))
    return doc


def writable_copy(store: tuple[Path, list[datetime]], tmp_path: Path) -> tuple[Path, list[datetime]]:
    """A fresh copy of a module-scoped ``(root, hours)`` store that one test may tamper with."""
    import shutil

    root, hours = store
    dst = tmp_path / "s"
    shutil.copytree(root, dst)
    return dst, hours
