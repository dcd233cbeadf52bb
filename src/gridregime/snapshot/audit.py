"""Check a whole store (or part of it) file by file: what ``gridregime validate`` reports."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from gridregime.errors import InvalidParameterError
from gridregime.snapshot.decode import read_document
from gridregime.snapshot.errors import SnapshotError
from gridregime.snapshot.fileio import SnapshotReadError, os_reason
from gridregime.snapshot.format import VOLUME_RTOL
from gridregime.snapshot.hour_index import hour_dirs
from gridregime.snapshot.paths import parse_market_file_name
from gridregime.snapshot.validate import MarketFile, check_cross_file, read_market_file
from gridregime.symbols import validate_symbol
from gridregime.timeutil import from_ms, iso_z, to_utc_hour


@dataclass
class StoreReport:
    """Outcome of :func:`audit_store`.

    ``bad`` lists ``(path, reason)``; ``gaps`` lists ``(1h file, missing hours)`` for hourly
    histories with gaps (allowed, reported); ``temporary`` counts leftovers of interrupted
    atomic writes (``.*.tmp``, never under a final name) that are still there;
    ``temporary_removed`` lists the ones removed as stale.
    """

    files_ok: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)
    gaps: list[tuple[str, tuple[datetime, ...]]] = field(default_factory=list)
    hours: int = 0
    symbols: set[str] = field(default_factory=set)
    temporary: int = 0
    temporary_removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad


def audit_store(root: str | os.PathLike, *, symbol: str | None = None, start: object = None,
                end: object = None, remove_stale_tmp: float | None = None) -> StoreReport:
    """Validate every market file (and the cross-file rule of every hour) under ``root``.

    Also checks that each hour has both market files and that analysis files are JSON objects.
    With ``remove_stale_tmp`` (seconds), temporary files of interrupted atomic writes last
    modified longer ago than that are deleted: a live writer holds its temporary file for
    milliseconds, so an old one belongs to a writer that was killed and nothing will rename it.
    """
    if remove_stale_tmp is not None and not remove_stale_tmp >= 0:
        raise InvalidParameterError(f"remove_stale_tmp: expected seconds >= 0, got {remove_stale_tmp!r}")
    now = time.time()
    root = Path(root)
    symbol = validate_symbol(symbol, name="--symbol") if symbol is not None else None
    start = to_utc_hour(start, name="--start") if start is not None else None
    end = to_utc_hour(end, name="--end") if end is not None else None
    report = StoreReport()
    previous_1h: dict[str, MarketFile] = {}  # per symbol, the latest valid 1h file seen
    def unreadable(path, exc):
        report.bad.append((str(path), str(exc)))

    for hour, directory in hour_dirs(root, start, end, on_error=unreadable):
        report.hours += 1
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            unreadable(directory, SnapshotReadError(directory, "<directory>", f"cannot list: {os_reason(exc)}"))
            continue
        markets: dict[str, dict[str, MarketFile | None]] = {}
        for name in names:
            path = directory / name
            if name.startswith(".") and name.endswith(".tmp"):
                if remove_stale_tmp is not None and _remove_if_stale(path, now - remove_stale_tmp):
                    report.temporary_removed.append(str(path))
                else:
                    report.temporary += 1
                continue
            if name.endswith("_regime.json"):
                sym = name[: -len("_regime.json")]
                if symbol is None or sym == symbol:
                    try:
                        doc = read_document(path)
                        if not isinstance(doc, dict):
                            raise SnapshotError(f"{path}: <document>: expected a JSON object")
                        report.files_ok += 1
                    except SnapshotError as exc:
                        report.bad.append((str(path), str(exc)))
                continue
            parsed = parse_market_file_name(name)
            if parsed is None:
                continue
            sym, timeframe = parsed
            if symbol is not None and sym != symbol:
                continue
            report.symbols.add(sym)
            try:
                market = read_market_file(path, symbol=sym, timeframe=timeframe, hour=hour)
            except SnapshotError as exc:
                report.bad.append((str(path), str(exc)))
                market = None
            else:
                report.files_ok += 1
                if timeframe == "1h" and market.gaps():
                    report.gaps.append((str(path), market.gaps()))
                if timeframe == "1h":
                    before = previous_1h.get(sym)
                    previous_1h[sym] = market
                    if before is not None:
                        problem = compare_overlap(before, market)
                        if problem:
                            report.bad.append((str(path), problem))
            markets.setdefault(sym, {})[timeframe] = market
        for sym, pair in sorted(markets.items()):
            for timeframe in ("1m", "1h"):
                if timeframe not in pair:
                    missing = directory / f"{sym}_{timeframe}.json"
                    report.bad.append((str(missing), f"{missing}: missing (the other market file of this hour exists)"))
            if pair.get("1m") is not None and pair.get("1h") is not None:
                try:
                    check_cross_file(pair["1m"], pair["1h"])
                except SnapshotError as exc:
                    report.bad.append((str(directory / f"{sym}_1h.json"), str(exc)))
    return report


def compare_overlap(older: MarketFile, newer: MarketFile) -> str | None:
    """The bars two 1h files both hold must be equal (prices exactly, volume within
    :data:`~gridregime.snapshot.format.VOLUME_RTOL`); the problem, naming both files, or None."""
    common, i, j = np.intersect1d(older.ts, newer.ts, assume_unique=True, return_indices=True)
    if not len(common):
        return None
    for key in ("open", "high", "low", "close"):
        a = getattr(older, key)[i].astype(object) * newer.price_scale
        b = getattr(newer, key)[j].astype(object) * older.price_scale
        bad = np.flatnonzero(a != b)
        if bad.size:
            k = int(bad[0])
            return (f"{newer.path}: bars.{key}: bar {iso_z(from_ms(int(common[k])))} is "
                    f"{int(getattr(newer, key)[j[k]])}/{newer.price_scale} here but "
                    f"{int(getattr(older, key)[i[k]])}/{older.price_scale} in {older.path} "
                    "(overlapping 1h files must agree)")
    va, vb = older.volume[i], newer.volume[j]
    bad = np.flatnonzero(~(np.abs(va - vb) <= VOLUME_RTOL * np.maximum(np.abs(va), np.abs(vb)) + 1e-12))
    if bad.size:
        k = int(bad[0])
        return (f"{newer.path}: bars.volume: bar {iso_z(from_ms(int(common[k])))} is {float(vb[k])!r} here but "
                f"{float(va[k])!r} in {older.path} (overlapping 1h files must agree)")
    return None


def _remove_if_stale(path: Path, cutoff: float) -> bool:
    """Delete ``path`` if it was last modified before ``cutoff`` (epoch seconds)."""
    try:
        if path.stat().st_mtime >= cutoff:
            return False
        path.unlink()
    except FileNotFoundError:  # its writer finished (renamed it) or another cleaner got there first
        return False
    return True
