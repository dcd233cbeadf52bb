"""The bulk scan of a range's minute files: every file read once, its bars parsed column by column.

Each minute file is split without decoding its bars (:func:`~gridregime.snapshot.decode.split_minute_file`);
the segments of all files are then parsed in one call per column into (files x 60) arrays, and
every per-bar rule runs as array operations over the whole range. A file the fast path cannot
vouch for (another layout, odd tokens) or that breaks a rule goes through the reference
validator (:mod:`gridregime.snapshot.validate`), which decides and names the problem. The cost
stays linear in the number of hours, bad files included.

The result is a dict of columns (``ts``, ``open``, ``high``, ``low``, ``close`` as scaled int64,
``volume`` float64, each (files x 60)), ``scale`` (files), ``hours`` (a list) and, before the
rules are checked, the summaries and digests.
"""
from __future__ import annotations

import os
from datetime import datetime

import numpy as np

from gridregime.snapshot.decode import (
    int_segment_ok,
    number_segment_ok,
    parse_int_columns,
    parse_number_columns,
    plain_segments,
    split_minute_file,
)
from gridregime.snapshot.errors import SnapshotError, SnapshotNotFoundError, SnapshotValidationError
from gridregime.snapshot.fileio import SnapshotReadError, read_snapshot_bytes
from gridregime.snapshot.format import (
    CHANGE_PCT_ATOL,
    MAX_SCALED_PRICE,
    MINUTE_BARS,
    VOLUME_RTOL,
    bars_digest,
    decode_json,
)
from gridregime.snapshot.hour_index import present
from gridregime.snapshot.paths import market_path
from gridregime.snapshot.validate import read_market_file, validate_market_document
from gridregime.timeutil import HOUR, HOUR_MS, MINUTE_MS, to_ms

_MINUTE_OFFSETS = np.arange(MINUTE_BARS, dtype=np.int64) * MINUTE_MS


def minute_path(root, symbol: str, hour: datetime) -> str:
    return os.fspath(market_path(root, symbol, "1m", hour))


def select_files(a: dict, keep: np.ndarray) -> dict:
    """The files of scanned columns ``a`` where ``keep`` is true."""
    out = {k: v[keep] for k, v in a.items() if k != "hours"}
    out["hours"] = [hh for hh, k in zip(a["hours"], keep) if k]
    return out


