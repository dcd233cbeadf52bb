"""The hourly history of a range: the fewest 1h files that reach back far enough, merged, and
the checks that tie it to the minute files and to every other 1h file it overlaps.

Each 1h file holds the history ending with its hour (normally 1000 bars). Overlapping files
must agree bar for bar; a bar that disagrees is reported, never used silently.
"""
from __future__ import annotations

import os
from datetime import datetime

import numpy as np
import pyarrow as pa

from gridregime.bars import bars_table, empty_bars, first_of_each_time, merge_bars, slice_time, time_order, ts_ms
from gridregime.snapshot.decode import last_hourly_bar
from gridregime.snapshot.errors import SnapshotError, SnapshotValidationError
from gridregime.snapshot.fileio import read_snapshot_bytes
from gridregime.snapshot.format import VOLUME_RTOL
from gridregime.snapshot.hour_index import present
from gridregime.snapshot.minute_scan import minute_path, select_files
from gridregime.snapshot.paths import market_path
from gridregime.snapshot.validate import MarketFile, read_market_file
from gridregime.timeutil import HOUR, HOUR_MS, from_ms, iso_z, to_ms

_PRICES = ("open", "high", "low", "close")


def merge_hourly(files: list[MarketFile]):
    """Merge 1h files (newest first); returns (columns, index of the file each bar came from,
    conflicts) with conflicts as (ts, field, newer MarketFile, older MarketFile)."""
    ts = np.concatenate([f.ts for f in files])
    prices = {k: np.concatenate([getattr(f, k) / float(f.price_scale) for f in files]) for k in _PRICES}
    volume = np.concatenate([f.volume for f in files])
    origin = np.concatenate([np.full(len(f.ts), i) for i, f in enumerate(files)])
    order, dup, keep_of = time_order(ts)  # equal times: the newest file (listed first) is kept
    conflicts = []
    if dup.size:
        s_ts, s_origin = ts[order], origin[order]
        for k in _PRICES:
            p = prices[k][order]
            for j in np.flatnonzero(p[dup] != p[keep_of]):
                conflicts.append((int(s_ts[dup[j]]), f"bars.{k}", files[s_origin[keep_of[j]]], files[s_origin[dup[j]]]))
        v = volume[order]
        vk, vd = v[keep_of], v[dup]
        bad = np.abs(vk - vd) > VOLUME_RTOL * np.maximum(np.abs(vk), np.abs(vd)) + 1e-12
        for j in np.flatnonzero(bad):
            conflicts.append((int(s_ts[dup[j]]), "bars.volume", files[s_origin[keep_of[j]]], files[s_origin[dup[j]]]))
    rows = first_of_each_time(order, dup)
    return ((ts[rows], prices["open"][rows], prices["high"][rows], prices["low"][rows], prices["close"][rows],
             volume[rows]), origin[rows], conflicts)


def _last_bar_of_file(path: str) -> dict | None:
    """The last bar of a history-only 1h file from its head; ``None`` when it cannot be read."""
    try:
        return last_hourly_bar(read_snapshot_bytes(path))
    except SnapshotError:
        return None


def load_history(root, symbol, start, end, reach_to: int, available: list[datetime], report):
    """Read the fewest 1h files whose history reaches back to ``reach_to`` (ms); merge them."""
    avail = list(available)  # sorted ascending
    files: list[MarketFile] = []
    upper = end  # only files at hours <= upper are still useful
    reach = None  # earliest time covered so far
    while avail:
        if reach is None:
            candidates = [h for h in avail if h <= upper]
            pick = candidates[-1] if candidates else None
        else:
            want = from_ms(reach - HOUR_MS)  # a file at this hour extends the history the most
            later = [h for h in avail if want <= h < upper]
            earlier = [h for h in avail if h < want]
            pick = later[0] if later else (earlier[-1] if earlier else None)
        if pick is None:
            break
        avail.remove(pick)
        path = market_path(root, symbol, "1h", pick)
        try:
            mf = read_market_file(path, symbol=symbol, timeframe="1h", hour=pick)
        except SnapshotError as exc:
            report(pick, "invalid", exc)
            continue
        files.append(mf)
        upper = pick
        first = int(mf.ts[0])
        if reach is not None and first >= reach:
            break  # no older history to gain
        reach = first if reach is None else min(reach, first)
        if reach <= reach_to:
            break
    if not files:
        return empty_bars(), None
    cols, origin, conflicts = merge_hourly(files)
    for ts, field, newer, older in conflicts:
        hour = from_ms(ts)
        where = hour if start <= hour <= end else older.hour
        report(where, "invalid", SnapshotValidationError(
            older.path, field, f"bar {iso_z(hour)} disagrees with the same bar in {newer.path}"))
    return bars_table(*cols), (cols, [files[i].path for i in origin])

