"""The one in-memory shape of OHLCV bars: an Arrow table with a fixed schema.

Sources return it, the snapshot store writes it, the reader returns it and the kernels get
their float64 columns from it through :func:`bars_to_numpy` (the single Arrow → NumPy hop).

Columns: ``ts`` (bar open time, ``timestamp[ms, UTC]``), ``open``, ``high``, ``low``,
``close`` (float64, quote currency), ``volume`` (float64, base asset).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from gridregime.errors import InvalidParameterError
from gridregime.timeutil import HOUR_MS

BAR_COLUMNS = ("ts", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close")
TS_TYPE = pa.timestamp("ms", tz="UTC")
BARS_SCHEMA = pa.schema(
    [("ts", TS_TYPE)] + [(c, pa.float64()) for c in BAR_COLUMNS[1:]]
)


@dataclass(frozen=True, eq=False)
class OhlcvColumns:
    """The six bar columns as NumPy arrays, one value per bar: ``ts`` int64 epoch ms, then
    open, high, low, close and volume (whatever dtype the holder documents: the snapshot
    reader keeps prices as scaled int64, the engine as float64)."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def _from_numpy(arr: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A null-free Arrow array over a 1-D numeric array (zero-copy when contiguous).

    Built from its buffer rather than with ``pa.array``: converting NumPy input through
    ``pa.array`` (and ``to_numpy`` / ``pyarrow.compute`` with Python scalars) makes pyarrow
    import pandas, a third of a second per process that only needs NumPy.
    """
    if arr.ndim != 1:
        return pa.array(arr, type=type_)  # raises as pyarrow does for any other shape
    arr = np.ascontiguousarray(arr)
    return pa.Array.from_buffers(type_, arr.size, [None, pa.py_buffer(arr)])


def _to_numpy(col: pa.ChunkedArray, dtype: type) -> np.ndarray | None:
    """The values of a null-free 8-byte column (int64, float64, timestamp) as NumPy (read-only view of a single
    chunk, as ``to_numpy`` gives); None when it has nulls (the caller converts it otherwise)."""
    if col.null_count:
        return None
    if col.num_chunks == 1:
        ch = col.chunk(0)
        out = np.frombuffer(ch.buffers()[1], dtype=dtype, count=len(ch), offset=ch.offset * 8) if len(ch) else \
            np.zeros(0, dtype=dtype)
        out.flags.writeable = False  # a view of the table's memory (as to_numpy gives), not to write through
        return out
    parts = [np.frombuffer(ch.buffers()[1], dtype=dtype, count=len(ch), offset=ch.offset * 8)
             for ch in col.chunks if len(ch)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def bars_table(ts_ms, open, high, low, close, volume) -> pa.Table:  # noqa: A002 - OHLC names
    """Build a bars table from epoch-millisecond times and five numeric columns."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    cols = [_from_numpy(ts, TS_TYPE)]
    for name, values in zip(BAR_COLUMNS[1:], (open, high, low, close, volume)):
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != ts.shape:
            raise InvalidParameterError(f"{name}: expected {ts.shape[0]} values like ts, got {arr.shape}")
        cols.append(_from_numpy(arr, pa.float64()))
    return pa.Table.from_arrays(cols, schema=BARS_SCHEMA)


def empty_bars() -> pa.Table:
    return BARS_SCHEMA.empty_table()


def normalize_bars(table: pa.Table, *, name: str = "bars") -> pa.Table:
    """Return ``table`` with exactly :data:`BARS_SCHEMA` (column order, types).

    ``ts`` may be int64 epoch milliseconds or any Arrow timestamp; numeric columns are cast to
    float64. Missing columns are an error naming them.
    """
    missing = [c for c in BAR_COLUMNS if c not in table.column_names]
    if missing:
        raise InvalidParameterError(f"{name}: missing column(s) {missing}; expected {list(BAR_COLUMNS)}")
    ts = table.column("ts")
    if pa.types.is_timestamp(ts.type):
        ts = ts.cast(pa.timestamp(ts.type.unit, tz="UTC")).cast(TS_TYPE)
    elif pa.types.is_integer(ts.type):
        ts = ts.cast(pa.int64()).cast(TS_TYPE)
    else:
        raise InvalidParameterError(f"{name}.ts: expected epoch milliseconds or timestamps, got {ts.type}")
    cols = [ts] + [table.column(c).cast(pa.float64()) for c in BAR_COLUMNS[1:]]
    return pa.Table.from_arrays(cols, schema=BARS_SCHEMA)


def ts_ms(table: pa.Table) -> np.ndarray:
    """Bar open times as int64 epoch milliseconds (zero-copy when possible)."""
    col = table.column("ts")
    if pa.types.is_timestamp(col.type) or col.type == pa.int64():
        out = _to_numpy(col, np.int64)  # a timestamp's values are its int64 storage
        if out is not None:
            return out
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.int64())
    return np.ascontiguousarray(col.to_numpy(), dtype=np.int64)


