"""Reading snapshots: one hour (:meth:`SnapshotReader.load_snapshot`) or a range in bulk
(:meth:`SnapshotReader.load_range`), always validated unless asked otherwise.

The bulk path reads each minute file, decodes only its small head (metadata and summary)
with orjson and cuts out the byte segments of its six ``bars`` arrays. The segments of all
files are then parsed column by column in one call each (``numpy.fromstring`` for the int
columns, orjson for volume) into (files × 60) arrays, and every per-bar rule runs as array
operations over the whole range. A file the fast path cannot vouch for (another layout, odd
tokens) or that breaks a rule goes through the reference validator
(:mod:`gridregime.snapshot.validate`), which decides and names the problem. The cost stays
linear in the number of hours, bad files included.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from gridregime.bars import bars_table, empty_bars
from gridregime.errors import InvalidParameterError
from gridregime.snapshot.errors import (
    SnapshotError,
    SnapshotNotFoundError,
    SnapshotValidationError,
)
from gridregime.snapshot.fileio import SnapshotReadError, os_reason, read_snapshot_bytes
from gridregime.snapshot.format import (
    DIGEST_KEY,
    MAX_SCALED_PRICE,
    SCHEMA_VERSION,
    bars_digest,
    decode_json,
)
from gridregime.snapshot.paths import (
    analysis_path,
    hour_of_dir,
    market_path,
    parse_market_file_name,
)
from gridregime.snapshot.validate import (
    CHANGE_PCT_ATOL,
    MINUTE_BARS,
    VOLUME_RTOL,
    MarketFile,
    check_cross_file,
    read_market_file,
    validate_market_document,
)
from gridregime.symbols import validate_symbol
from gridregime.timeutil import (
    HOUR,
    HOUR_MS,
    MINUTE_MS,
    from_ms,
    iso_z,
    to_ms,
    to_utc_hour,
)

_POWERS_OF_TEN = frozenset(10**d for d in range(19))
_MINUTE_OFFSETS = np.arange(MINUTE_BARS, dtype=np.int64) * MINUTE_MS


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Both market files of one hour, validated.

    ``minute`` holds the 60 minute bars of ``hour``; ``hourly`` the hourly history ending with
    ``hour``; ``hourly_gaps`` the hours missing inside that history (never filled).
    """

    symbol: str
    hour: datetime
    minute: pa.Table
    hourly: pa.Table
    price_scale: int
    source: str
    collected_at: datetime
    hourly_gaps: tuple[datetime, ...]
    path_1m: Path
    path_1h: Path


@dataclass(frozen=True)
class HourProblem:
    """An hour of a range that could not be loaded: ``kind`` is ``"missing"`` or ``"invalid"``."""

    hour: datetime
    kind: str
    reason: str


@dataclass(frozen=True, eq=False)
class LoadedRange:
    """Result of :meth:`SnapshotReader.load_range`.

    ``minute`` concatenates the minute bars of every loaded hour (``hours``), in order.
    ``hourly`` is the merged, de-duplicated hourly history of the 1h files read: it covers
    the range and whatever earlier history those files hold. ``problems`` lists the hours
    of the range that were skipped, with the reason.
    """

    symbol: str
    start: datetime
    end: datetime
    minute: pa.Table
    hourly: pa.Table
    hours: tuple[datetime, ...]
    problems: tuple[HourProblem, ...]


_BARS_MARKER = b',"bars":{"ts":['
_COLUMN_MARKERS = (b'],"open":[', b'],"high":[', b'],"low":[', b'],"close":[', b'],"volume":[')
_TAIL = b"]}}"
_INT_CHARS = b"0123456789,"
_NUMBER_CHARS = b"0123456789,.eE+-"
_HEAD_KEYS = {"schema_version": None, "metadata": None, "market_summary": None}.keys()
_NUMBER_TYPES = (int, float)


