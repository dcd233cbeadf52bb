"""What every data source shares: the :class:`DataSource` protocol, the timeframes, bar
validation, merging bars from several files and serving a timeframe from finer bars.

A source turns some external store of candles into :mod:`gridregime.bars` tables. Sources never
repair data: a file that is unsorted, has duplicate times or impossible prices is refused with an
error naming the file and the row, and gaps are returned as gaps.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from gridregime.bars import (
    aggregate_hourly,
    bars_to_numpy,
    empty_bars,
    first_of_each_time,
    normalize_bars,
    slice_time,
    time_order,
)
from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR_MS, MINUTE_MS, to_ms, to_utc

#: Timeframes every source understands, with their bar length in milliseconds.
TIMEFRAMES: dict[str, int] = {"1m": MINUTE_MS, "1h": HOUR_MS}


class SourceDataError(GridRegimeError):
    """A source file holds bad data. ``str()`` is ``"<file>: <where>: <reason>"``."""

    def __init__(self, path: object, where: str | None, reason: str) -> None:
        self.path = str(path)
        self.where = where
        self.reason = reason
        location = f"{self.path}: {where}" if where else self.path
        super().__init__(f"{location}: {reason}")


@runtime_checkable
class DataSource(Protocol):
    """Anything that returns OHLCV bars for a symbol, timeframe and half-open time range."""

    #: Short provenance label stored in each snapshot's ``source`` field.
    name: str

    def fetch_ohlcv(self, symbol: str, timeframe: str, start: object, end: object) -> pa.Table:
        """Bars with ``start <= ts < end`` as a :data:`gridregime.bars.BARS_SCHEMA` table."""
        ...


def check_timeframe(timeframe: object, *, name: str = "timeframe") -> str:
    if timeframe not in TIMEFRAMES:
        raise InvalidParameterError(f"{name}: expected one of {sorted(TIMEFRAMES)}, got {timeframe!r}")
    return timeframe  # type: ignore[return-value]


def check_time_range(start: object, end: object) -> tuple[int, int]:
    """Epoch-ms bounds of ``[start, end)``; ``end`` must be after ``start``."""
    start_ms = to_ms(to_utc(start, name="start"))
    end_ms = to_ms(to_utc(end, name="end"))
    if end_ms <= start_ms:
        raise InvalidParameterError(
            f"end: expected a time after start ({to_utc(start).isoformat()}), got {to_utc(end).isoformat()}"
        )
    return start_ms, end_ms


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def validate_bars(
    table: pa.Table,
    *,
    path: object,
    timeframe: str | None = None,
    row_label: str = "row",
    row_offset: int = 0,
) -> None:
    """Refuse bars that are unsorted, duplicated, misaligned, non-finite or not OHLC-consistent.

    Parameters
    ----------
    table : pyarrow.Table
        Bars in :data:`~gridregime.bars.BARS_SCHEMA`, in file order.
    path : path-like
        The file the bars came from, named in the error.
    timeframe : str, optional
        When given, every ``ts`` must be a multiple of the bar length.
    row_label, row_offset : str, int
        How rows are named in errors: ``f"{row_label} {index + row_offset}"`` (e.g. ``line``
        with the offset of the first data line for CSV files, ``row`` from 0 otherwise).

    Raises
    ------
    SourceDataError
        At the first bad row, naming the file, the row and the rule broken.
    """
    cols = bars_to_numpy(table)
    ts = cols["ts"]
    o, h, l, c, v = (cols[k] for k in ("open", "high", "low", "close", "volume"))

    def fail(i: int, reason: str) -> None:
        raise SourceDataError(path, f"{row_label} {i + row_offset}", reason)

    for name, arr in (("open", o), ("high", h), ("low", l), ("close", c), ("volume", v)):
        i = _first(~np.isfinite(arr))
        if i is not None:
            fail(i, f"{name} is {float(arr[i])!r}; expected a finite number")
    for name, arr in (("open", o), ("high", h), ("low", l), ("close", c)):
        i = _first(arr <= 0)
        if i is not None:
            fail(i, f"{name} is {arr[i]!r}; expected a price > 0")
    i = _first(v < 0)
    if i is not None:
        fail(i, f"volume is {v[i]!r}; expected >= 0")
    i = _first(h < np.maximum(o, c))
    if i is not None:
        fail(i, f"high {h[i]!r} is below max(open, close) = {max(o[i], c[i])!r}")
    i = _first(l > np.minimum(o, c))
    if i is not None:
        fail(i, f"low {l[i]!r} is above min(open, close) = {min(o[i], c[i])!r}")
    if timeframe is not None:
        step = TIMEFRAMES[timeframe]
        i = _first(ts % step != 0)
        if i is not None:
            fail(i, f"ts {ts[i]} is not on a {timeframe} boundary")
    if ts.size > 1:
        d = np.diff(ts)
        i = _first(d == 0)
        if i is not None:
            fail(i + 1, f"duplicate ts {ts[i + 1]} (same as the previous row)")
        i = _first(d < 0)
        if i is not None:
            fail(i + 1, f"ts {ts[i + 1]} is before the previous row's {ts[i]}; expected rows sorted by time")


def concat_dedup(parts: list[tuple[object, pa.Table]]) -> pa.Table:
    """Concatenate validated tables from several files, sort by time and drop identical repeats.

    Two files giving *different* bars for the same time is an error naming both files.
    """
    if not parts:
        return empty_bars()
    if len(parts) == 1:
        return parts[0][1]
    table = pa.concat_tables([t for _, t in parts])
    origin = np.concatenate([np.full(t.num_rows, k, dtype=np.int64) for k, (_, t) in enumerate(parts)])
    cols = bars_to_numpy(table)
    order, same_ts, _ = time_order(cols["ts"])
    ts = cols["ts"][order]
    if same_ts.size:
        values = np.column_stack([cols[k][order] for k in ("open", "high", "low", "close", "volume")])
        differ = np.any(values[same_ts] != values[same_ts - 1], axis=1)
        if np.any(differ):
            j = same_ts[np.flatnonzero(differ)[0]]
            a, b = parts[origin[order[j - 1]]][0], parts[origin[order[j]]][0]
            raise SourceDataError(
                b, f"ts {ts[j]}", f"bar differs from the bar with the same time in {a}"
            )
    return table.take(pa.array(first_of_each_time(order, same_ts)))


def bars_for_timeframe(minute_or_hour: pa.Table, native: str, timeframe: str, start_ms: int, end_ms: int) -> pa.Table:
    """Serve ``timeframe`` from bars stored at ``native`` resolution (1m can make 1h, not the reverse).

    An hour with at least one minute becomes an hourly bar, as exchanges do; an hour with none is
    a gap.
    """
    if native == timeframe:
        return slice_time(minute_or_hour, start_ms, end_ms)
    if native == "1m" and timeframe == "1h":
        lo = (start_ms // HOUR_MS) * HOUR_MS
        hourly, _ = aggregate_hourly(slice_time(minute_or_hour, lo, end_ms))
        return slice_time(hourly, start_ms, end_ms)
    raise InvalidParameterError(f"timeframe: cannot make {timeframe} bars from {native} data")


class FileSource:
    """What the file-backed sources share: a name, a ``repr`` naming where they read, and the
    tables already read, kept while a file's size and modification time stay the same."""

    def __init__(self, location: Path, name: str, read_file: Callable[..., pa.Table]) -> None:
        self._location = location
        self.name = name
        self._read_file = read_file  # (path, *, timeframe) -> validated bars
        self._tables: dict[tuple[str, int, int], pa.Table] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._location)!r})"

    def fetch_ohlcv(self, symbol: str, timeframe: str, start: object, end: object) -> pa.Table:
        """Bars with ``start <= ts < end`` from the files :meth:`_choose_files` picks, sorted and
        de-duplicated (two files disagreeing on a bar is an error naming both)."""
        symbol = validate_symbol(symbol)
        timeframe = check_timeframe(timeframe)
        start_ms, end_ms = check_time_range(start, end)
        native, paths = self._choose_files(symbol, timeframe, start_ms, end_ms)
        parts = [(p, self._read(p, native)) for p in paths]
        return bars_for_timeframe(concat_dedup(parts), native, timeframe, start_ms, end_ms)

    def _choose_files(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> tuple[str, list[Path]]:
        """The timeframe the files hold (``timeframe`` or ``1m``) and the files to read."""
        raise NotImplementedError

    def _read(self, path: Path, timeframe: str) -> pa.Table:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._read_file(path, timeframe=timeframe)
        return table


def normalize_file_bars(raw: pa.Table, path: object, *, column_names: dict[str, str] | None = None) -> pa.Table:
    """``raw`` (read from ``path``) in :data:`~gridregime.bars.BARS_SCHEMA`; a column of the wrong
    type or a null value is a :class:`SourceDataError` naming the file (and the row).
    ``column_names`` maps a bars column to the file's own name of it, for the messages."""
    try:
        table = normalize_bars(raw, name=str(path))
    except GridRegimeError as exc:
        raise SourceDataError(path, None, str(exc).split(": ", 1)[-1]) from None
    for name in table.column_names:
        col = table.column(name)
        if col.null_count:
            row = next(i for i, v in enumerate(col.is_null().to_pylist()) if v)
            raise SourceDataError(path, f"row {row}", f"{(column_names or {}).get(name, name)} is null")
    return table
