"""A one-line error for every bad input (item 8), resource limits (item 9) and clear messages
(item 10): the error names the path, field or option and what was expected; exit status 1 for
data, 2 for usage; never a traceback."""
from __future__ import annotations

import errno
import gzip
import os
from datetime import timedelta
from decimal import Decimal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gridregime.cli import main
from gridregime.snapshot import SnapshotReader, market_path
from gridregime.snapshot.fileio import (
    MAX_SNAPSHOT_BYTES,
    SnapshotReadError,
    read_snapshot_bytes,
)
from tests.snapshot.fixtures import BTC_1M, build_store, writable_copy

SYMBOL = "BTC-USDT"


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("errs")
    hours = build_store(root, count=3, history_hours=24)
    return root, hours


@pytest.fixture
def store(small_store, tmp_path):
    return writable_copy(small_store, tmp_path)


def iso(h):
    return h.strftime("%Y-%m-%dT%H:%MZ")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    return lines[0]


# -- item 8: file-system errors ----------------------------------------------------------------
def test_item8_analyze_on_a_directory_in_place_of_a_file(store, capsys):
    root, hours = store
    p = market_path(root, SYMBOL, "1m", hours[1])
    p.unlink()
    p.mkdir()
    code, _, err = run(capsys, "analyze", "--root", str(root), "--symbol", SYMBOL, "--hour", iso(hours[1]))
    assert code == 1 and str(p) in one_line(err) and "found a directory" in err


def test_item8_symlink_loop_in_analyze_and_compact(store, capsys):
    root, hours = store
    p = market_path(root, SYMBOL, "1h", hours[1])
    p.unlink()
    p.symlink_to(p.name)
    code, _, err = run(capsys, "analyze", "--root", str(root), "--symbol", SYMBOL, "--hour", iso(hours[1]))
    assert code == 1 and str(p) in one_line(err) and "ELOOP" in err
    code, out, err = run(capsys, "compact", str(root))  # the cache build reports it, no traceback
    assert (code == 0 and "month file(s)" in out) or "error:" in one_line(err)