def _fast_head(head: object, symbol: str, hour_text: str, hour: datetime):
    """Cheap checks of metadata and summary; ``None`` when they cannot vouch for the file."""
    try:
        if type(head) is not dict or head.keys() != _HEAD_KEYS:
            return None
        if head["schema_version"] != SCHEMA_VERSION or type(head["schema_version"]) is not int:
            return None
        meta = head["metadata"]
        scale = meta["price_scale"]
        if (meta["symbol"] != symbol or meta["timeframe"] != "1m" or meta["hour"] != hour_text
                or type(scale) is not int or scale not in _POWERS_OF_TEN
                or type(meta["bar_count"]) is not int or meta["bar_count"] != MINUTE_BARS):
            return None
        source = meta["source"]
        collected = meta["collected_at"]
        if type(source) is not str or not source or type(collected) is not str:
            return None
        collected_at = datetime.fromisoformat(collected)
        if collected_at.tzinfo is None or collected_at < hour + HOUR:
            return None
        s = head["market_summary"]
        s_ints = [s["open"], s["high"], s["low"], s["close"]]
        s_floats = [s["volume"], s["change_pct"]]
        a, b, c, d = s_ints
        if not (type(a) is int and type(b) is int and type(c) is int and type(d) is int
                and type(s_floats[0]) in _NUMBER_TYPES and type(s_floats[1]) in _NUMBER_TYPES):
            return None
        digest = meta.get(DIGEST_KEY)
        if DIGEST_KEY in meta and (type(digest) is not str or len(digest) != 64):
            return None  # the reference validator names the problem
        return scale, s_ints, s_floats, digest
    except (KeyError, TypeError, ValueError):
        return None


def _fast_split(data: bytes, symbol: str, hour_text: str, hour: datetime):
    """A minute file in the writer's own layout, split without decoding its bars.

    Returns ``(price_scale, summary ints, summary floats, digest, six column segments)`` where each
    segment is a view of the bytes between the brackets of one ``bars`` array, or ``None``
    when the file is not in that layout (or its head does not pass the cheap checks).
    Cutting at ``,"bars":{"ts":[`` is safe: that text cannot occur inside a JSON string, and
    a cut inside a nested object leaves unbalanced braces that orjson rejects.
    """
    i = data.find(_BARS_MARKER)
    if i < 0 or not data.endswith(_TAIL):
        return None
    try:
        head = orjson.loads(data[:i] + b"}")
    except orjson.JSONDecodeError:
        return None
    checked = _fast_head(head, symbol, hour_text, hour)
    if checked is None:
        return None
    view = memoryview(data)  # segments are views: no copy until the one join per column
    pos = i + len(_BARS_MARKER)
    segments = []
    for marker in _COLUMN_MARKERS:
        j = data.find(marker, pos)
        if j < 0:
            return None
        segments.append(view[pos:j])
        pos = j + len(marker)
    segments.append(view[pos:len(data) - len(_TAIL)])
    return (*checked, segments)


def _join_checked(segments: list, allowed: bytes):
    """Join the segments of one column; check characters and 60 values per file.

    Returns ``(joined bytes, uint8 view, comma positions)`` or ``None``. The per-file value
    count is checked on the comma positions of the joined column (vectorised), so a file
    with 59 values cannot hide behind a neighbour with 61.
    """
    joined = b",".join(segments)
    if joined.translate(None, allowed):
        return None
    buf = np.frombuffer(joined, dtype=np.uint8)
    commas = np.flatnonzero(buf == ord(","))
    lengths = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
    ends = np.cumsum(lengths + 1) - 1  # where the separator after each segment sits
    per_file = np.searchsorted(commas, ends) - np.searchsorted(commas, ends - lengths)
    if np.any(per_file != MINUTE_BARS - 1):
        return None
    return joined, buf, commas


def _parse_ints(segments: list) -> np.ndarray | None:
    """All files' segments of one int column → (n, 60) int64, or ``None`` if any is not a
    plain JSON integer (digits only, no sign, no leading zero, no white space)."""
    checked = _join_checked(segments, _INT_CHARS)
    if checked is None:
        return None
    joined, buf, commas = checked
    if buf.size == 0 or buf[0] == ord("0") or np.any(buf[commas + 1] == ord("0")):
        return None  # a leading zero (invalid JSON) or a zero (never valid here)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            arr = np.fromstring(joined, dtype=np.int64, sep=",")
        except (ValueError, DeprecationWarning):
            return None
    if arr.size != MINUTE_BARS * len(segments):
        return None
    return arr.reshape(len(segments), MINUTE_BARS)


