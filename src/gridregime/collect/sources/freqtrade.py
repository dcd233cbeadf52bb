"""freqtrade candle files: ``PAIR-TF.json`` / ``.json.gz`` / ``.feather`` / ``.parquet``.

freqtrade names a pair ``ETH/USDT`` and its file ``ETH_USDT-1m.feather``; gridregime's symbol is
``ETH-USDT``. JSON files hold a list of ``[ms, open, high, low, close, volume]`` rows; feather and
parquet files hold columns ``date`` (timestamp, UTC), ``open``, ``high``, ``low``, ``close``,
``volume``.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from gridregime.bars import BAR_COLUMNS, bars_table
from gridregime.collect.sources.common import FileSource, SourceDataError, normalize_file_bars, validate_bars
from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol

#: File suffixes in the order they are preferred when several exist for one pair and timeframe.
SUFFIXES = (".feather", ".parquet", ".json", ".json.gz")


def pair_to_symbol(pair: str) -> str:
    """``ETH/USDT`` (or ``ETH_USDT``) → ``ETH-USDT``."""
    return validate_symbol(pair.replace("/", "-").replace("_", "-"), name="pair")


def symbol_to_pair(symbol: str) -> str:
    """``ETH-USDT`` → ``ETH/USDT``."""
    return validate_symbol(symbol).replace("-", "/")


def pair_file_stem(symbol: str, timeframe: str) -> str:
    """``ETH-USDT``, ``1m`` → ``ETH_USDT-1m`` (freqtrade's file name without suffix)."""
    return f"{validate_symbol(symbol).replace('-', '_')}-{timeframe}"


class FreqtradeSource(FileSource):
    """Bars from a freqtrade data directory such as ``user_data/data/binance`` (a :class:`DataSource`).

    ``1h`` is read from ``PAIR-1h.*`` when present, else aggregated from ``PAIR-1m.*``.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise InvalidParameterError(f"directory: expected a freqtrade data directory, got {str(self.directory)!r}")
        super().__init__(self.directory, "freqtrade", read_freqtrade_file)

    def find_file(self, symbol: str, timeframe: str) -> Path | None:
        stem = pair_file_stem(symbol, timeframe)
        for suffix in SUFFIXES:
            path = self.directory / f"{stem}{suffix}"
            if path.is_file():
                return path
        return None

    def _choose_files(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> tuple[str, list[Path]]:
        for native in dict.fromkeys((timeframe, "1m")):
            path = self.find_file(symbol, native)
            if path is not None:
                return native, [path]
        raise InvalidParameterError(
            f"symbol: no {pair_file_stem(symbol, timeframe)}{{{','.join(SUFFIXES)}}} in {str(self.directory)!r}"
        )


def read_freqtrade_file(path: str | Path, *, timeframe: str | None = None) -> pa.Table:
    """Read and validate one freqtrade candle file; errors name the file and the row."""
    path = Path(path)
    name = path.name
    if name.endswith((".json", ".json.gz")):
        table = _read_json(path)
    elif name.endswith((".feather", ".parquet")):
        table = _read_columnar(path)
    else:
        raise SourceDataError(path, None, f"unknown freqtrade file type; expected one of {', '.join(SUFFIXES)}")
    validate_bars(table, path=path, timeframe=timeframe)
    return table


def _read_json(path: Path) -> pa.Table:
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        rows = orjson.loads(raw)
    except (OSError, EOFError, orjson.JSONDecodeError) as exc:
        raise SourceDataError(path, None, f"not readable freqtrade JSON ({exc})") from None
    if not isinstance(rows, list):
        raise SourceDataError(path, None, "expected a JSON list of [ms, open, high, low, close, volume] rows, "
                                          f"got {type(rows).__name__}")
    try:
        values = np.array(rows, dtype=np.float64)
        ok = values.ndim == 2 and values.shape[1] == 6 or values.size == 0
    except (ValueError, TypeError):
        ok = False
    if not ok:
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != 6:
                raise SourceDataError(path, f"row {i}", f"expected [ms, open, high, low, close, volume], got {row!r}")
            for field, value in zip(BAR_COLUMNS, row):
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise SourceDataError(path, f"row {i}", f"{field} {value!r} is not a number")
        raise SourceDataError(path, None, "unreadable candle rows")  # pragma: no cover
    values = values.reshape(-1, 6)
    ts = values[:, 0]
    bad = np.flatnonzero(~np.isfinite(ts) | (ts != np.round(ts)))
    if bad.size:
        raise SourceDataError(path, f"row {int(bad[0])}", f"timestamp {ts[bad[0]]!r} is not whole epoch milliseconds")
    return bars_table(ts.astype(np.int64), *(values[:, k] for k in range(1, 6)))


def _read_columnar(path: Path) -> pa.Table:
    try:
        raw = feather.read_table(path) if path.name.endswith(".feather") else pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise SourceDataError(path, None, f"cannot read the file ({exc})") from None
    if "date" not in raw.column_names:
        raise SourceDataError(path, None, "missing column 'date'; expected date, open, high, low, close, volume "
                                          f"(got {raw.column_names})")
    raw = raw.rename_columns(["ts" if c == "date" else c for c in raw.column_names])
    return normalize_file_bars(raw, path, column_names={"ts": "date"})