@pytest.mark.parametrize("err_no", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_item8_write_errors_are_one_line_naming_the_path(store, capsys, monkeypatch, err_no):
    root, hours = store
    import gridregime._atomic as atomic

    def refuse(*args, dir=None, **kw):
        raise OSError(err_no, os.strerror(err_no), str(dir))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    out = root.parent / "out.json"
    code, _, err = run(capsys, "analyze", "--root", str(root), "--symbol", SYMBOL, "--hour", iso(hours[-1]),
                       "--out", str(out))
    line = one_line(err)
    assert code == 1 and str(root.parent) in line and errno.errorcode[err_no] in line


def test_item8_batch_far_end_is_clipped_not_an_overflow(store, capsys):
    root, hours = store
    code, out, err = run(capsys, "batch", "--root", str(root), "--symbols", SYMBOL, "--start", iso(hours[0]),
                         "--end", "9999-12-31T23:00Z", "--quiet", "--json")
    assert code == 1  # planned and named, but no hour has enough history to be analysed
    assert "range clipped to the hours the store holds" in err
    assert orjson.loads(out)["hours_skipped"] == 3  # too little history to analyse, but planned and named


def _parquet(tmp_path, name, table):
    d = tmp_path / "pq"
    d.mkdir(exist_ok=True)
    pq.write_table(table, d / name)
    return d


def _minutes(n=180, price=100.0, ts_unit=1):
    ts = np.arange(n, dtype=np.int64) * 60_000 + 1_717_200_000_000  # 2024-06-01T00:00Z
    p = np.full(n, price)
    return {"ts": ts * ts_unit, "open": p, "high": p, "low": p, "close": p, "volume": np.ones(n)}


def _import(capsys, src, *extra, start="2024-06-01T00:00Z", end="2024-06-01T03:00Z", out=None):
    return run(capsys, "import", "--source", f"parquet:{src}", "--symbol", SYMBOL, "--start", start, "--end", end,
               "--out", str(out), "--quiet", *extra)


def test_item8_non_numeric_parquet_price_names_file_and_row(tmp_path, capsys):
    cols = _minutes()
    cols["close"] = pa.array([str(v) for v in cols["close"][:5]] + ["abc"] + [str(v) for v in cols["close"][6:]])
    src = _parquet(tmp_path, f"{SYMBOL}_1m_2024-06-01_2024-06-01.parquet", pa.table(cols))
    code, _, err = _import(capsys, src, out=tmp_path / "store")
    line = one_line(err)
    assert code == 1 and "row 5" in line and "'abc'" in line and ".parquet" in line


def test_item8_huge_parquet_price_is_a_clear_error(tmp_path, capsys):
    src = _parquet(tmp_path, f"{SYMBOL}_1m_2024-06-01_2024-06-01.parquet", pa.table(_minutes(price=2e14)))
    code, _, err = _import(capsys, src, out=tmp_path / "store")
    assert code == 2 and "too large to store exactly" in one_line(err) and "2**53" in err


def test_item8_gzipped_kline_csv_is_read(tmp_path, capsys):
    rows = [f"{1_717_200_000_000 + 60_000 * i},100.0,100.5,99.5,100.0,1.0,{1_717_200_059_999 + 60_000 * i},"
            "100.0,10,0.5,50.0,0" for i in range(180)]
    d = tmp_path / "csv"
    d.mkdir()
    (d / f"{SYMBOL.replace('-', '')}-1m-2024-06-01.csv").write_bytes(gzip.compress("\n".join(rows).encode()))
    code, out, err = run(capsys, "import", "--source", f"binance-csv:{d}", "--symbol", SYMBOL, "--start",
                         "2024-06-01T00:00Z", "--end", "2024-06-01T03:00Z", "--out", str(tmp_path / "store"), "--quiet")
    assert (code == 0 and "3 written" in out) or (code != 0 and "error:" in one_line(err)), (out, err)


def test_item8_broken_gzip_kline_csv_is_one_line(tmp_path, capsys):
    from gridregime.collect.sources.binance_csv import read_binance_klines
    from gridregime.collect.sources.common import SourceDataError

    path = tmp_path / "BTCUSDT-1m-2024-06-01.csv"
    path.write_bytes(gzip.compress(b"1,2,3\n")[:12])
    with pytest.raises(SourceDataError, match="not a readable gzip file"):
        read_binance_klines(path)


@pytest.mark.parametrize("content,expected", [
    (b"[regime]\natr_period = 3\n[symbols]\nETH-USDT = 5\n", "[symbols.ETH-USDT]: expected a table"),
    (b"regime = 5\n", "[regime]: expected a table"),
    (b"\xff\xfe[regime]\n", "expected UTF-8 text"),
    (None, "expected a regular file, found a directory"),
])
def test_item8_bad_config_files_are_usage_errors(store, tmp_path, capsys, content, expected):
    root, hours = store
    cfg = tmp_path / "c.toml"
    if content is None:
        cfg.mkdir()
    else:
        cfg.write_bytes(content)
    code, _, err = run(capsys, "batch", "--root", str(root), "--symbols", SYMBOL, "--start", iso(hours[0]),
                       "--end", iso(hours[-1]), "--quiet", "--config", str(cfg))
    line = one_line(err)
    assert code == 2 and "--config" in line and str(cfg) in line and expected in line


# -- item 9: resource limits ---------------------------------------------------------------------
def test_item9_oversized_snapshot_file_is_refused_before_reading(store):
    root, hours = store
    p = market_path(root, SYMBOL, "1m", hours[1])
    with open(p, "r+b") as fh:
        fh.truncate(MAX_SNAPSHOT_BYTES + 1)  # sparse: no real disk, no memory
    with pytest.raises(SnapshotReadError, match="larger than the 33554432 bytes"):
        read_snapshot_bytes(p)
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hours[-1])
    assert [(pr.hour, pr.kind) for pr in loaded.problems] == [(hours[1], "unreadable")]


def test_item9_workers_capped_at_cpu_count(store, capsys, monkeypatch):
    root, hours = store
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    _, _, err = run(capsys, "batch", "--root", str(root), "--symbols", SYMBOL, "--start", iso(hours[0]),
                    "--end", iso(hours[-1]), "--quiet", "--workers", "16")
    assert "--workers 16 is more than the 1 CPU(s)" in err and "using 1" in err


def test_item9_far_start_plans_only_the_stored_hours(store, capsys):
    from gridregime.service import RegimeAnalysisService

    root, hours = store
    batch = RegimeAnalysisService(root).analyze_range(SYMBOL, "0001-01-01T00:00Z", "9999-12-31T23:00Z")
    assert batch.planned == (hours[0], hours[-1]) and batch.tasks == 1