def _parse_numbers(segments: list) -> np.ndarray | None:
    """All files' volume segments → (n, 60) float64 (JSON numbers only), or ``None``."""
    checked = _join_checked(segments, _NUMBER_CHARS)
    if checked is None:
        return None
    try:
        values = orjson.loads(b"[" + checked[0] + b"]")
    except orjson.JSONDecodeError:
        return None
    if len(values) != MINUTE_BARS * len(segments):
        return None
    # every element is a JSON number (checked above), so the typed fast path is safe
    return np.fromiter(values, dtype=np.float64, count=len(values)).reshape(len(segments), MINUTE_BARS)


def _int_segment_ok(seg) -> bool:
    return _parse_ints([seg]) is not None


def _number_segment_ok(seg) -> bool:
    return _parse_numbers([seg]) is not None


def _merge_hourly(files: list[MarketFile]):
    """Merge 1h files (newest first); returns (columns, index of the file each bar came from,
    conflicts) with conflicts as (ts, field, newer MarketFile, older MarketFile)."""
    ts = np.concatenate([f.ts for f in files])
    prices = {k: np.concatenate([getattr(f, k) / float(f.price_scale) for f in files])
              for k in ("open", "high", "low", "close")}
    volume = np.concatenate([f.volume for f in files])
    origin = np.concatenate([np.full(len(f.ts), i) for i, f in enumerate(files)])
    order = np.lexsort((origin, ts))  # by time, newest file first among equal times
    ts, volume, origin = ts[order], volume[order], origin[order]
    prices = {k: v[order] for k, v in prices.items()}
    conflicts = []
    if len(files) > 1:
        dup = np.flatnonzero(ts[1:] == ts[:-1]) + 1  # rows repeating the time of the row before
        if dup.size:
            keep_of = dup.copy()
            # the kept row of each duplicate run is the first one of the run
            for j in range(dup.size):
                if j and dup[j] == dup[j - 1] + 1:
                    keep_of[j] = keep_of[j - 1]
                else:
                    keep_of[j] = dup[j] - 1
            for k in ("open", "high", "low", "close"):
                bad = prices[k][dup] != prices[k][keep_of]
                for j in np.flatnonzero(bad):
                    conflicts.append((int(ts[dup[j]]), f"bars.{k}", files[origin[keep_of[j]]], files[origin[dup[j]]]))
            vk, vd = volume[keep_of], volume[dup]
            bad = np.abs(vk - vd) > VOLUME_RTOL * np.maximum(np.abs(vk), np.abs(vd)) + 1e-12
            for j in np.flatnonzero(bad):
                conflicts.append((int(ts[dup[j]]), "bars.volume", files[origin[keep_of[j]]], files[origin[dup[j]]]))
        first = np.r_[True, ts[1:] != ts[:-1]]
        ts, volume, origin = ts[first], volume[first], origin[first]
        prices = {k: v[first] for k, v in prices.items()}
    return (ts, prices["open"], prices["high"], prices["low"], prices["close"], volume), origin, conflicts


_read_file = read_snapshot_bytes  # the whole file, regular files only