def check_history_files(root, a, hourly_cols, symbol, reach_to: int, end, history_hours, report):
    """Overlapping 1h files must agree: each bar of the merged history that has a 1h file of
    its own hour (not one of the files merged) is compared with that file's last bar. The
    1h file of an analysed hour is validated in full (the rules of ``validate``, so batch
    and validate agree on every hour); a history-only file is read from its head (its
    summary is its last bar). A bar that disagrees is never used silently: every loaded
    hour whose history window holds it is reported, naming both files, and dropped."""
    (hts, ho, hh, hl, hc, hv), origin = hourly_cols
    if not len(a["hours"]) or not len(hts):
        return a
    merged_from = set(origin)
    conflicts: list[tuple[int, str, str, str]] = []  # (ts, field, bar's file, hour's own file)
    root = os.fspath(root)
    in_range = {to_ms(h) for h in a["hours"]}
    invalid: set[int] = set()
    for j in np.flatnonzero((hts >= reach_to) & (hts <= to_ms(end))):
        ts = int(hts[j])
        hour = from_ms(ts)
        path = (f"{root}/{hour.year:04d}/{hour.month:02d}/{hour.day:02d}/{hour.hour:02d}/"
                f"{symbol}_1h.json")
        if path in merged_from or not present(path):
            continue
        if ts in in_range:
            # an analysed hour's own 1h file: every rule, as validate checks it
            try:
                mf = read_market_file(path, symbol=symbol, timeframe="1h", hour=hour)
            except SnapshotError as exc:
                report(hour, "invalid", exc)
                invalid.add(ts)
                continue
            last = {k: int(getattr(mf, k)[-1]) / mf.price_scale for k in ("open", "high", "low", "close")}
            last["volume"] = float(mf.volume[-1])
        else:
            last = _last_bar_of_file(path)
            if last is None:
                continue  # a history-only file that cannot be read: validate reports it
        for field, mine in zip(("open", "high", "low", "close"), (ho, hh, hl, hc)):
            if mine[j] != last[field]:
                conflicts.append((ts, f"bars.{field}", origin[j], path))
                break
        else:
            vol = float(hv[j])
            if not abs(vol - last["volume"]) <= VOLUME_RTOL * max(abs(vol), abs(last["volume"])) + 1e-12:
                conflicts.append((ts, "bars.volume", origin[j], path))
    if invalid:
        a = select_files(a, np.array([to_ms(h) not in invalid for h in a["hours"]], dtype=bool))
    if not conflicts:
        return a
    window = (history_hours or 10**9) * HOUR_MS
    keep = np.ones(len(a["hours"]), dtype=bool)
    for i, hour in enumerate(a["hours"]):
        h_ms = to_ms(hour)
        for ts, field, used, own in conflicts:
            if h_ms - window < ts <= h_ms:
                report(hour, "invalid", SnapshotValidationError(
                    used, field, f"history bar {iso_z(from_ms(ts))} disagrees with the last bar of {own} "
                    f"(overlapping 1h files must agree; the analysis of {iso_z(hour)} would use it)"))
                keep[i] = False
                break
    return select_files(a, keep)