# -- item 10: clear messages ---------------------------------------------------------------------
@pytest.mark.parametrize("unit,factor", [("microseconds", 1000), ("nanoseconds", 1_000_000)])
def test_item10_integer_timestamp_unit_detected_and_said(tmp_path, capsys, unit, factor):
    src = _parquet(tmp_path, f"{SYMBOL}_1m_2024-06-01_2024-06-01.parquet", pa.table(_minutes(ts_unit=factor)))
    code, out, err = _import(capsys, src, out=tmp_path / "store")
    assert code == 0 and "3 written" in out, (out, err)
    assert f"ts holds epoch {unit}" in err


def test_item10_decimal_prices_need_and_accept_price_scale(tmp_path, capsys):
    cols = _minutes()
    price = Decimal("0.123456789")
    dec = pa.array([price] * len(cols["ts"]), type=pa.decimal128(12, 9))
    table = pa.table({"ts": cols["ts"], "open": dec, "high": dec, "low": dec, "close": dec, "volume": cols["volume"]})
    src = _parquet(tmp_path, f"{SYMBOL}_1m_2024-06-01_2024-06-01.parquet", table)
    code, _, err = _import(capsys, src, out=tmp_path / "store")
    assert code == 2 and "--price-scale" in one_line(err)
    code, out, err = _import(capsys, src, "--price-scale", "1000000000", out=tmp_path / "store")
    assert code == 0 and "price_scale 1000000000" in out, err
    code, _, err = _import(capsys, src, "--price-scale", "7", out=tmp_path / "store2")
    assert code == 2 and "--price-scale: expected a power of ten" in one_line(err)


def test_item10_changed_scale_names_the_scale_and_the_flag(tmp_path, capsys):
    src = _parquet(tmp_path, f"{SYMBOL}_1m_2024-06-01_2024-06-01.parquet", pa.table(_minutes()))
    assert _import(capsys, src, out=tmp_path / "store")[0] == 0
    code, _, err = _import(capsys, src, "--price-scale", "1000", out=tmp_path / "store")
    line = one_line(err)
    assert code == 1 and "price_scale 100, this write at 1000" in line and "--overwrite" in line
    assert "--price-scale 100" in line


def test_item10_csv_nan_is_reported_as_not_finite(tmp_path):
    from gridregime.collect.sources.binance_csv import read_binance_klines
    from gridregime.collect.sources.common import SourceDataError

    rows = [f"{1_717_200_000_000 + 60_000 * i},100.0,100.5,99.5,{'nan' if i == 2 else '100.0'},1.0,"
            f"{1_717_200_059_999 + 60_000 * i},100.0,10,0.5,50.0,0" for i in range(5)]
    path = tmp_path / "BTCUSDT-1m-2024-06-01.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(SourceDataError) as info:
        read_binance_klines(path)
    assert "line 3" in str(info.value) and "close is nan; expected a finite number" in str(info.value)


def test_item10_analyze_names_the_option(store, capsys):
    root, hours = store
    code, _, err = run(capsys, "analyze", "--root", str(root), "--symbol", "eth/usdt", "--hour", iso(hours[0]))
    assert code == 2 and "error: --symbol:" in one_line(err)
    code, _, err = run(capsys, "analyze", "--root", str(root), "--symbol", SYMBOL, "--hour", "2024-06-01T00:30Z")
    assert code == 2 and "error: --hour:" in one_line(err)


@pytest.mark.parametrize("levels,expected", [(1.9, "expected a whole number, got 1.9"), (True, "whole number"),
                                             ("5", "whole number")])
def test_item10_grid_file_levels_must_be_whole(store, tmp_path, capsys, levels, expected):
    root, hours = store
    grid = tmp_path / "grid.json"
    grid.write_bytes(orjson.dumps({"lower": 1.0, "upper": 2.0, "levels": levels}))
    code, _, err = run(capsys, "analyze", "--root", str(root), "--symbol", SYMBOL, "--hour", iso(hours[-1]),
                       "--grid", str(grid))
    assert code == 2 and "'levels'" in one_line(err) and expected in err


def test_item10_grid_history_verify_on_a_directory(tmp_path, capsys):
    (tmp_path / f"{SYMBOL}.jsonl").mkdir()
    code, out, _ = run(capsys, "grid", "verify", SYMBOL, "--dir", str(tmp_path))
    assert code == 1 and "expected a regular file" in out
    assert timedelta(0) == timedelta(0) and BTC_1M.exists()
