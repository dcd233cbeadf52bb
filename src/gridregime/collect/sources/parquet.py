"""Directory of Parquet candle files named ``SYMBOL_TF_FIRST_LAST.parquet``.

The layout of the project's real-data directory: columns ``ts`` (int64 epoch ms of the bar open,
or an Arrow timestamp), ``open``, ``high``, ``low``, ``close``, ``volume``; ``FIRST`` and ``LAST``
are the UTC dates of the first and last bar. Several files per symbol and timeframe may exist: the
ones overlapping a request are read, concatenated and de-duplicated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from gridregime.bars import BAR_COLUMNS
from gridregime.collect.sources.common import FileSource, SourceDataError, normalize_file_bars, validate_bars
from gridregime.errors import InvalidParameterError
from gridregime.timeutil import to_ms

_NAME_RE = re.compile(
    r"^(?P<symbol>[A-Z0-9]{1,20}-[A-Z0-9]{1,20})_(?P<tf>\w+?)_(?P<first>\d{4}-\d{2}-\d{2})_(?P<last>\d{4}-\d{2}-\d{2})\.parquet$"
)


@dataclass(frozen=True)
class ParquetFile:
    """One candle file and the UTC dates it says it covers (both inclusive)."""

    path: Path
    symbol: str
    timeframe: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        """Exclusive end: midnight after the last bar's date."""
        return datetime(self.last.year, self.last.month, self.last.day, tzinfo=timezone.utc) + timedelta(days=1)


class ParquetDirSource(FileSource):
    """Bars from a directory of ``SYMBOL_TF_FIRST_LAST.parquet`` files (a :class:`DataSource`).

    ``1h`` requests are served from the ``1h`` files overlapping the request when there are
    any, else aggregated from the overlapping ``1m`` files (an hour with at least one minute
    becomes a bar). ``directory`` may also be one such file: the source then serves that file only.
    """

    def __init__(self, directory: str | Path) -> None:
        path = Path(directory)
        self._only: Path | None = None
        if path.is_file():
            if not _NAME_RE.match(path.name):
                raise InvalidParameterError(
                    f"directory: {str(path)!r} is a file whose name is not SYMBOL_TF_FIRST_LAST.parquet "
                    f"(e.g. ETH-USDT_1m_2025-05-20_2025-08-18.parquet)")
            self._only, path = path, path.parent
        elif not path.is_dir():
            raise InvalidParameterError(
                f"directory: expected a directory of Parquet files or one such file, got {str(path)!r}"
            )
        self.directory = path
        super().__init__(self._only or self.directory, f"parquet:{(self._only or self.directory).name}",
                         read_bars_parquet)

    def files(self, symbol: str | None = None, timeframe: str | None = None) -> list[ParquetFile]:
        """Candle files in the directory, optionally for one symbol and timeframe, sorted by start."""
        out = []
        for path in ([self._only] if self._only is not None else self.directory.glob("*.parquet")):
            m = _NAME_RE.match(path.name)
            if not m:
                continue
            if symbol is not None and m["symbol"] != symbol:
                continue
            if timeframe is not None and m["tf"] != timeframe:
                continue
            try:
                first, last = date.fromisoformat(m["first"]), date.fromisoformat(m["last"])
            except ValueError:
                continue
            out.append(ParquetFile(path, m["symbol"], m["tf"], first, last))
        return sorted(out, key=lambda f: (f.first, f.last, f.path.name))

    def _choose_files(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> tuple[str, list[Path]]:
        """Every file overlapping the request."""
        natives = (timeframe, "1m") if timeframe == "1h" else (timeframe,)
        found = {tf: self.files(symbol, tf) for tf in natives}
        if not any(found.values()):
            raise InvalidParameterError(
                f"symbol: no {symbol}_{timeframe}_FIRST_LAST.parquet file in {str(self.directory)!r}"
            )
        # 1h files win where they overlap the request; otherwise 1h bars are made from 1m files.
        native, chosen = timeframe, []
        for tf in natives:
            chosen = [f for f in found[tf] if to_ms(f.start) < end_ms and to_ms(f.end) > start_ms]
            if chosen:
                native = tf
                break
        return native, [f.path for f in chosen]


class SourceNote(UserWarning):
    """Something a source decided about its input that the user should hear (not an error)."""


#: Epoch milliseconds of a bar lie below 1e14 (year 5138); microseconds and nanoseconds above.
_US_FROM, _NS_FROM = 10**14, 10**17


def _check_numeric(col: pa.ChunkedArray, name: str, path) -> None:
    """A price or volume column must be numeric (decimal included): else name the first bad row."""
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_null(t):
        return
    for row, value in enumerate(col.to_pylist()):
        try:
            float(value)
        except (TypeError, ValueError):
            raise SourceDataError(path, f"row {row}", f"{name} {value!r} is not a number (column type {t})") from None
    raise SourceDataError(path, None, f"{name}: expected a numeric column, got {t}")


def _ts_to_ms(raw: pa.Table, path) -> pa.Table:
    """Integer ``ts`` in seconds, microseconds or nanoseconds becomes milliseconds (decided from
    the magnitude of the values, and said with a :class:`SourceNote`)."""
    import warnings

    import numpy as np

    if "ts" not in raw.column_names or not pa.types.is_integer(raw.column("ts").type) or not raw.num_rows:
        return raw
    ts = raw.column("ts").cast(pa.int64()).to_numpy()
    top = int(np.max(np.abs(ts)))
    if top >= _NS_FROM:
        unit, div = "nanoseconds", 1_000_000
    elif top >= _US_FROM:
        unit, div = "microseconds", 1000
    else:
        return raw
    bad = np.flatnonzero(ts % div)
    if bad.size:
        i = int(bad[0])
        raise SourceDataError(path, f"row {i}", f"ts {int(ts[i])} looks like epoch {unit} but is not a whole millisecond")
    small = np.flatnonzero(np.abs(ts) < (_US_FROM if div == 1000 else _NS_FROM))
    if small.size:
        i = int(small[0])
        raise SourceDataError(path, f"row {i}", f"ts mixes units: {int(ts[i])} beside epoch {unit}")
    warnings.warn(f"{path}: ts holds epoch {unit} (values up to {top}); converted to milliseconds", SourceNote,
                  stacklevel=2)
    return raw.set_column(raw.column_names.index("ts"), "ts", pa.array(ts // div, type=pa.int64()))


def read_bars_parquet(path: str | Path, *, timeframe: str | None = None) -> pa.Table:
    """Read and validate one Parquet candle file (errors name the file and the row)."""
    try:
        raw = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise SourceDataError(path, None, f"cannot read Parquet: {exc}") from None
    raw = raw.select([c for c in raw.column_names if c in BAR_COLUMNS])
    for name in BAR_COLUMNS[1:]:
        if name in raw.column_names:
            _check_numeric(raw.column(name), name, path)
    raw = _ts_to_ms(raw, path)
    for i, name in enumerate(raw.column_names):
        if pa.types.is_decimal(raw.column(name).type):
            # through text: Arrow's decimal -> float cast is not correctly rounded, parsing text is
            raw = raw.set_column(i, name, raw.column(name).cast(pa.string()).cast(pa.float64()))
    table = normalize_file_bars(raw, path)
    validate_bars(table, path=path, timeframe=timeframe)
    return table
