"""File sources return exactly the bars of the committed Parquet slices, and refuse bad files."""
from __future__ import annotations

import gzip
import shutil
from datetime import datetime, timezone

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from gridregime.collect.sources import (
    BinanceCsvSource,
    FreqtradeSource,
    ParquetDirSource,
    SourceDataError,
    open_source,
    pair_to_symbol,
    symbol_to_pair,
)
from gridregime.errors import InvalidParameterError
from tests.collect.helpers import (
    BTC_1M,
    HALT_1M,
    HISTORY_1H,
    assert_frames_equal,
    frame_of,
    kline_rows,
    ms_index,
    read_frame,
    resample_hourly,
    write_kline_csv,
    zip_one,
)

UTC = timezone.utc
ALL = (datetime(2017, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
SLICES = [("ETH-USDT", HALT_1M), ("BTC-USDT", BTC_1M)]


@pytest.fixture(scope="module")
def frames():
    return {sym: read_frame(path) for sym, path in SLICES}


# -- Parquet directory ---------------------------------------------------------------------------
@pytest.mark.parametrize(("symbol", "path"), SLICES)
def test_parquet_dir_returns_the_file(symbol, path, tmp_path):
    shutil.copy(path, tmp_path / path.name)
    got = frame_of(ParquetDirSource(tmp_path).fetch_ohlcv(symbol, "1m", *ALL))
    assert_frames_equal(got, read_frame(path))


def test_parquet_dir_slices_half_open(frames, data_dir):
    df = frames["ETH-USDT"]
    start, end = df.index[100], df.index[2000]
    got = frame_of(ParquetDirSource(data_dir).fetch_ohlcv("ETH-USDT", "1m", start, end))
    assert_frames_equal(got, df[(df.index >= start) & (df.index < end)])


def _write(df: pd.DataFrame, path) -> None:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)


def test_parquet_dir_concatenates_and_deduplicates_overlapping_files(frames, tmp_path):
    df = frames["BTC-USDT"].reset_index()
    df["ts"] = ms_index(frames["BTC-USDT"])
    # two files overlapping on a day: 2025-06-01..02 and 2025-06-02..03
    a, b = df.iloc[:2880], df.iloc[1440:]
    _write(a, tmp_path / "BTC-USDT_1m_2025-06-01_2025-06-02.parquet")
    _write(b, tmp_path / "BTC-USDT_1m_2025-06-02_2025-06-03.parquet")
    src = ParquetDirSource(tmp_path)
    assert_frames_equal(frame_of(src.fetch_ohlcv("BTC-USDT", "1m", *ALL)), frames["BTC-USDT"])
    # a request inside one file reads only what it needs and still matches
    got = frame_of(src.fetch_ohlcv("BTC-USDT", "1m", "2025-06-03T05:00Z", "2025-06-03T06:00Z"))
    assert len(got) == 60


def test_parquet_dir_refuses_files_that_disagree(frames, tmp_path):
    df = frames["BTC-USDT"].reset_index()
    df["ts"] = ms_index(frames["BTC-USDT"])
    a, b = df.iloc[:2880].copy(), df.iloc[1440:].copy()
    b.loc[b.index[10], "volume"] += 1.0
    _write(a, tmp_path / "BTC-USDT_1m_2025-06-01_2025-06-02.parquet")
    _write(b, tmp_path / "BTC-USDT_1m_2025-06-02_2025-06-03.parquet")
    with pytest.raises(SourceDataError, match=r"BTC-USDT_1m_2025-06-0[12]_2025-06-0[23]\.parquet.*differs"):
        ParquetDirSource(tmp_path).fetch_ohlcv("BTC-USDT", "1m", *ALL)


def test_parquet_dir_hourly_file_and_aggregation(frames, data_dir, tmp_path):
    # the 1h file is used as is ...
    got = frame_of(ParquetDirSource(data_dir).fetch_ohlcv("ETH-USDT", "1h", *ALL))
    assert_frames_equal(got, read_frame(HISTORY_1H))
    # ... and without one, 1h is the pandas resample of the minutes (gaps stay gaps)
    shutil.copy(HALT_1M, tmp_path / HALT_1M.name)
    got = frame_of(ParquetDirSource(tmp_path).fetch_ohlcv("ETH-USDT", "1h", *ALL))
    assert_frames_equal(got, resample_hourly(frames["ETH-USDT"]), rtol=1e-12)
    assert pd.Timestamp("2021-04-20T02:00Z") not in got.index


@pytest.mark.parametrize(
    ("mutate", "row", "reason"),
    [
        (lambda d: d.__setitem__("ts", d["ts"].where(d.index != 7, d["ts"][6])), 7, "duplicate ts"),
        (lambda d: d.__setitem__("ts", d["ts"].where(d.index != 9, d["ts"][3])), 9, "before the previous"),
        (lambda d: d.loc.__setitem__((12, "high"), d.loc[12, "low"] - 1), 12, "high"),
        (lambda d: d.loc.__setitem__((5, "close"), -3.0), 5, "close"),
        (lambda d: d.loc.__setitem__((4, "volume"), float("nan")), 4, "volume"),
        (lambda d: d.loc.__setitem__((3, "ts"), d.loc[3, "ts"] + 1), 3, "boundary"),
    ],
)
def test_parquet_corrupt_rows_are_named(mutate, row, reason, frames, tmp_path):
    df = frames["BTC-USDT"].iloc[:50].reset_index(drop=True)
    df.insert(0, "ts", ms_index(frames["BTC-USDT"])[:50])
    mutate(df)
    path = tmp_path / "BTC-USDT_1m_2025-06-01_2025-06-01.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    with pytest.raises(SourceDataError, match=rf"{path.name}: row {row}: .*{reason}"):
        ParquetDirSource(tmp_path).fetch_ohlcv("BTC-USDT", "1m", *ALL)


# -- Binance public-data CSV ---------------------------------------------------------------------
@pytest.mark.parametrize("micro", [False, True], ids=["ms", "us"])
@pytest.mark.parametrize("header", [False, True], ids=["no-header", "header"])
@pytest.mark.parametrize("zipped", [False, True], ids=["csv", "zip"])
def test_binance_csv_returns_the_parquet_bars(micro, header, zipped, frames, tmp_path):
    df = frames["BTC-USDT"]
    csv_path = write_kline_csv(tmp_path / "BTCUSDT-1m-2025-06.csv", df, micro=micro, header=header)
    path = csv_path
    if zipped:
        path = zip_one(tmp_path / "BTCUSDT-1m-2025-06.zip", csv_path.name, csv_path.read_text())
        csv_path.unlink()
    got = frame_of(BinanceCsvSource(path).fetch_ohlcv("BTC-USDT", "1m", *ALL))
    assert_frames_equal(got, df)


def test_binance_csv_directory_of_monthly_files_and_hourly(frames, tmp_path):
    df = frames["ETH-USDT"]
    write_kline_csv(tmp_path / "ETHUSDT-1m-2021-04-19.csv", df.iloc[:1440])
    write_kline_csv(tmp_path / "ETHUSDT-1m-2021-04-20.csv", df.iloc[1440:], micro=True)
    write_kline_csv(tmp_path / "BTCUSDT-1m-2021-04-20.csv", frames["BTC-USDT"].iloc[:10])
    src = open_source(f"binance-csv:{tmp_path}")
    assert_frames_equal(frame_of(src.fetch_ohlcv("ETH-USDT", "1m", *ALL)), df)
    assert_frames_equal(frame_of(src.fetch_ohlcv("ETH-USDT", "1h", *ALL)), resample_hourly(df), rtol=1e-12)


def test_binance_csv_file_name_for_another_pair_is_refused(frames, tmp_path):
    path = write_kline_csv(tmp_path / "BTCUSDT-1m-2025-06.csv", frames["BTC-USDT"].iloc[:5])
    with pytest.raises(InvalidParameterError, match="symbol"):
        BinanceCsvSource(path).fetch_ohlcv("ETH-USDT", "1m", *ALL)


def _csv_lines(frames, n=30, header=False):
    rows = [",".join(r) for r in kline_rows(frames["BTC-USDT"].iloc[:n])]
    if header:
        rows.insert(0, "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                       "taker_buy_volume,taker_buy_quote_volume,ignore")
    return rows


@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize(
    ("index", "edit", "reason"),
    [
        (6, lambda f: f[:11], "expected 12 columns"),
        (8, lambda f: [f[0], "abc", *f[2:]], "open 'abc' is not a number"),
        (9, lambda f: [f[0], f[1], f[3], f[3], *f[4:]], "high"),  # high set to the low
        (10, lambda f: [str(int(f[0]) - 600_000), *f[1:]], "before the previous"),
        (11, lambda f: [f[0], f[1], f[2], f[3], f[4], "-1", *f[6:]], "volume"),
    ],
)
def test_binance_csv_corrupt_lines_are_named(header, index, edit, reason, frames, tmp_path):
    lines = _csv_lines(frames, header=header)
    k = index + header
    fields = lines[k].split(",")
    if reason == "high":  # make high < max(open, close) for sure
        fields[2] = str(min(float(fields[1]), float(fields[4])) - 1)
        new = fields
    else:
        new = edit(fields)
    lines[k] = ",".join(new)
    path = tmp_path / "BTCUSDT-1m-2025-06.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceDataError) as err:
        BinanceCsvSource(path).fetch_ohlcv("BTC-USDT", "1m", *ALL)
    msg = str(err.value)
    assert path.name in msg and f"line {k + 1}:" in msg and reason.split()[0] in msg


def test_binance_zip_with_two_members_is_refused(frames, tmp_path):
    import zipfile

    path = tmp_path / "BTCUSDT-1m-2025-06.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", "1,2")
        zf.writestr("b.csv", "1,2")
    with pytest.raises(SourceDataError, match=r"BTCUSDT-1m-2025-06\.zip.*one CSV"):
        BinanceCsvSource(path).fetch_ohlcv("BTC-USDT", "1m", *ALL)


# -- freqtrade -----------------------------------------------------------------------------------
def _freqtrade_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.reset_index(names="date")
    out["date"] = pd.DatetimeIndex(out["date"]).as_unit("ms")
    return out


@pytest.mark.parametrize("fmt", ["json", "json.gz", "feather", "parquet"])
def test_freqtrade_returns_the_parquet_bars(fmt, frames, tmp_path):
    df = frames["ETH-USDT"]
    path = tmp_path / f"ETH_USDT-1m.{fmt}"
    if fmt.startswith("json"):
        rows = [[int(t), o, h, l, c, v] for t, o, h, l, c, v in
                zip(ms_index(df), df.open, df.high, df.low, df.close, df.volume)]
        data = orjson.dumps(rows)
        path.write_bytes(gzip.compress(data) if fmt.endswith("gz") else data)
    elif fmt == "feather":
        feather.write_feather(_freqtrade_frame(df), path)
    else:
        _freqtrade_frame(df).to_parquet(path)
    src = open_source(f"freqtrade:{tmp_path}")
    assert_frames_equal(frame_of(src.fetch_ohlcv("ETH-USDT", "1m", *ALL)), df)
    assert_frames_equal(frame_of(src.fetch_ohlcv("ETH-USDT", "1h", *ALL)), resample_hourly(df), rtol=1e-12)


def test_freqtrade_pair_names():
    assert pair_to_symbol("ETH/USDT") == "ETH-USDT"
    assert pair_to_symbol("ETH_USDT") == "ETH-USDT"
    assert symbol_to_pair("ETH-USDT") == "ETH/USDT"
    with pytest.raises(InvalidParameterError, match="pair"):
        pair_to_symbol("eth/usdt")


@pytest.mark.parametrize(
    ("rows_edit", "where", "reason"),
    [
        (lambda r: r.__setitem__(4, r[4][:5]), "row 4", "expected"),
        (lambda r: r.__setitem__(6, [r[6][0], "x", *r[6][2:]]), "row 6", "open 'x' is not a number"),
        (lambda r: r.__setitem__(8, [r[8][0] + 0.5, *r[8][1:]]), "row 8", "whole epoch"),
        (lambda r: r.__setitem__(9, [r[9][0], r[9][1], r[9][3] - 1, *r[9][3:]]), "row 9", "high"),
    ],
)
def test_freqtrade_json_corrupt_rows_are_named(rows_edit, where, reason, frames, tmp_path):
    df = frames["ETH-USDT"].iloc[:20]
    rows = [[int(t), o, h, l, c, v] for t, o, h, l, c, v in
            zip(ms_index(df), df.open, df.high, df.low, df.close, df.volume)]
    rows_edit(rows)
    path = tmp_path / "ETH_USDT-1m.json"
    path.write_bytes(orjson.dumps(rows))
    with pytest.raises(SourceDataError, match=rf"ETH_USDT-1m\.json: {where}: .*{reason}"):
        FreqtradeSource(tmp_path).fetch_ohlcv("ETH-USDT", "1m", *ALL)


def test_freqtrade_feather_corrupt_row_and_truncated_json(frames, tmp_path):
    df = _freqtrade_frame(frames["ETH-USDT"].iloc[:20])
    df.loc[13, "low"] = -1.0
    feather.write_feather(df, tmp_path / "ETH_USDT-1m.feather")
    with pytest.raises(SourceDataError, match=r"ETH_USDT-1m\.feather: row 13: low"):
        FreqtradeSource(tmp_path).fetch_ohlcv("ETH-USDT", "1m", *ALL)
    (tmp_path / "ETH_USDT-1h.json").write_bytes(b"[[1618790400000, 1, 2, 0.5, 1")
    with pytest.raises(SourceDataError, match=r"ETH_USDT-1h\.json: not readable"):
        FreqtradeSource(tmp_path).fetch_ohlcv("ETH-USDT", "1h", *ALL)


def test_freqtrade_missing_pair_is_named(tmp_path):
    with pytest.raises(InvalidParameterError, match="ETH_USDT-1m"):
        FreqtradeSource(tmp_path).fetch_ohlcv("ETH-USDT", "1m", *ALL)


# -- open_source ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["", "parquet", "ftp:/x", "parquet:", 42, "csv:/tmp"])
def test_open_source_bad_spec_names_parameter_and_kinds(spec):
    with pytest.raises(InvalidParameterError) as err:
        open_source(spec, name="--source")
    msg = str(err.value)
    assert msg.startswith("--source:")
    for kind in ("parquet", "binance-csv", "freqtrade", "synthetic"):
        assert kind in msg


def test_open_source_missing_path_is_named(tmp_path):
    with pytest.raises(InvalidParameterError, match="--history: parquet path .* does not exist"):
        open_source(f"parquet:{tmp_path / 'nope'}", name="--history")


def test_open_source_kinds(data_dir, tmp_path):
    assert isinstance(open_source(f"parquet:{data_dir}"), ParquetDirSource)
    assert isinstance(open_source(f"freqtrade:{tmp_path}"), FreqtradeSource)
    assert isinstance(open_source(f"binance-csv:{tmp_path}"), BinanceCsvSource)


def test_sources_check_their_arguments(data_dir):
    src = ParquetDirSource(data_dir)
    with pytest.raises(InvalidParameterError, match="timeframe"):
        src.fetch_ohlcv("ETH-USDT", "4h", *ALL)
    with pytest.raises(InvalidParameterError, match="symbol: no XRP-USDT_1m"):
        src.fetch_ohlcv("XRP-USDT", "1m", *ALL)
    with pytest.raises(InvalidParameterError, match="end"):
        src.fetch_ohlcv("ETH-USDT", "1m", ALL[1], ALL[0])
    assert np.all(np.diff(ms_index(frame_of(src.fetch_ohlcv("ETH-USDT", "1m", *ALL)))) > 0)


def test_parquet_dir_hourly_falls_back_to_minutes_outside_the_hourly_files(frames, data_dir, tmp_path):
    """An hourly file that does not reach the request does not hide the minutes that do."""
    shutil.copy(BTC_1M, tmp_path / BTC_1M.name)
    shutil.copy(HISTORY_1H, tmp_path / "BTC-USDT_1h_2021-01-20_2021-04-21.parquet")  # any hourly bars will do
    got = frame_of(ParquetDirSource(tmp_path).fetch_ohlcv("BTC-USDT", "1h", "2025-06-01", "2025-06-04"))
    assert_frames_equal(got, resample_hourly(frames["BTC-USDT"]), rtol=1e-12)
    got = frame_of(ParquetDirSource(tmp_path).fetch_ohlcv("BTC-USDT", "1h", "2021-03-01", "2021-03-02"))
    assert len(got) == 24  # from the hourly file


def test_parquet_source_accepts_a_single_file(data_dir, tmp_path):
    """``parquet:FILE`` serves that file alone (its siblings in the directory are ignored)."""
    from gridregime.collect.sources.base import open_source

    one = data_dir / "ETH-USDT_1m_2021-04-19_2021-04-21.parquet"
    src = open_source(f"parquet:{one}")
    assert [f.path for f in src.files()] == [one] and src.name == f"parquet:{one.name}"
    whole = ParquetDirSource(data_dir).fetch_ohlcv("ETH-USDT", "1m", *ALL)
    assert src.fetch_ohlcv("ETH-USDT", "1m", *ALL).equals(whole)
    # 1h bars are aggregated from that file alone, not read from the sibling 1h file
    hourly = src.fetch_ohlcv("ETH-USDT", "1h", *ALL)
    assert hourly.num_rows == 72 - 2  # the halt hours 02:00 and 03:00 have no minute at all
    with pytest.raises(InvalidParameterError, match="symbol: no BTC-USDT_1m"):
        src.fetch_ohlcv("BTC-USDT", "1m", *ALL)
    odd = tmp_path / "prices.parquet"
    odd.write_bytes(one.read_bytes())
    with pytest.raises(InvalidParameterError, match="not SYMBOL_TF_FIRST_LAST.parquet"):
        ParquetDirSource(odd)
