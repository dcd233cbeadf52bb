"""Historical import: build regime-ready snapshots for every complete hour of a range.

The source is read once for the whole range (plus the history window before it). Each hour with
all 60 minutes becomes a snapshot: its 1m file, and a 1h file holding the hourly history of the
``history_hours`` hours ending with it. Hourly bars are aggregated from the minutes (an hour with
at least one minute is a bar, as exchanges do; an hour with none is a gap, never filled); before
the first minute the history can be seeded from a second source's 1h bars.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from gridregime.bars import aggregate_hourly, slice_time, ts_ms
from gridregime.collect.sources.common import DataSource, SourceDataError
from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, HOUR_MS, MINUTE_MS, from_ms, iso_z, to_ms, to_utc_hour


class SkippedHour(NamedTuple):
    """An hour of the range not written because minutes are missing (a small immutable record)."""

    hour: datetime
    missing_minutes: int


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_snapshots` did.

    Attributes
    ----------
    written, unchanged : tuple of datetime
        Hours whose files were written, or already held exactly these bytes.
    skipped : tuple of SkippedHour
        Hours of ``[start, end)`` left out, with the number of missing minutes (60 = no data).
    gaps : tuple of datetime
        Hours with no hourly bar inside the hourly series the snapshots were built from
        (between its first and last bar); they stay gaps in the 1h files.
    price_scale : int
        The price scale every file of the import uses.
    elapsed : float
        Wall-clock seconds.
    updated_later : tuple of str
        With ``overwrite``: 1h files of later hours (outside the written ones) whose copy of an
        overwritten hour's bar was replaced, so no history keeps the old bar.
    """

    symbol: str
    start: datetime
    end: datetime
    source: str
    written: tuple[datetime, ...] = ()
    unchanged: tuple[datetime, ...] = ()
    skipped: tuple[SkippedHour, ...] = ()
    gaps: tuple[datetime, ...] = ()
    price_scale: int = 100
    elapsed: float = 0.0
    history_hours: int = field(default=1000)
    updated_later: tuple[str, ...] = ()

    @property
    def hours(self) -> int:
        """Hours in ``[start, end)``."""
        return int((self.end - self.start) / HOUR)

    def to_dict(self) -> dict:
        """Plain JSON-ready form (times as ``YYYY-MM-DDTHH:MM:SSZ`` strings)."""
        return {
            "symbol": self.symbol, "start": iso_z(self.start), "end": iso_z(self.end), "source": self.source,
            "written": [iso_z(h) for h in self.written], "unchanged": [iso_z(h) for h in self.unchanged],
            "skipped": [{"hour": iso_z(s.hour), "missing_minutes": s.missing_minutes} for s in self.skipped],
            "gaps": [iso_z(g) for g in self.gaps], "price_scale": self.price_scale,
            "history_hours": self.history_hours, "elapsed": self.elapsed,
            "updated_later": list(self.updated_later),
        }

    def summary(self) -> str:
        """A few lines of text for people: counts, then each skipped hour and the gaps."""
        lines = [
            f"{self.symbol} {iso_z(self.start)} -> {iso_z(self.end)} ({self.hours} h) from {self.source}: "
            f"{len(self.written)} written, {len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
            f"price_scale {self.price_scale}; {self.elapsed:.2f} s"
        ]
        if self.skipped:
            lines.append("skipped (incomplete hours): " + ", ".join(
                f"{iso_z(s.hour)} ({s.missing_minutes} min missing)" for s in self.skipped[:20]
            ) + (f", ... {len(self.skipped) - 20} more" if len(self.skipped) > 20 else ""))
        if self.updated_later:
            lines.append(f"later 1h files updated with the overwritten bars: {len(self.updated_later)} ("
                         + ", ".join(self.updated_later[:5]) + (", ..." if len(self.updated_later) > 5 else "") + ")")
        if self.gaps:
            lines.append(f"hourly gaps in history: {len(self.gaps)} h (" + ", ".join(
                iso_z(g) for g in self.gaps[:10]) + (", ..." if len(self.gaps) > 10 else "") + ")")
        return "\n".join(lines)


def _check_source(source: object, name: str) -> DataSource:
    if not hasattr(source, "fetch_ohlcv"):
        raise InvalidParameterError(f"{name}: expected a DataSource with fetch_ohlcv(), got {type(source).__name__}")
    return source  # type: ignore[return-value]


def build_hourly_series(minutes: pa.Table, history: pa.Table | None) -> pa.Table:
    """Hourly bars aggregated from ``minutes``, preceded by ``history`` bars before them.

    ``history`` fills the hours before the first minute's hour, and that hour too when the
    minutes hold only part of it (a file that starts mid-hour) and ``history`` has the full bar.
    """
    hourly, counts = aggregate_hourly(minutes)
    if history is None or history.num_rows == 0:
        return hourly
    if hourly.num_rows == 0:
        return history
    first_hour = int(ts_ms(hourly)[0])
    cut = first_hour
    hist_ts = ts_ms(history)
    if counts[0] < 60 and np.any(hist_ts == first_hour):
        cut = first_hour + HOUR_MS
        hourly = hourly.slice(1)
    return pa.concat_tables([slice_time(history, None, cut), hourly])


def _gap_hours(hourly_ts: np.ndarray) -> tuple[datetime, ...]:
    if hourly_ts.size < 2:
        return ()
    full = np.arange(hourly_ts[0], hourly_ts[-1] + HOUR_MS, HOUR_MS, dtype=np.int64)
    missing = np.setdiff1d(full, hourly_ts, assume_unique=True)
    return tuple(from_ms(int(t)) for t in missing)