class MinuteScan:
    """Scans the minute files of one store (``validate=False`` skips the per-bar rules)."""

    def __init__(self, root, validate: bool = True):
        self.root = root
        self.validate = validate

    def scan(self, symbol: str, start: datetime, end: datetime, report):
        """Read and check every minute file from ``start`` to ``end``.

        Returns ``(arrays, hours holding a 1h file)``; ``arrays`` maps column names to
        (files × 60) arrays of the files that passed (``None`` if none did).
        """
        root = os.fspath(self.root)
        rows: list[tuple] = []
        available_1h: list[datetime] = []
        n_hours = (to_ms(end) - to_ms(start)) // HOUR_MS + 1
        for k in range(n_hours):
            hour = start + k * HOUR
            stamp = f"{hour.year:04d}/{hour.month:02d}/{hour.day:02d}/{hour.hour:02d}"
            base = f"{root}/{stamp}/{symbol}"
            p1m = base + "_1m.json"
            has_1h = present(base + "_1h.json")
            if has_1h:
                available_1h.append(hour)
            try:
                data = read_snapshot_bytes(p1m)
            except SnapshotNotFoundError as exc:
                report(hour, "missing", exc)
                continue
            except SnapshotReadError as exc:
                report(hour, "unreadable", exc)
                continue
            if not has_1h:
                report(hour, "missing", SnapshotNotFoundError(f"{base}_1h.json: no such snapshot file"))
                continue
            hour_text = f"{stamp[:4]}-{stamp[5:7]}-{stamp[8:10]}T{stamp[11:]}:00:00Z"
            fast = split_minute_file(data, symbol, hour_text, hour)
            if fast is None:
                fast = self._slow_row(data, p1m, symbol, hour, report)
                if fast is None:
                    continue
            rows.append((hour, *fast))
        arrays = self._columns(rows, symbol, report)
        if arrays is not None and self.validate:
            arrays = self._check_rules(arrays, symbol, report)
        elif arrays is not None:
            arrays.pop("digest", None)
        return arrays, available_1h

    def _explain(self, symbol, hour, report) -> bool:
        """Re-check one minute file with the reference validator; True if it is invalid."""
        path = minute_path(self.root, symbol, hour)
        try:
            read_market_file(path, symbol=symbol, timeframe="1m", hour=hour)
        except SnapshotError as exc:
            report(hour, "invalid", exc)
            return True
        return False

    def _slow_row(self, data: bytes, path: str, symbol: str, hour: datetime, report):
        """A file the fast split could not vouch for: the reference validator decides."""
        try:
            market = validate_market_document(decode_json(data, path), path, symbol=symbol, timeframe="1m",
                                              hour=hour)
        except SnapshotValidationError as exc:
            report(hour, "invalid", exc)
            return None
        s = market.summary
        segments = plain_segments((market.ts, market.open, market.high, market.low, market.close, market.volume))
        # the digest (if any) was checked by the reference validator
        return (market.price_scale, [s["open"], s["high"], s["low"], s["close"]],
                [s["volume"], s["change_pct"]], None, segments)

    def _columns(self, rows: list[tuple], symbol, report):
        """One (files × 60) array per column for all collected files, parsed in bulk.

        ``rows`` holds ``(hour, price_scale, summary ints, summary floats, six segments)``.
        A column that does not parse in bulk is checked file by file; the files at fault go
        to the reference validator, which names the problem.
        """
        if not rows:
            return None
        parsers = [(parse_int_columns, int_segment_ok)] * 5 + [(parse_number_columns, number_segment_ok)]
        names = ("ts", "open", "high", "low", "close", "volume")
        keep = list(range(len(rows)))
        for _ in range(3):
            out, bad = {}, []
            for c, (name, (bulk, single)) in enumerate(zip(names, parsers)):
                segments = [rows[i][5][c] for i in keep]
                arr = bulk(segments)
                if arr is None:
                    at_fault = [keep[j] for j, seg in enumerate(segments) if not single(seg)]
                    bad.extend(at_fault or keep)  # no single culprit: re-check them all
                out[name] = arr
            bad = sorted(set(bad))
            if not bad:
                break
            # not in the plain layout: the reference validator decides, and a file it accepts
            # comes back re-encoded in plain segments
            rows = list(rows)
            dropped = set()
            for i in bad:
                hour = rows[i][0]
                path = minute_path(self.root, symbol, hour)
                try:
                    data = read_snapshot_bytes(path)
                except SnapshotNotFoundError as exc:
                    report(hour, "missing", exc)
                    dropped.add(i)
                    continue
                except SnapshotReadError as exc:
                    report(hour, "unreadable", exc)
                    dropped.add(i)
                    continue
                again = self._slow_row(data, path, symbol, hour, report)
                if again is None:
                    dropped.add(i)
                else:
                    rows[i] = (hour, *again)
            keep = [i for i in keep if i not in dropped]
            if not keep:
                return None
        else:  # pragma: no cover - re-encoded segments always parse
            raise AssertionError("bulk parse failed on re-encoded segments")
        out["hours"] = [rows[i][0] for i in keep]
        out["scale"] = np.array([rows[i][1] for i in keep], dtype=np.int64)
        out["summary_ints"] = np.array([rows[i][2] for i in keep], dtype=np.int64)
        out["summary_floats"] = np.array([rows[i][3] for i in keep], dtype=np.float64)
        out["digest"] = np.array([rows[i][4] for i in keep], dtype=object)
        return out

    def _check_rules(self, a, symbol, report):
        """Every single-file rule of a minute file, as array operations over all files."""
        hour_ms = np.array([to_ms(h) for h in a["hours"]], dtype=np.int64)
        o, h, lo, c, v = a["open"], a["high"], a["low"], a["close"], a["volume"]
        bad = np.any(a["ts"] != hour_ms[:, None] + _MINUTE_OFFSETS, axis=1)
        for col in (o, h, lo, c):
            bad |= np.any((col <= 0) | (col > MAX_SCALED_PRICE), axis=1)
        bad |= np.any(lo > np.minimum(o, c), axis=1)
        bad |= np.any(h < np.maximum(o, c), axis=1)
        bad |= ~np.all(np.isfinite(v) & (v >= 0), axis=1)
        si, sf = a["summary_ints"], a["summary_floats"]
        bad |= si[:, 0] != o[:, 0]
        bad |= si[:, 1] != h.max(axis=1)
        bad |= si[:, 2] != lo.min(axis=1)
        bad |= si[:, 3] != c[:, -1]
        with np.errstate(over="ignore", invalid="ignore"):
            vol = v.sum(axis=1)
        bad |= ~np.isfinite(vol)  # a total beyond float64: the reference validator names it
        bad |= ~(np.abs(sf[:, 0] - vol) <= VOLUME_RTOL * np.maximum(np.abs(sf[:, 0]), np.abs(vol)) + 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            chg = (si[:, 3] - si[:, 0]) / si[:, 0] * 100.0
        bad |= ~(np.abs(sf[:, 1] - chg) <= VOLUME_RTOL * np.abs(chg) + CHANGE_PCT_ATOL)
        digests = a.pop("digest", None)
        if digests is not None:
            ts = a["ts"]
            for i, want in enumerate(digests):
                if want is not None and not bad[i] and bars_digest(ts[i], o[i], h[i], lo[i], c[i], v[i]) != want:
                    bad[i] = True
        if not bad.any():
            return a
        drop = np.zeros(len(bad), dtype=bool)
        for i in np.flatnonzero(bad):
            # the reference validator names the problem; a file it accepts stays in
            drop[i] = self._explain(symbol, a["hours"][i], report)
        return select_files(a, ~drop)
