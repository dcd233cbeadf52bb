"""Reading snapshots: one hour (:meth:`SnapshotReader.load_snapshot`) or a range in bulk
(:meth:`SnapshotReader.load_range`), always validated unless asked otherwise.

The range loader combines three parts, each in its own module: the bulk scan of the minute
files (:mod:`~gridregime.snapshot.minute_scan`, or the columnar cache of
:mod:`~gridregime.snapshot.cache`), the hourly history and its cross-file checks
(:mod:`~gridregime.snapshot.history`), and the hour index of the store
(:mod:`~gridregime.snapshot.hour_index`). Decoding lives in :mod:`~gridregime.snapshot.decode`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from gridregime.bars import bars_table, empty_bars
from gridregime.errors import InvalidParameterError
from gridregime.snapshot.cache import ColumnarCache
from gridregime.snapshot.decode import read_document
from gridregime.snapshot.errors import SnapshotNotFoundError, SnapshotValidationError
from gridregime.snapshot.history import check_against_history, check_history_files, load_history, series_history
from gridregime.snapshot.hour_index import hour_dirs, list_names, store_span, store_symbols
from gridregime.snapshot.minute_scan import MinuteScan
from gridregime.snapshot.paths import analysis_path, market_path
from gridregime.snapshot.validate import check_cross_file, read_market_file
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR_MS, hour_bounds, iso_z, to_ms, to_utc_hour


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
    def span(self) -> tuple[datetime, datetime] | None:
        """First and last hour directory of the store (``None`` when it holds none)."""
        return store_span(self.root)

    def symbols(self) -> list[str]:
        """Symbols with at least one market file, sorted."""
        return store_symbols(self.root)

    def hours(self, symbol: str, start: object = None, end: object = None) -> list[datetime]:
        """Hours (between ``start`` and ``end``, inclusive) that hold both market files of ``symbol``."""
        symbol = validate_symbol(symbol)
        start = to_utc_hour(start, name="start") if start is not None else None
        end = to_utc_hour(end, name="end") if end is not None else None
        want = {f"{symbol}_1m.json", f"{symbol}_1h.json"}
        return [hour for hour, directory in hour_dirs(self.root, start, end) if want <= set(list_names(directory))]

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
            doc = read_document(path)
        except SnapshotNotFoundError:
            return None
        if not isinstance(doc, dict):
            raise SnapshotValidationError(path, "<document>", "expected a JSON object")
        return doc

    # -- a range ---------------------------------------------------------------------------
    def load_range(self, symbol: str, start: object, end: object, *, strict: bool = False,
                   use_cache: bool = False, history_hours: int | None = None,
                   series_start: object = None) -> LoadedRange:
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
        series_start : hour-like, optional
            With ``history_hours``: the first hour of a longer run this range is a chunk of.
            The hourly history then starts where the whole run's would, ``history_hours - 1``
            hours before ``series_start`` (earlier bars are cut, missing ones read from the 1h
            files of hours ``series_start, series_start + history_hours, ...``), so features,
            which depend in their last bits on where the series starts, equal the whole run's.

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
        start, end = hour_bounds(start, end)
        if history_hours is not None and (type(history_hours) is not int or history_hours < 1):
            raise InvalidParameterError(f"history_hours: expected a positive int, got {history_hours!r}")
        if series_start is not None:
            if history_hours is None:
                raise InvalidParameterError("series_start: needs history_hours")
            series_start = to_utc_hour(series_start, name="series_start")
            if series_start > start:
                raise InvalidParameterError(f"series_start: expected <= start ({iso_z(start)}), "
                                            f"got {iso_z(series_start)}")
        reach_to = to_ms(start) - (history_hours - 1 if history_hours else 0) * HOUR_MS
        problems: dict[datetime, tuple[HourProblem, Exception]] = {}

        def report(hour, kind, exc):
            if hour not in problems:
                problems[hour] = (HourProblem(hour, kind, str(exc)), exc)

        minutes = MinuteScan(self.root, self.validate)
        if use_cache and self.validate:
            arrays, available_1h = ColumnarCache(self.root).scan(minutes, symbol, start, end, report)
        else:
            arrays, available_1h = minutes.scan(symbol, start, end, report)
        hourly, hourly_cols = load_history(self.root, symbol, start, end, reach_to, available_1h, report)
        if arrays is not None and self.validate and hourly_cols is not None:
            arrays = check_against_history(self.root, arrays, hourly_cols, symbol, report)
            arrays = check_history_files(self.root, arrays, hourly_cols, symbol, reach_to, end, history_hours, report)
        if series_start is not None:
            def whole_run_history():
                return self.load_range(symbol, series_start, end, use_cache=use_cache,
                                       history_hours=history_hours).hourly

            hourly = series_history(self.root, symbol, hourly, start, series_start, history_hours,
                                    whole_run_history)

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
