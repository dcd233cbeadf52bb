"""Columnar cache of the minute files: one Parquet file per symbol and month.

``<root>/.cache/columnar/<SYMBOL>/<YYYY-MM>.parquet`` holds the checked minute columns of
every valid hour of the month (prices as scaled ints, exactly as in the JSON files) and, in
the Parquet schema metadata, a manifest: the hours, their price scales, the hours that were
missing or invalid (with the error to raise again), the hours holding a 1h file, and the size
and modification time of every source file. A cache whose recorded sources differ from the
files on disk is stale and is rebuilt; a result read through the cache is identical to one
read from the JSON files (the hourly history and the cross-file check are always done on the
current 1h files).
"""
from __future__ import annotations

import calendar
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from gridregime._atomic import atomic_write_bytes
from gridregime.snapshot.decode import minute_columns_from_table, minute_columns_table
from gridregime.snapshot.errors import SnapshotNotFoundError, SnapshotValidationError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, UTC, from_ms, to_ms

CACHE_FORMAT = 1
MANIFEST_KEY = b"gridregime.columnar_cache"


@dataclass(eq=False)
class MonthScan:
    """Checked minute columns of one symbol-month, with what was wrong where."""

    arrays: dict | None
    problems: list  # (hour, kind, exception)
    available_1h: list


def _month_hours(year: int, month: int) -> tuple[datetime, datetime]:
    first = datetime(year, month, 1, tzinfo=UTC)
    last_day = calendar.monthrange(year, month)[1]
    return first, datetime(year, month, last_day, 23, tzinfo=UTC)


def _months(start: datetime, end: datetime):
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _encode_error(exc: Exception) -> list:
    if isinstance(exc, SnapshotValidationError):
        return ["validation", exc.path, exc.field, exc.reason]
    return ["not_found", str(exc)]


def _decode_error(item: list) -> Exception:
    if item[0] == "validation":
        return SnapshotValidationError(item[1], item[2], item[3])
    return SnapshotNotFoundError(item[1])


class ColumnarCache:
    """The columnar cache of a snapshot store rooted at ``root``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.directory = self.root / ".cache" / "columnar"

    def path(self, symbol: str, year: int, month: int) -> Path:
        return self.directory / validate_symbol(symbol) / f"{year:04d}-{month:02d}.parquet"

    def sources(self, symbol: str, year: int, month: int) -> dict:
        """Size and mtime (ns) of every 1m and 1h file of the month; -1 where absent."""
        first, last = _month_hours(year, month)
        root = os.fspath(self.root)
        out = {"size_1m": [], "mtime_1m": [], "size_1h": [], "mtime_1h": []}
        hour = first
        while hour <= last:
            base = f"{root}/{hour.year:04d}/{hour.month:02d}/{hour.day:02d}/{hour.hour:02d}/{symbol}"
            for tf in ("1m", "1h"):
                try:
                    st = os.stat(f"{base}_{tf}.json")
                    size, mtime = st.st_size, st.st_mtime_ns
                except (FileNotFoundError, NotADirectoryError):
                    size, mtime = -1, -1
                except OSError:  # unreadable: never matches a manifest, so the scan reports it
                    size, mtime = -2, -2
                out[f"size_{tf}"].append(size)
                out[f"mtime_{tf}"].append(mtime)
            hour += HOUR
        return out

    def load(self, symbol: str, year: int, month: int) -> MonthScan | None:
        """The cached month, or ``None`` when absent, unreadable or stale."""
        path = self.path(symbol, year, month)
        try:
            table = pq.read_table(path)
            manifest = orjson.loads(table.schema.metadata[MANIFEST_KEY])
        except (OSError, KeyError, TypeError, ValueError, pa.ArrowException):
            return None
        if manifest.get("format") != CACHE_FORMAT or manifest.get("sources") != self.sources(symbol, year, month):
            return None
        hours = [from_ms(ms) for ms in manifest["hours"]]
        arrays = None
        if hours:
            arrays = minute_columns_from_table(table, len(hours))
            arrays["scale"] = np.array(manifest["scales"], dtype=np.int64)
            arrays["hours"] = hours
        problems = [(from_ms(ms), kind, _decode_error(err)) for ms, kind, err in manifest["problems"]]
        return MonthScan(arrays, problems, [from_ms(ms) for ms in manifest["available_1h"]])

    def build(self, minutes, symbol: str, year: int, month: int) -> MonthScan:
        """Scan the month's JSON files with ``minutes`` (a
        :class:`~gridregime.snapshot.minute_scan.MinuteScan`) and store the result (best effort)."""
        sources = self.sources(symbol, year, month)
        first, last = _month_hours(year, month)
        problems: list = []
        seen: set = set()

        def report(hour, kind, exc):
            if hour not in seen:
                seen.add(hour)
                problems.append((hour, kind, exc))

        arrays, available = minutes.scan(symbol, first, last, report)
        if arrays is not None:
            arrays = {k: v for k, v in arrays.items() if not k.startswith("summary")}
        scan = MonthScan(arrays, problems, available)
        manifest = {
            "format": CACHE_FORMAT, "symbol": symbol, "month": f"{year:04d}-{month:02d}",
            "hours": [to_ms(h) for h in arrays["hours"]] if arrays else [],
            "scales": arrays["scale"].tolist() if arrays else [],
            "available_1h": [to_ms(h) for h in available],
            "problems": [[to_ms(h), kind, _encode_error(exc)] for h, kind, exc in problems],
            "sources": sources,
        }
        table = minute_columns_table(arrays).replace_schema_metadata({MANIFEST_KEY: orjson.dumps(manifest)})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        try:
            atomic_write_bytes(self.path(symbol, year, month), sink.getvalue().to_pybytes())
        except OSError:
            pass  # a read-only store still reads correctly, just without the cache
        return scan

    def refresh(self, minutes, symbol: str, year: int, month: int) -> tuple[MonthScan, bool]:
        """The month from the cache, rebuilt first if needed; the flag says whether it was."""
        scan = self.load(symbol, year, month)
        if scan is not None:
            return scan, False
        return self.build(minutes, symbol, year, month), True

    def scan(self, minutes, symbol: str, start: datetime, end: datetime, report):
        """What ``minutes.scan`` returns for ``start``..``end``, taken month by month from the cache."""
        parts, available = [], []
        for year, month in _months(start, end):
            scan, _ = self.refresh(minutes, symbol, year, month)
            for hour, kind, exc in scan.problems:
                if start <= hour <= end:
                    report(hour, kind, exc)
            available.extend(h for h in scan.available_1h if start <= h <= end)
            a = scan.arrays
            if a is not None:
                keep = np.array([start <= h <= end for h in a["hours"]], dtype=bool)
                if keep.any():
                    part = {k: v[keep] for k, v in a.items() if k != "hours"}
                    part["hours"] = [h for h, k in zip(a["hours"], keep) if k]
                    parts.append(part)
        if not parts:
            return None, available
        arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "hours"}
        arrays["hours"] = [h for p in parts for h in p["hours"]]
        return arrays, available
