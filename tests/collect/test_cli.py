"""``gridregime import`` and ``gridregime demo`` run in-process."""
from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from gridregime.cli import main
from gridregime.collect.sources import sample
from gridregime.collect.sources.sample import SAMPLE_DATA_ENV, find_sample_data, packaged_data_dir
from gridregime.snapshot import SnapshotReader
from tests.collect.helpers import HALT_1M


def test_import_writes_snapshots_and_prints_the_summary(data_dir, tmp_path, capsys):
    out = tmp_path / "store"
    args = ["import", "--source", f"parquet:{data_dir}", "--symbol", "ETH-USDT", "--start", "2021-04-20T00:00Z",
            "--end", "2021-04-20T06:00Z", "--out", str(out), "--history", f"parquet:{data_dir}",
            "--history-hours", "24", "--quiet"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "3 written" in text and "2021-04-20T04:00:00Z (30 min missing)" in text
    reader = SnapshotReader(out)
    assert len(reader.hours("ETH-USDT")) == 3
    assert len(reader.load_snapshot("ETH-USDT", "2021-04-20T05:00Z").hourly) == 22
    assert main(args) == 0
    assert "3 unchanged" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ({"--source": "nope:/x"}, "--source"),
        ({"--source": "parquet:/definitely/not/here"}, "--source"),
        ({"--history": "binance"}, "--history"),
        ({"--start": "yesterday"}, "--start"),
        ({"--end": "2021-04-20T00:15Z"}, "--end"),
        ({"--end": "2021-04-19T00:00Z"}, "--end"),
        ({"--symbol": "eth/usdt"}, "--symbol"),
        ({"--history-hours": "-3"}, "--history-hours"),
    ],
)
def test_import_bad_options_exit_2_naming_the_option(change, option, data_dir, tmp_path, capsys):
    opts = {"--source": f"parquet:{data_dir}", "--symbol": "ETH-USDT", "--start": "2021-04-20T00:00Z",
            "--end": "2021-04-20T02:00Z", "--out": str(tmp_path / "store")}
    opts.update(change)
    args = ["import", "--quiet"] + [x for kv in opts.items() for x in kv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"error: {option}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.json"))


def test_import_missing_required_option_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["import", "--symbol", "ETH-USDT"])
    assert exc.value.code == 2
    assert "--source" in capsys.readouterr().err


def test_demo_imports_the_sample_data_and_validates_it(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(SAMPLE_DATA_ENV, str(data_dir))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--symbols", "ETH-USDT", "--days", "7", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "69 hours written" in text and "3 skipped (incomplete minutes)" in text
    assert str((out / "snapshots").resolve()) in text
    reader = SnapshotReader(out / "snapshots")
    assert len(reader.hours("ETH-USDT")) == 69
    # seeded by the committed 1h history: 1000 hours minus the two halted hours
    assert len(reader.load_snapshot("ETH-USDT", "2021-04-21T23:00Z").hourly) == 998


def test_demo_with_an_empty_sample_dir_is_a_clean_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(SAMPLE_DATA_ENV, str(tmp_path))
    assert main(["demo", "--out", str(tmp_path / "demo"), "--quiet"]) == 2
    assert SAMPLE_DATA_ENV in capsys.readouterr().err


def test_sample_data_resolution_order(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.delenv(SAMPLE_DATA_ENV, raising=False)
    # 1. a shared/data/real directory above the current directory
    real = tmp_path / "shared" / "data" / "real"
    real.mkdir(parents=True)
    shutil.copy(HALT_1M, real / HALT_1M.name)
    work = tmp_path / "main" / "sub"
    work.mkdir(parents=True)
    found = find_sample_data(cwd=work)
    assert found.origin == "shared" and found.start.isoformat() == "2021-04-19T00:00:00+00:00"
    assert found.end.isoformat() == "2021-04-22T00:00:00+00:00"  # the file holds 3 days, not 7
    # 2. the slice shipped in the package, from a directory with no shared/ data above it
    lonely = tmp_path_factory.mktemp("elsewhere")
    found = find_sample_data(cwd=lonely)
    assert found.origin == "package" and found.has_hourly
    assert (found.end - found.start).days == 7
    # 3. the synthetic market when nothing else exists
    monkeypatch.setattr(sample, "packaged_data_dir", lambda: lonely)
    assert find_sample_data(cwd=lonely).origin == "synthetic"


def test_packaged_slice_is_small_and_complete():
    files = sorted(packaged_data_dir().glob("*.parquet"))
    assert [f.name for f in files] == ["ETH-USDT_1h_2025-05-20_2025-06-30.parquet",
                                       "ETH-USDT_1m_2025-07-01_2025-07-07.parquet"]
    assert sum(f.stat().st_size for f in files) <= 400_000
    assert (packaged_data_dir() / "README.md").is_file()
    step = {"1m": 60_000, "1h": 3_600_000}
    for f in files:
        t = pq.read_table(f)
        assert t.column_names == ["ts", "open", "high", "low", "close", "volume"]
        ts = t.column("ts").to_numpy()
        assert np.all(np.diff(ts) == step[f.name.split("_")[1]])  # no gaps
    # the hourly history ends exactly where the minutes begin
    h, m = (pq.read_table(f).column("ts").to_numpy() for f in files)
    assert h[-1] + 3_600_000 == m[0]
    assert len(m) == 7 * 1440


def test_long_file_leaves_room_for_history(tmp_path, monkeypatch):
    """In a file longer than history + a week, the demo week starts after 42 days of minutes."""
    import pyarrow as pa

    from gridregime.collect import SyntheticSource

    monkeypatch.delenv(SAMPLE_DATA_ENV, raising=False)
    src = SyntheticSource(1)
    bars = src.fetch_ohlcv("ETH-USDT", "1m", "2025-01-01", "2025-03-01")
    bars = bars.set_column(0, "ts", bars.column("ts").cast(pa.int64()))
    real = tmp_path / "shared" / "data" / "real"
    real.mkdir(parents=True)
    pq.write_table(bars, real / "ETH-USDT_1m_2025-01-01_2025-02-28.parquet")
    found = find_sample_data(cwd=tmp_path)
    assert found.start.isoformat() == "2025-02-12T00:00:00+00:00"  # 2025-01-01 + ceil(1000 / 24) days
    assert (found.end - found.start).days == 7 and not found.has_hourly


def test_demo_falls_back_to_the_synthetic_market(tmp_path_factory, monkeypatch, capsys):
    monkeypatch.delenv(SAMPLE_DATA_ENV, raising=False)
    lonely = tmp_path_factory.mktemp("nodata")
    monkeypatch.chdir(lonely)
    monkeypatch.setattr(sample, "packaged_data_dir", lambda: lonely)
    assert main(["demo", "--days", "1", "--symbols", "ETH-USDT", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "synthetic" in text and "24 hours written" in text
    reader = SnapshotReader(lonely / "gridregime-demo" / "snapshots")
    assert reader.symbols() == ["ETHSYN-USDT"]  # stored under a name that says it is synthetic
    snap = reader.load_snapshot("ETHSYN-USDT", reader.hours("ETHSYN-USDT")[0])
    assert snap.source == "synthetic:0" and len(snap.hourly) == 1000  # history seeded by the source