def import_snapshots(
    source: DataSource,
    symbol: str,
    start: object,
    end: object,
    storage,
    *,
    history_source: DataSource | None = None,
    history_hours: int | None = None,
    progress: bool = False,
    price_scale: int | None = None,
    overwrite: bool = False,
) -> ImportReport:
    """Write snapshots for every complete hour in ``[start, end)``.

    Parameters
    ----------
    source : DataSource
        Gives the 1m bars (read once, from ``start - history_hours`` to ``end``).
    symbol : str
        ``BASE-QUOTE``.
    start, end : time on the hour
        Half-open range of snapshot hours (ISO-8601 string, epoch ms or datetime).
    storage : SnapshotStorage
        Where the files go; hours already stored with identical content count as unchanged.
    history_source : DataSource, optional
        Its 1h bars seed the hourly history before the first minute of ``source``.
    history_hours : int, optional
        Hours of history in each 1h file (a time window ending with the hour; gaps make fewer
        bars). Default: ``storage.history_hours``.
    progress : bool
        Show a tqdm progress bar on stderr.
    price_scale : int, optional
        Force a price scale; by default the storage's scale for the symbol, else inferred once
        from all the bars of the import so storage is lossless.
    overwrite : bool
        Replace existing files whose content differs (raw files are otherwise immutable and a
        difference raises :class:`~gridregime.snapshot.SnapshotConflictError`).

    Returns
    -------
    ImportReport
    """
    t0 = time.perf_counter()
    symbol = validate_symbol(symbol)
    start_h = to_utc_hour(start, name="start")
    end_h = to_utc_hour(end, name="end")
    if end_h <= start_h:
        raise InvalidParameterError(f"end: expected an hour after start {iso_z(start_h)}, got {iso_z(end_h)}")
    source = _check_source(source, "source")
    if history_source is not None:
        history_source = _check_source(history_source, "history_source")
    if history_hours is None:
        history_hours = int(getattr(storage, "history_hours", 1000))
    if not isinstance(history_hours, int) or isinstance(history_hours, bool) or history_hours < 1:
        raise InvalidParameterError(f"history_hours: expected a positive int, got {history_hours!r}")

    load_start = start_h - timedelta(hours=history_hours - 1)
    minutes = source.fetch_ohlcv(symbol, "1m", load_start, end_h)
    bad = np.flatnonzero(ts_ms(minutes) % MINUTE_MS)
    if bad.size:
        raise SourceDataError(getattr(source, "name", "source"), f"ts {int(ts_ms(minutes)[bad[0]])}",
                              "1m bar not on a minute boundary")
    history = None
    if history_source is not None:
        first_minute = ts_ms(minutes)[0] if minutes.num_rows else to_ms(end_h)
        seed_end = min(int(first_minute) // HOUR_MS * HOUR_MS + HOUR_MS, to_ms(end_h))
        if seed_end > to_ms(load_start):
            history = history_source.fetch_ohlcv(symbol, "1h", load_start, from_ms(seed_end))
    hourly = build_hourly_series(minutes, history)
    hourly_ts = ts_ms(hourly)
    minute_ts = ts_ms(minutes)

    if price_scale is None and symbol not in getattr(storage, "price_scales", {}):
        from gridregime.snapshot import infer_price_scale

        in_range = slice_time(minutes, to_ms(start_h), to_ms(end_h))
        tables = [t for t in (in_range, hourly) if t.num_rows]
        price_scale = infer_price_scale(pa.concat_tables(tables)) if tables else 100
    elif price_scale is None:
        price_scale = storage.price_scales[symbol]

    hours = [start_h + i * HOUR for i in range(int((end_h - start_h) / HOUR))]
    hour_ms = np.array([to_ms(h) for h in hours], dtype=np.int64)
    m_lo = np.searchsorted(minute_ts, hour_ms, side="left")
    m_hi = np.searchsorted(minute_ts, hour_ms + HOUR_MS, side="left")
    h_lo = np.searchsorted(hourly_ts, hour_ms - (history_hours - 1) * HOUR_MS, side="left")
    h_hi = np.searchsorted(hourly_ts, hour_ms, side="right")
    source_name = getattr(source, "name", type(source).__name__)

    written: list[datetime] = []
    updated: dict[str, None] = {}
    unchanged: list[datetime] = []
    skipped: list[SkippedHour] = []
    from tqdm import tqdm

    bar = tqdm(total=len(hours), desc=f"import {symbol}", unit="h", disable=not progress, file=sys.stderr, leave=False)
    try:
        for i, hour in enumerate(hours):
            n = int(m_hi[i] - m_lo[i])
            if n < 60:
                skipped.append(SkippedHour(hour, 60 - n))
                bar.update(1)
                continue
            result = storage.write_hour(
                symbol,
                hour,
                minutes.slice(int(m_lo[i]), n),
                hourly.slice(int(h_lo[i]), int(h_hi[i] - h_lo[i])),
                source=source_name,
                price_scale=price_scale,
                collected_at=hour + HOUR,
                overwrite=overwrite,
            )
            (written if result.status == "written" else unchanged).append(hour)
            updated.update(dict.fromkeys(str(p) for p in result.updated))
            for p in result.paths:
                updated.pop(str(p), None)
            bar.update(1)
    finally:
        bar.close()

    window = slice_time(hourly, to_ms(load_start), to_ms(end_h))
    return ImportReport(
        symbol=symbol,
        start=start_h,
        end=end_h,
        source=source_name,
        written=tuple(written),
        unchanged=tuple(unchanged),
        skipped=tuple(skipped),
        gaps=_gap_hours(ts_ms(window)),
        price_scale=int(price_scale),
        elapsed=time.perf_counter() - t0,
        history_hours=history_hours,
        updated_later=tuple(updated),
    )