def check_against_history(root, a, hourly_cols, symbol, report):
    """Cross-file rule in bulk: each hour's minute aggregate equals its hourly bar."""
    (hts, ho, hh, hl, hc, hv), origin = hourly_cols
    hour_ms = np.array([to_ms(h) for h in a["hours"]], dtype=np.int64)
    idx = np.searchsorted(hts, hour_ms)
    found = (idx < len(hts)) & (hts[np.minimum(idx, len(hts) - 1)] == hour_ms) if len(hts) else \
        np.zeros(len(hour_ms), dtype=bool)
    idx = np.minimum(idx, max(len(hts) - 1, 0))
    scale = a["scale"].astype(np.float64)
    agg = {"open": a["open"][:, 0] / scale, "high": a["high"].max(axis=1) / scale,
           "low": a["low"].min(axis=1) / scale, "close": a["close"][:, -1] / scale}
    ref = {"open": ho, "high": hh, "low": hl, "close": hc}
    vol = a["volume"].sum(axis=1)
    keep = np.ones(len(hour_ms), dtype=bool)
    if len(hts):
        mismatch = {k: found & (agg[k] != ref[k][idx]) for k in agg}
        hvol = hv[idx]
        tolerance = VOLUME_RTOL * np.maximum(np.abs(hvol), np.abs(vol)) + 1e-12
        mismatch["volume"] = found & ~(np.abs(hvol - vol) <= tolerance)
    else:
        mismatch = {}
    suspect = ~found
    for m in mismatch.values():
        suspect |= m
    for i in np.flatnonzero(suspect):
        hour = a["hours"][i]
        path = minute_path(root, symbol, hour)
        if not found[i]:
            sources = sorted(set(origin))
            report(hour, "invalid", SnapshotValidationError(
                path, "bars", f"the hourly history ({', '.join(sources)}) has no bar for this hour"))
            keep[i] = False
            continue
        for field, m in mismatch.items():
            if m[i]:
                report(hour, "invalid", SnapshotValidationError(
                    path, f"bars.{field}",
                    f"the minute aggregate disagrees with bar {iso_z(hour)} of {origin[idx[i]]}"))
                keep[i] = False
                break
    return select_files(a, keep)


def _early_history(root, symbol: str, hours: list[datetime], history: int) -> pa.Table | None:
    """The hourly bars of the 1h files of ``hours`` (spaced ``history`` hours apart), merged.

    None when a file is missing or invalid, or when a file after the first does not reach back
    the full ``history`` hours (a store written with shorter histories): the bars would then
    not join up, and the caller loads the whole span instead.
    """
    tables = []
    for k, hour in enumerate(hours):
        try:
            mf = read_market_file(market_path(root, symbol, "1h", hour), symbol=symbol, timeframe="1h", hour=hour)
        except SnapshotError:
            return None
        bars = mf.bars()
        if k and (bars.num_rows == 0 or int(ts_ms(bars)[0]) > to_ms(hour) - (history - 1) * HOUR_MS):
            return None
        tables.append(bars)
    return pa.concat_tables(tables) if tables else None


def series_history(root, symbol: str, hourly: pa.Table, start: datetime, series_start: datetime,
                   history: int, reload_hourly) -> pa.Table:
    """The hourly history of a range starting at ``start``, extended back to the series origin of
    a run that starts at ``series_start`` (``series_start - (history - 1)`` hours) and cut there.

    ``hourly`` is the range's own merged history. When ``start`` is later than ``series_start``
    its 1h files do not reach that far back; the 1h files of hours ``series_start,
    series_start + history, ...`` bring the missing bars. When they cannot (a file unreadable,
    or histories shorter than ``history``), ``reload_hourly()`` gives the history of the whole
    span from ``series_start`` instead: slower, same result.
    """
    origin = to_ms(series_start) - (history - 1) * HOUR_MS
    if start > series_start:
        steps = int((start - series_start) / HOUR)
        early = None
        own_reach = to_ms(start) - (history - 1) * HOUR_MS
        if hourly.num_rows and int(ts_ms(hourly)[0]) <= own_reach:
            early = _early_history(root, symbol, [series_start + j * HOUR for j in range(0, steps, history)], history)
        if early is None:
            hourly = reload_hourly()
        elif early.num_rows:
            hourly = merge_bars([hourly, early])
    if hourly.num_rows and int(ts_ms(hourly)[0]) < origin:
        hourly = slice_time(hourly, origin, None)
    return hourly
