"""Binance public-data kline files (``data.binance.vision``): CSV, or a zip holding one CSV.

Twelve columns: open_time, open, high, low, close, volume, close_time, quote_volume, count,
taker_buy_volume, taker_buy_quote_volume, ignore. Usually no header line, sometimes one (it is
accepted). ``open_time`` is epoch milliseconds, or microseconds in files from 2025 on (detected
by magnitude, per file).
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from gridregime.bars import bars_table
from gridregime.collect.sources.common import FileSource, SourceDataError, validate_bars
from gridregime.errors import InvalidParameterError

KLINE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
_PRICE_VOLUME = ("open", "high", "low", "close", "volume")
# open_time above this is microseconds (ms epochs stay below it until the year 5138).
_MICROSECOND_THRESHOLD = 100_000_000_000_000
_NAME_RE = re.compile(r"^(?P<pair>[A-Z0-9]+)-(?P<tf>\d+[smhdwM])-(?P<period>[\d-]+)\.(?P<ext>csv|zip)$")


class BinanceCsvSource(FileSource):
    """Bars from one Binance kline CSV/zip, or from a directory of them (a :class:`DataSource`).

    In a directory, files are chosen by their Binance name (``ETHUSDT-1m-2025-06.zip``); a single
    file is used for whatever symbol is asked (Binance files do not name the symbol inside), but
    a standard file name that names another pair or timeframe is refused. ``1h`` can be served
    from a ``1m`` file by aggregation.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InvalidParameterError(f"path: {str(self.path)!r} does not exist")
        super().__init__(self.path, "binance-csv", read_binance_klines)

    def _files(self, symbol: str, timeframe: str) -> tuple[str, list[Path]]:
        pair = symbol.replace("-", "")
        if self.path.is_file():
            m = _NAME_RE.match(self.path.name)
            if m is None:
                return timeframe, [self.path]
            if m["pair"] != pair:
                raise InvalidParameterError(f"symbol: {symbol} asked, but {self.path.name} holds {m['pair']}")
            if m["tf"] not in (timeframe, "1m"):
                raise InvalidParameterError(f"timeframe: {timeframe} asked, but {self.path.name} holds {m['tf']} bars")
            return m["tf"], [self.path]
        found: dict[str, list[Path]] = {}
        for p in sorted(self.path.iterdir()):
            m = _NAME_RE.match(p.name)
            if m and m["pair"] == pair:
                found.setdefault(m["tf"], []).append(p)
        for tf in (timeframe, "1m"):
            if found.get(tf):
                return tf, found[tf]
        raise InvalidParameterError(
            f"symbol: no {pair}-{timeframe}-*.csv or .zip file in {str(self.path)!r}"
        )

    def _choose_files(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> tuple[str, list[Path]]:
        native, paths = self._files(symbol, timeframe)
        if native not in ("1m", "1h"):
            raise InvalidParameterError(f"timeframe: cannot serve {timeframe} from {native} files")
        return native, paths


def _csv_bytes(path: Path) -> tuple[bytes, str]:
    """Raw CSV bytes and the name to quote in errors (``archive.zip!member.csv`` for zips)."""
    if path.suffix.lower() != ".zip":
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":  # gzip, whatever the name says
            try:
                return gzip.decompress(data), f"{path} (gzip)"
            except (OSError, EOFError, zlib.error) as exc:
                raise SourceDataError(path, None, f"not a readable gzip file ({exc})") from None
        return data, str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if not n.endswith("/")]
            if len(members) != 1:
                raise SourceDataError(path, None, f"expected a zip holding one CSV file, found {len(members)} members")
            return zf.read(members[0]), f"{path}!{members[0]}"
    except zipfile.BadZipFile as exc:
        raise SourceDataError(path, None, f"not a readable zip file ({exc})") from None


def _has_header(data: bytes) -> bool:
    first = data.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip()
    return bool(first) and not first[:1].isdigit()


def read_binance_klines(path: str | Path, *, timeframe: str | None = None) -> pa.Table:
    """Read and validate one kline CSV or zip; errors name the file and the line."""
    path = Path(path)
    data, where = _csv_bytes(path)
    header = _has_header(data)
    try:
        raw = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=list(KLINE_COLUMNS), skip_rows=1 if header else 0),
            convert_options=pacsv.ConvertOptions(
                column_types={"open_time": pa.int64(), **{c: pa.float64() for c in _PRICE_VOLUME}},
                include_columns=["open_time", *_PRICE_VOLUME],
                null_values=[""],  # "nan" stays a (non-finite) number, reported as such below
            ),
        )
    except pa.ArrowInvalid:
        _locate_csv_error(data, where, header)
        raise  # pragma: no cover - the slow scan always finds what Arrow refused
    for name in raw.column_names:
        if raw.column(name).null_count:
            row = next(i for i, v in enumerate(raw.column(name).is_null().to_pylist()) if v)
            raise SourceDataError(where, f"line {row + 1 + header}", f"{name} is empty")
    ts = raw.column("open_time").to_numpy()
    if ts.size:
        micro = ts >= _MICROSECOND_THRESHOLD
        if micro.any() and not micro.all():
            i = int(np.flatnonzero(micro != micro[0])[0])
            raise SourceDataError(where, f"line {i + 1 + header}", "open_time mixes milliseconds and microseconds")
        if micro[0]:
            bad = np.flatnonzero(ts % 1000)
            if bad.size:
                raise SourceDataError(where, f"line {int(bad[0]) + 1 + header}",
                                      f"open_time {ts[bad[0]]} µs is not a whole millisecond")
            ts = ts // 1000
    table = bars_table(ts, *(raw.column(c).to_numpy() for c in _PRICE_VOLUME))
    validate_bars(table, path=where, timeframe=timeframe, row_label="line", row_offset=1 + header)
    return table


def _locate_csv_error(data: bytes, where: str, header: bool) -> None:
    """Find the first line Arrow refused and raise an error naming it."""
    text = data.decode("utf-8", errors="replace")
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if lineno == 1 and header or not row:
            continue
        if len(row) != len(KLINE_COLUMNS):
            raise SourceDataError(where, f"line {lineno}", f"expected {len(KLINE_COLUMNS)} columns, got {len(row)}")
        try:
            int(row[0])
        except ValueError:
            raise SourceDataError(where, f"line {lineno}", f"open_time {row[0]!r} is not an integer") from None
        for name, value in zip(_PRICE_VOLUME, row[1:6]):
            try:
                float(value)
            except ValueError:
                raise SourceDataError(where, f"line {lineno}", f"{name} {value!r} is not a number") from None
    raise SourceDataError(where, None, "unreadable CSV")
