"""Independent references and file writers shared by the collection tests."""
from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gridregime.bars import BAR_COLUMNS, normalize_bars

DATA = Path(__file__).resolve().parent.parent / "data"
HALT_1M = DATA / "ETH-USDT_1m_2021-04-19_2021-04-21.parquet"
HISTORY_1H = DATA / "ETH-USDT_1h_2021-01-20_2021-04-21.parquet"
BTC_1M = DATA / "BTC-USDT_1m_2025-06-01_2025-06-03.parquet"


@functools.lru_cache(maxsize=8)
def _read_frame_cached(path: Path) -> pd.DataFrame:
    df = pq.read_table(path).to_pandas()
    df.index = pd.to_datetime(df.pop("ts"), unit="ms", utc=True)
    return df


def read_frame(path: Path) -> pd.DataFrame:
    """A committed slice as a pandas frame indexed by UTC bar open time (a fresh copy)."""
    return _read_frame_cached(path).copy()


def frame_of(table: pa.Table) -> pd.DataFrame:
    """A bars table as a pandas frame indexed by UTC bar open time."""
    return normalize_bars(table).to_pandas().set_index("ts")


def resample_hourly(df: pd.DataFrame) -> pd.DataFrame:
    """pandas' own hourly OHLCV aggregation; hours without a minute are dropped (gaps stay gaps)."""
    out = df.resample("1h").agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    counts = df["open"].resample("1h").count()
    return out[counts > 0]


def ms_index(df: pd.DataFrame) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(df.index).as_unit("ms").asi8)


def assert_frames_equal(actual: pd.DataFrame, expected: pd.DataFrame, *, rtol: float = 0.0) -> None:
    """Same bar times and the same values (exactly, unless ``rtol`` is given)."""
    np.testing.assert_array_equal(ms_index(actual), ms_index(expected), err_msg="ts")
    for col in BAR_COLUMNS[1:]:
        a, e = actual[col].to_numpy(), expected[col].to_numpy()
        if rtol:
            np.testing.assert_allclose(a, e, rtol=rtol, err_msg=col)
        else:
            np.testing.assert_array_equal(a, e, err_msg=col)


def kline_rows(df: pd.DataFrame, *, micro: bool = False) -> list[list[str]]:
    """Binance kline CSV rows (12 fields) for the bars of ``df``."""
    ms = ms_index(df)
    unit = 1000 if micro else 1
    rows = []
    for t, o, h, l, c, v in zip(ms, df.open, df.high, df.low, df.close, df.volume):
        close_time = (t + 59_999) * unit + (999 if micro else 0)
        rows.append([str(t * unit), repr(o), repr(h), repr(l), repr(c), repr(v), str(close_time),
                     repr(round(v * c, 4)), "100", repr(v / 2), repr(round(v * c / 2, 4)), "0"])
    return rows


def write_kline_csv(path: Path, df: pd.DataFrame, *, micro: bool = False, header: bool = False) -> Path:
    lines = []
    if header:
        lines.append("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                     "taker_buy_volume,taker_buy_quote_volume,ignore")
    lines += [",".join(r) for r in kline_rows(df, micro=micro)]
    path.write_text("\n".join(lines) + "\n")
    return path


def zip_one(path: Path, member: str, text: str) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, text)
    return path
