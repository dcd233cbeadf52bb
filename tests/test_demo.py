"""The main job end to end on the committed slices (no development data needed)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from gridregime.collect.sources.sample import SAMPLE_DATA_ENV
from gridregime.demo import forward_hold_rates, run_demo
from gridregime.errors import InvalidParameterError
from gridregime.snapshot import SnapshotReader


@pytest.fixture(scope="module")
def demo(data_dir, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SAMPLE_DATA_ENV, str(data_dir))
        return run_demo(tmp_path_factory.mktemp("demo"), symbols=["ETH-USDT", "BTC-USDT"], days=3, workers=2)


def test_demo_writes_snapshots_table_and_summary(demo):
    reader = SnapshotReader(demo.snapshots)
    table = pq.read_table(demo.results_table).to_pandas()
    for imp in demo.imports:
        stored = reader.hours(imp.symbol)
        assert len(stored) == imp.written
        rows = table[table.symbol == imp.symbol]
        # one row per stored hour, in hour order, and every analysed hour has its _regime.json
        assert list(rows.hour.dt.to_pydatetime()) == stored
        for hour in stored[:: max(1, len(stored) // 5)]:
            assert reader.load_analysis(imp.symbol, hour)["hour"].startswith(hour.strftime("%Y-%m-%dT%H"))
    eth, btc = table[table.symbol == "ETH-USDT"], table[table.symbol == "BTC-USDT"]
    assert (eth.status == "ok").all()  # seeded by the committed 1h history
    assert (btc.status == "insufficient_data").all()  # three days of minutes and no history
    # the halt (2021-04-20 02:00-04:29) is reported once, by the import
    eth_import = next(i for i in demo.imports if i.symbol == "ETH-USDT")
    assert [(h.hour, m) for h, m in eth_import.skipped] == [(2, 60), (3, 60), (4, 30)]
    grid = pq.read_table(demo.grid_table)
    assert grid.num_rows == len(table)  # the supervisor stepped every analysed hour
    assert set(grid.column("symbol").to_pylist()) == {"ETH-USDT", "BTC-USDT"}
    g = grid.to_pydict()
    assert "initial" not in g["events"]  # no grid until the first ENABLE_GRID
    enabled = [i for i, on in enumerate(g["grid_enabled"]) if on]
    for sym in ("ETH-USDT", "BTC-USDT"):
        first = next((i for i in enabled if g["symbol"][i] == sym), None)
        if first is not None:
            assert g["verdict"][first] == "RANGE_OK" and g["events"][first] == "enable"
    text = demo.summary_md.read_text()
    for needle in ("## Grid supervision", "## Verdicts", "## Forward range-hold", "ETH-USDT", "BTC-USDT", "2021-04-20T02:00:00Z",
                   "## What following it would have earned (backtest)", "| SUPERVISOR |", "| HOLD |"):
        assert needle in text
    # the backtest ran over the same symbols and hours, and its report is on disk
    assert demo.backtest is not None and {o.symbol for o in demo.backtest.outcomes} == {"ETH-USDT", "BTC-USDT"}
    assert {p.name for p in demo.backtest_dir.iterdir()} >= {"report.md", "report.json", "hours.parquet", "equity.parquet"}
    # and the dashboard was built from the same files (the test extra brings plotly and jinja2)
    assert demo.dashboard is not None and demo.dashboard.index.is_file()
    assert set(demo.dashboard.pages) >= {"ETH-USDT", "BTC-USDT"} and "Dashboard:" in text


def test_demo_rerun_reuses_the_immutable_snapshots(demo, data_dir, monkeypatch):
    monkeypatch.setenv(SAMPLE_DATA_ENV, str(data_dir))
    again = run_demo(demo.out, symbols=["ETH-USDT", "BTC-USDT"], days=3, workers=1)
    assert [i.written for i in again.imports] == [0, 0]
    assert [i.unchanged for i in again.imports] == [i.written for i in demo.imports]
    first = pq.read_table(demo.results_table).to_pandas()
    second = pq.read_table(again.results_table).to_pandas()
    pd.testing.assert_frame_equal(first, second)


def test_forward_hold_rates_against_a_direct_count(demo):
    table = pq.read_table(demo.results_table)
    rates = forward_hold_rates(table, horizon=6)
    df = table.to_pandas()
    for sym, g in df.groupby("symbol"):
        g = g.set_index("hour")
        held_all, held_ok = [], []
        for hour, row in g.iterrows():
            if row.status != "ok" or np.isnan(row.range_lower):
                continue
            following = [hour + pd.Timedelta(hours=k) for k in range(1, 7)]
            if not all(h in g.index for h in following):
                continue
            inside = all(row.range_lower <= g.loc[h, "price"] <= row.range_upper for h in following)
            held_all.append(inside)
            if row.verdict == "RANGE_OK":
                held_ok.append(inside)
        assert rates[sym]["hours_all"] == len(held_all)
        assert rates[sym]["hours_range_ok"] == len(held_ok)
        if held_all:
            assert rates[sym]["hold_all"] == pytest.approx(np.mean(held_all))
        if held_ok:
            assert rates[sym]["hold_range_ok"] == pytest.approx(np.mean(held_ok))


@pytest.mark.parametrize("kwargs, name", [({"days": 0}, "days"), ({"workers": 0}, "workers"),
                                          ({"symbols": ["eth/usdt"]}, "symbols"), ({"symbols": []}, "symbols")])
def test_demo_refuses_bad_parameters(tmp_path, kwargs, name):
    with pytest.raises(InvalidParameterError, match=name):
        run_demo(tmp_path, **kwargs)


def test_synthetic_stand_in_is_named_as_such(tmp_path, monkeypatch):
    """With no real data for a symbol, the demo's synthetic bars are stored under a name that says
    so (XRP-USDT -> XRPSYN-USDT), never under the real market's name."""
    monkeypatch.delenv(SAMPLE_DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no shared/data/real here or above, and no packaged XRP slice
    report = run_demo(tmp_path / "out", symbols=["XRP-USDT"], days=2, workers=1)
    assert [i.symbol for i in report.imports] == ["XRPSYN-USDT"]
    assert "synthetic" in report.imports[0].description
    assert SnapshotReader(report.snapshots).symbols() == ["XRPSYN-USDT"]
    assert "XRPSYN-USDT" in report.summary_md.read_text()