def _present(path: str) -> bool:
    """Whether something is at ``path``; anything but "no such file" counts as present, so the
    read that follows reports the real reason (a loop, a denied directory) instead of "missing"."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def _names(directory) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError as exc:
        raise SnapshotReadError(directory, "<directory>", f"cannot list: {os_reason(exc)}") from None


def _is_dir(entry, parent, on_error) -> bool:
    """``entry.is_dir()``, with an entry that cannot be examined reported, not skipped silently."""
    try:
        if entry.is_dir():
            return True
        if entry.is_symlink():
            os.stat(entry.path)  # a dangling link or a loop: raises and is reported below
        return False
    except OSError as exc:
        err = SnapshotReadError(entry.path, "<directory>", f"cannot open: {os_reason(exc)}")
        if on_error is None:
            raise err from None
        on_error(entry.path, err)
        return False


def _last_hourly_bar(path: str) -> dict | None:
    """The last bar of a 1h file as float prices, from its ``market_summary`` (read without
    decoding the bars); ``None`` when the file cannot be read or its head is not as written."""
    try:
        data = read_snapshot_bytes(path)
    except SnapshotError:
        return None
    i = data.find(_BARS_MARKER)
    try:
        head = orjson.loads(data[:i] + b"}") if i > 0 else orjson.loads(data)
        scale = head["metadata"]["price_scale"]
        s = head["market_summary"]
        if type(scale) is not int or scale not in _POWERS_OF_TEN:
            return None
        out = {k: s[k] / scale for k in ("open", "high", "low", "close")}
        out["volume"] = float(s["volume"])
        if not all(type(s[k]) is int for k in ("open", "high", "low", "close")):
            return None
        return out
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
        return None


class SnapshotReader:
    """Reader of the snapshot store (SPEC §3).

    Parameters
    ----------
    root : path-like
        Root directory of the store.
    validate : bool, default True
        Check every format rule, cross-file included. With ``False``, :meth:`load_range`
        checks only what it needs to build the tables (layout, types, 60 values per column)
        and skips the per-bar rules and cross-file checks, and :meth:`load_snapshot` skips
        the cross-file check (each file is still validated on its own). The columnar cache
        is used only by validating readers.
    """

    def __init__(self, root: str | os.PathLike, *, validate: bool = True):
        self.root = Path(root)
        self.validate = bool(validate)

    # -- listing ---------------------------------------------------------------------------
    def _hour_dirs(self, start: datetime | None = None, end: datetime | None = None, on_error=None):
        """Yield ``(hour, dir_path)`` in time order, pruning years/months/days out of range.

        A directory that cannot be listed (or an entry that cannot be examined, such as a
        symlink loop) raises :class:`SnapshotReadError`, or goes to ``on_error(path, error)``
        when given.
        """
        def listdir(p):
            try:
                with os.scandir(p) as it:
                    return sorted(e.name for e in it if e.name.isdigit() and _is_dir(e, p, on_error))
            except (FileNotFoundError, NotADirectoryError):
                return []
            except OSError as exc:
                err = SnapshotReadError(p, "<directory>", f"cannot list: {os_reason(exc)}")
                if on_error is None:
                    raise err from None
                on_error(os.fspath(p), err)
                return []

        lo = start.strftime("%Y%m%d%H") if start else None
        hi = end.strftime("%Y%m%d%H") if end else None
        for y in listdir(self.root):
            if (lo and y < lo[:4]) or (hi and y > hi[:4]):
                continue
            for m in listdir(self.root / y):
                if (lo and y + m < lo[:6]) or (hi and y + m > hi[:6]):
                    continue
                for d in listdir(self.root / y / m):
                    if (lo and y + m + d < lo[:8]) or (hi and y + m + d > hi[:8]):
                        continue
                    for hh in listdir(self.root / y / m / d):
                        key = y + m + d + hh
                        if (lo and key < lo) or (hi and key > hi):
                            continue
                        hour = hour_of_dir(y, m, d, hh)
                        if hour is not None:
                            yield hour, self.root / y / m / d / hh

    def span(self) -> tuple[datetime, datetime] | None:
        """First and last hour directory of the store (``None`` when it holds none).

        Descends only along the smallest and the largest name at each level, so the cost does
        not grow with the size of the store.
        """
        def ends(directory: Path, depth: int, pick) -> datetime | None:
            try:
                with os.scandir(directory) as it:
                    names = sorted((e.name for e in it if e.name.isdigit() and e.is_dir()), reverse=pick is max)
            except OSError:
                return None
            for name in names:  # a directory without hours falls through to the next one
                if depth == 3:
                    parts = directory.relative_to(self.root).parts
                    hour = hour_of_dir(*parts, name)
                    if hour is not None:
                        return hour
                    continue
                found = ends(directory / name, depth + 1, pick)
                if found is not None:
                    return found
            return None

        first = ends(self.root, 0, min)
        last = ends(self.root, 0, max)
        return None if first is None or last is None else (first, last)

    def symbols(self) -> list[str]:
        """Symbols with at least one market file, sorted."""
        found = set()
        for _, directory in self._hour_dirs():
            for name in _names(directory):
                parsed = parse_market_file_name(name)
                if parsed:
                    found.add(parsed[0])
        return sorted(found)

    def hours(self, symbol: str, start: object = None, end: object = None) -> list[datetime]:
        """Hours (between ``start`` and ``end``, inclusive) that hold both market files of ``symbol``."""
        symbol = validate_symbol(symbol)
        start = to_utc_hour(start, name="start") if start is not None else None
        end = to_utc_hour(end, name="end") if end is not None else None
        want = {f"{symbol}_1m.json", f"{symbol}_1h.json"}
        return [hour for hour, directory in self._hour_dirs(start, end) if want <= set(_names(directory))]

    # -- one hour --------------------------------------------------------------------------
    def load_snapshot(self, symbol: str, hour: object) -> Snapshot:
        """Load and validate both market files of ``symbol`` at ``hour`` (cross-file included).

        Raises
        ------
        SnapshotNotFoundError
            A file is missing.
        SnapshotValidationError
            A file breaks a rule; the error names the file and the field.
        """
        symbol = validate_symbol(symbol)
        hour = to_utc_hour(hour)
        p1m = market_path(self.root, symbol, "1m", hour)
        p1h = market_path(self.root, symbol, "1h", hour)
        minute = read_market_file(p1m, symbol=symbol, timeframe="1m", hour=hour)
        hourly = read_market_file(p1h, symbol=symbol, timeframe="1h", hour=hour)
        if self.validate:
            check_cross_file(minute, hourly)
        return Snapshot(symbol=symbol, hour=hour, minute=minute.bars(), hourly=hourly.bars(),
                        price_scale=minute.price_scale, source=minute.source, collected_at=minute.collected_at,
                        hourly_gaps=hourly.gaps(), path_1m=p1m, path_1h=p1h)

    def load_analysis(self, symbol: str, hour: object) -> dict | None:
        """The analysis written for ``symbol`` at ``hour``, or ``None`` if there is none."""
        path = analysis_path(self.root, symbol, hour)
        try:
            data = read_snapshot_bytes(path)
        except SnapshotNotFoundError:
            return None
        doc = decode_json(data, path)
        if not isinstance(doc, dict):
            raise SnapshotValidationError(path, "<document>", "expected a JSON object")
        return doc

    # -- a range ---------------------------------------------------------------------------
    def load_range(self, symbol: str, start: object, end: object, *, strict: bool = False,
                   use_cache: bool = False, history_hours: int | None = None) -> LoadedRange:
        """Load every hour from ``start`` to ``end`` (inclusive) in bulk.

        Minute bars come from each hour's 1m file. Hourly history comes from as few 1h files
        as possible: the newest one in the range first (normally 1000 bars, a whole month);
        an earlier one only when the history does not reach back to ``start``. Overlapping
        1h files must agree bar for bar. Each loaded hour's minute bars are checked against
        its hourly bar (the cross-file rule); 1h files are fully validated when read, the
        others only checked for presence.

        Parameters
        ----------
        symbol : str
        start, end : hour-like
            First and last hour, inclusive.
        strict : bool, default False
            Raise on the first (earliest) problem instead of collecting it in ``problems``.
        use_cache : bool, default False
            Take the minute files of each month from the columnar cache
            (:mod:`gridregime.snapshot.cache`), building or rebuilding it when absent or stale.
            The result is identical. Ignored when the reader does not validate.
        history_hours : int, optional
            Make the hourly history reach back ``history_hours - 1`` hours before ``start``
            (the full history of the first hour), not just to ``start``. Files of hours in
            the range only are read, so the history is as long as theirs allows.

        Returns
        -------
        LoadedRange

        Raises
        ------
        SnapshotNotFoundError, SnapshotValidationError
            Only with ``strict=True``.

        Notes
        -----
        Linear in the number of hours; a file that fails costs one extra pass of the
        reference validator over that file.
        """
        symbol = validate_symbol(symbol)
        start = to_utc_hour(start, name="start")
        end = to_utc_hour(end, name="end")
        if end < start:
            raise InvalidParameterError(f"end: expected >= start ({iso_z(start)}), got {iso_z(end)}")
        if history_hours is not None and (type(history_hours) is not int or history_hours < 1):
            raise InvalidParameterError(f"history_hours: expected a positive int, got {history_hours!r}")
        reach_to = to_ms(start) - (history_hours - 1 if history_hours else 0) * HOUR_MS
        problems: dict[datetime, tuple[HourProblem, Exception]] = {}

        def report(hour, kind, exc):
            if hour not in problems:
                problems[hour] = (HourProblem(hour, kind, str(exc)), exc)

        if use_cache and self.validate:
            from gridregime.snapshot.cache import ColumnarCache

            arrays, available_1h = ColumnarCache(self.root).scan(self, symbol, start, end, report)
        else:
            arrays, available_1h = self._scan(symbol, start, end, report)
        hourly, hourly_cols = self._load_history(symbol, start, end, reach_to, available_1h, report)
        if arrays is not None and self.validate and hourly_cols is not None:
            arrays = self._check_against_history(arrays, hourly_cols, symbol, report)
            arrays = self._check_history_files(arrays, hourly_cols, symbol, reach_to, end, history_hours, report)

        if strict and problems:
            first = min(problems)
            raise problems[first][1]
        if arrays is None or not len(arrays["hours"]):
            minute, hours = empty_bars(), ()
        else:
            keep = np.array([h not in problems for h in arrays["hours"]], dtype=bool)
            a = {k: v[keep] for k, v in arrays.items() if k != "hours"}
            scale = a["scale"].astype(np.float64)[:, None]
            minute = bars_table(a["ts"].ravel(), (a["open"] / scale).ravel(), (a["high"] / scale).ravel(),
                                (a["low"] / scale).ravel(), (a["close"] / scale).ravel(), a["volume"].ravel())
            hours = tuple(h for h, k in zip(arrays["hours"], keep) if k)
        return LoadedRange(symbol=symbol, start=start, end=end, minute=minute, hourly=hourly, hours=hours,
                           problems=tuple(problems[h][0] for h in sorted(problems)))

    # -- bulk internals ----------------------------------------------------------------------
    def _scan(self, symbol: str, start: datetime, end: datetime, report):
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
            has_1h = _present(base + "_1h.json")
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
            fast = _fast_split(data, symbol, hour_text, hour)
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

    def _path_1m(self, symbol, hour) -> str:
        return os.fspath(market_path(self.root, symbol, "1m", hour))

    def _explain(self, symbol, hour, report) -> bool:
        """Re-check one minute file with the reference validator; True if it is invalid."""
        path = self._path_1m(symbol, hour)
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
        segments = [orjson.dumps(a, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
                    for a in (market.ts, market.open, market.high, market.low, market.close, market.volume)]
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
        parsers = [(_parse_ints, _int_segment_ok)] * 5 + [(_parse_numbers, _number_segment_ok)]
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
                path = self._path_1m(symbol, hour)
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
        return self._select(a, ~drop)

    @staticmethod
    def _select(a, keep: np.ndarray):
        out = {k: v[keep] for k, v in a.items() if k != "hours"}
        out["hours"] = [hh for hh, k in zip(a["hours"], keep) if k]
        return out

    def _load_history(self, symbol, start, end, reach_to: int, available: list[datetime], report):
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
            path = market_path(self.root, symbol, "1h", pick)
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
        cols, origin, conflicts = _merge_hourly(files)
        for ts, field, newer, older in conflicts:
            hour = from_ms(ts)
            where = hour if start <= hour <= end else older.hour
            report(where, "invalid", SnapshotValidationError(
                older.path, field, f"bar {iso_z(hour)} disagrees with the same bar in {newer.path}"))
        return bars_table(*cols), (cols, [files[i].path for i in origin])

    def _check_history_files(self, a, hourly_cols, symbol, reach_to: int, end, history_hours, report):
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
        root = os.fspath(self.root)
        in_range = {to_ms(h) for h in a["hours"]}
        invalid: set[int] = set()
        for j in np.flatnonzero((hts >= reach_to) & (hts <= to_ms(end))):
            ts = int(hts[j])
            hour = from_ms(ts)
            path = (f"{root}/{hour.year:04d}/{hour.month:02d}/{hour.day:02d}/{hour.hour:02d}/"
                    f"{symbol}_1h.json")
            if path in merged_from or not _present(path):
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
                last = _last_hourly_bar(path)
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
            a = self._select(a, np.array([to_ms(h) not in invalid for h in a["hours"]], dtype=bool))
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
        return self._select(a, keep)

    def _check_against_history(self, a, hourly_cols, symbol, report):
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
            mismatch["volume"] = found & ~(np.abs(hvol - vol) <= VOLUME_RTOL * np.maximum(np.abs(hvol), np.abs(vol)) + 1e-12)
        else:
            mismatch = {}
        suspect = ~found
        for m in mismatch.values():
            suspect |= m
        for i in np.flatnonzero(suspect):
            hour = a["hours"][i]
            path = self._path_1m(symbol, hour)
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
        return self._select(a, keep)