def bars_to_numpy(table: pa.Table) -> dict[str, np.ndarray]:
    """Contiguous columns for the kernels: ``ts`` int64 ms, the rest float64."""
    out = {"ts": ts_ms(table)}
    for c in BAR_COLUMNS[1:]:
        col = table.column(c)
        arr = _to_numpy(col, np.float64) if col.type == pa.float64() else None
        out[c] = arr if arr is not None else np.ascontiguousarray(col.to_numpy(), dtype=np.float64)
    return out


def aggregate_hourly(table: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """Aggregate bars (e.g. 1m) into hourly bars.

    Returns the hourly table (first open, max high, min low, last close, summed volume per
    clock hour) and the number of source bars in each hour. Input must be sorted by ``ts``.
    Hours with no source bar are absent: gaps stay gaps.
    """
    cols = bars_to_numpy(table)
    ts = cols["ts"]
    if ts.size == 0:
        return empty_bars(), np.zeros(0, dtype=np.int64)
    if np.any(np.diff(ts) <= 0):
        raise InvalidParameterError("bars.ts: expected strictly increasing times before aggregating")
    hour = ts // HOUR_MS
    starts = np.flatnonzero(np.r_[True, hour[1:] != hour[:-1]])
    ends = np.r_[starts[1:], ts.size] - 1
    hourly = bars_table(
        hour[starts] * HOUR_MS,
        cols["open"][starts],
        np.maximum.reduceat(cols["high"], starts),
        np.minimum.reduceat(cols["low"], starts),
        cols["close"][ends],
        np.add.reduceat(cols["volume"], starts),
    )
    return hourly, (ends - starts + 1).astype(np.int64)


def time_order(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How to merge bars from several sources by time: the one de-duplication rule.

    Returns ``(order, repeats, kept)``. ``ts[order]`` is sorted, equal times keeping their
    input order (so the source listed first wins); ``repeats`` holds the positions, in that
    order, of the rows whose time equals the row before; ``kept[j]`` is the position of the
    first row of the run ``repeats[j]`` belongs to (the row a merge keeps). Callers decide
    what a repeat that disagrees with its kept row means. O(n log n).
    """
    order = np.argsort(ts, kind="stable")
    ordered = ts[order]
    repeats = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    firsts = np.ones(ordered.size, dtype=bool)
    firsts[repeats] = False
    first_at = np.flatnonzero(firsts)
    kept = first_at[np.searchsorted(first_at, repeats, side="right") - 1]
    return order, repeats, kept


def first_of_each_time(order: np.ndarray, repeats: np.ndarray) -> np.ndarray:
    """The rows a merge keeps, from :func:`time_order`'s ``order`` and ``repeats``."""
    keep = np.ones(order.size, dtype=bool)
    keep[repeats] = False
    return order[keep]


def merge_bars(tables: list[pa.Table]) -> pa.Table:
    """Concatenate bars tables, sort by time and keep the first row of each time (no check that
    repeated rows agree: the caller has checked that, or the first table is the authority)."""
    table = pa.concat_tables(tables)
    order, repeats, _ = time_order(ts_ms(table))
    return table.take(pa.array(first_of_each_time(order, repeats)))


def slice_time(table: pa.Table, start_ms: int | None = None, end_ms: int | None = None) -> pa.Table:
    """Rows with ``start_ms <= ts < end_ms`` (either bound may be None)."""
    col = table.column("ts")
    ts_np = _to_numpy(col, np.int64) if (pa.types.is_timestamp(col.type) or col.type == pa.int64()) else None
    if ts_np is not None:  # NumPy mask: no pyarrow.compute call with Python scalars
        keep = np.ones(ts_np.size, dtype=bool)
        if start_ms is not None:
            keep &= ts_np >= start_ms
        if end_ms is not None:
            keep &= ts_np < end_ms
        rows = np.flatnonzero(keep)
        if rows.size == ts_np.size:
            return table
        if rows.size == 0 or rows[-1] - rows[0] + 1 == rows.size:  # one run (sorted times): zero-copy
            return table.slice(int(rows[0]) if rows.size else 0, int(rows.size))
        return table.take(_from_numpy(rows.astype(np.int64), pa.int64()))
    import pyarrow.compute as pc  # only here: importing it costs tens of ms per process

    ts = col.cast(pa.int64())
    mask = None
    if start_ms is not None:
        mask = pc.greater_equal(ts, start_ms)
    if end_ms is not None:
        m = pc.less(ts, end_ms)
        mask = m if mask is None else pc.and_(mask, m)
    return table if mask is None else table.filter(mask)
