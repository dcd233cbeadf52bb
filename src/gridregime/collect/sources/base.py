"""The :class:`DataSource` protocol, bar validation shared by every source, and :func:`open_source`.

A source turns some external store of candles into :mod:`gridregime.bars` tables. Sources never
repair data: a file that is unsorted, has duplicate times or impossible prices is refused with an
error naming the file and the row, and gaps are returned as gaps.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from gridregime.bars import aggregate_hourly, bars_to_numpy, slice_time
from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.timeutil import HOUR_MS, MINUTE_MS, to_ms, to_utc

#: Timeframes every source understands, with their bar length in milliseconds.
TIMEFRAMES: dict[str, int] = {"1m": MINUTE_MS, "1h": HOUR_MS}

#: Kinds accepted by :func:`open_source`, in the order they are listed in error messages.
SOURCE_KINDS = ("parquet", "binance-csv", "freqtrade", "synthetic", "ccxt")


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
        from gridregime.bars import empty_bars

        return empty_bars()
    if len(parts) == 1:
        return parts[0][1]
    table = pa.concat_tables([t for _, t in parts])
    origin = np.concatenate([np.full(t.num_rows, k, dtype=np.int64) for k, (_, t) in enumerate(parts)])
    cols = bars_to_numpy(table)
    order = np.argsort(cols["ts"], kind="stable")
    ts = cols["ts"][order]
    same_ts = np.flatnonzero(ts[1:] == ts[:-1]) + 1
    if same_ts.size:
        values = np.column_stack([cols[k][order] for k in ("open", "high", "low", "close", "volume")])
        differ = np.any(values[same_ts] != values[same_ts - 1], axis=1)
        if np.any(differ):
            j = same_ts[np.flatnonzero(differ)[0]]
            a, b = parts[origin[order[j - 1]]][0], parts[origin[order[j]]][0]
            raise SourceDataError(
                b, f"ts {ts[j]}", f"bar differs from the bar with the same time in {a}"
            )
    keep = np.ones(ts.size, dtype=bool)
    keep[same_ts] = False
    return table.take(pa.array(order[keep]))


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


def open_source(spec: object, *, name: str = "source"):
    """Open a source from a ``KIND:PATH`` string.

    Kinds: ``ccxt:EXCHANGE`` (a live exchange, extra ``exchange``), ``parquet:DIR``
    (``SYMBOL_TF_FIRST_LAST.parquet`` files), ``binance-csv:PATH`` (a
    Binance public-data kline CSV or zip, or a directory of them), ``freqtrade:DIR``
    (``PAIR-TF.json`` / ``.feather``) and ``synthetic:SEED`` (``synthetic`` alone is seed 0).

    Raises
    ------
    InvalidParameterError
        Naming ``name`` and listing the kinds when the spec is malformed or the path is missing.
    """
    kinds = ", ".join(SOURCE_KINDS)
    usage = f"expected KIND:PATH with KIND one of {kinds} (e.g. 'parquet:data/real', 'synthetic:42')"
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidParameterError(f"{name}: {usage}, got {spec!r}")
    kind, sep, rest = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "ccxt":
        from gridregime.collect.sources.exchange import ExchangeSource

        if not sep or not rest.strip():
            raise InvalidParameterError(f"{name}: expected ccxt:EXCHANGE such as 'ccxt:binance', got {spec!r}")
        try:
            return ExchangeSource(rest.strip())
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{name}: {str(exc).partition(': ')[2]}") from None
    if kind == "synthetic":
        from gridregime.collect.sources.synthetic import SyntheticSource

        seed_text = rest.strip() if sep else "0"
        try:
            seed = int(seed_text or "0")
        except ValueError:
            raise InvalidParameterError(
                f"{name}: expected synthetic:SEED with an integer seed, got {spec!r}"
            ) from None
        if seed < 0:
            raise InvalidParameterError(f"{name}: expected a seed >= 0, got {seed}")
        return SyntheticSource(seed)
    if kind not in SOURCE_KINDS or not sep or not rest:
        raise InvalidParameterError(f"{name}: {usage}, got {spec!r}")
    path = Path(rest).expanduser()
    if not path.exists():
        raise InvalidParameterError(f"{name}: {kind} path {str(path)!r} does not exist")
    if kind == "parquet":
        from gridregime.collect.sources.parquet import ParquetDirSource

        return ParquetDirSource(path)
    if kind == "binance-csv":
        from gridregime.collect.sources.binance_csv import BinanceCsvSource

        return BinanceCsvSource(path)
    from gridregime.collect.sources.freqtrade import FreqtradeSource

    return FreqtradeSource(path)


