"""The backtest runner end to end: no look-ahead, the report and its schema, the CLI, coarse mode,
user policies, parallel runs, labels."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jsonschema
import numpy as np
import pyarrow.parquet as pq
import pytest

from gridregime.backtest import (
    BacktestSettings, follow_range, report_dict, report_schema, run_backtest, symbol_range, write_report,
)
from gridregime.cli import main
from gridregime.collect import SyntheticSource, import_snapshots
from gridregime.collect.sources import ParquetDirSource
from gridregime.errors import InvalidParameterError
from gridregime.snapshot import SnapshotStorage

S = datetime(2024, 3, 1, tzinfo=UTC)
FAST = BacktestSettings(seeds=3, resamples=200)
REAL_START = datetime(2021, 4, 19, tzinfo=UTC)
REAL_END = datetime(2021, 4, 22, tzinfo=UTC)


@pytest.fixture(scope="module")
def real_root(tmp_path_factory, data_dir):
    """The committed real ETH-USDT slice (with its exchange halt), history from the 1h slice."""
    root = tmp_path_factory.mktemp("bt_real")
    source = ParquetDirSource(data_dir)
    import_snapshots(source, "ETH-USDT", REAL_START, REAL_END, SnapshotStorage(root), history_source=source)
    return root


@pytest.fixture(scope="module")
def real_result(real_root):
    rng = symbol_range("ETH-USDT", REAL_START, REAL_END - timedelta(hours=1), root=real_root)
    return run_backtest([rng], settings=FAST)


def mine(view):
    """A user policy: the ALWAYS grid, but only while TrendScore is low."""
    return follow_range(view) if view.market.trend_score < 40 else None


def test_appending_later_hours_never_changes_earlier_hours(tmp_path):
    """Run on a store, append 40 later hours, run again: every earlier verdict, supervisor decision and
    equity value (so every simulated fill) is the same."""
    root = tmp_path / "store"
    storage = SnapshotStorage(root)
    src = SyntheticSource(21)
    import_snapshots(src, "ETH-USDT", S, S + timedelta(hours=60), storage)
    first = run_backtest([symbol_range("ETH-USDT", S, S + timedelta(hours=59), root=root)], settings=FAST,
                         policies={"MINE": mine})
    import_snapshots(src, "ETH-USDT", S + timedelta(hours=60), S + timedelta(hours=100), storage)
    whole = run_backtest([symbol_range("ETH-USDT", S, S + timedelta(hours=99), root=root)], settings=FAST,
                         policies={"MINE": mine})
    a, b = first.outcomes[0].table, whole.outcomes[0].table
    assert len(a["hour"]) == 60 and len(b["hour"]) == 100
    compared = [c for c in a if c != "equity_RANDOM" and not c.startswith("forward_")]
    assert {"verdict", "action", "events", "grid_lower", "equity_SUPERVISOR", "equity_ALWAYS", "equity_MINE"} <= set(
        compared)
    for col in compared:
        assert a[col] == b[col][:60], col
    # the supervisor and the simple policies did trade in the prefix (the comparison is not vacuous)
    assert len(set(a["equity_ALWAYS"])) > 2


def test_report_validates_against_the_shipped_schema(real_result, tmp_path):
    doc = report_dict(real_result)
    jsonschema.validate(doc, report_schema())
    paths = write_report(real_result, tmp_path / "out")
    on_disk = json.loads(paths["report_json"].read_text())
    jsonschema.validate(on_disk, report_schema())
    bad = json.loads(json.dumps(on_disk))
    bad["ranges"][0]["policies"]["ALWAYS"]["max_drawdown"] = 2.0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, report_schema())
    hours = pq.read_table(paths["hours"])
    assert hours.num_rows == 72 and {"verdict", "warming_up", "history_bars", "equity_SUPERVISOR",
                                     "equity_RANDOM", "equity_HOLD", "grid_levels", "atr_rank",
                                     "forward_grid_pnl"} <= set(hours.column_names)
    equity = pq.read_table(paths["equity"])
    assert equity.column_names == ["symbol", "hour", "policy", "equity"]
    assert set(equity.column("policy").to_pylist()) == {"ALWAYS", "VERDICT", "STICKY", "SUPERVISOR", "ADX_FILTER",
                                                        "VOL_PREMIUM", "RANDOM", "HOLD", "FLAT"}
    md = paths["report_md"].read_text()
    for needle in ("## Policies (pooled)", "SUPERVISOR", "90 % day-block bootstrap", "## Verdicts", "Skipped hours",
                   "2021-04-20T02:00:00Z"):
        assert needle in md


def test_the_halt_is_reported_and_equity_is_consistent(real_result):
    o = real_result.outcomes[0]
    assert [s["hour"] for s in o.skipped] == ["2021-04-20T02:00:00Z", "2021-04-20T03:00:00Z",
                                              "2021-04-20T04:00:00Z"]
    assert o.info["hours"] == 72 and o.info["analysed"] == 69 and o.info["warming_up_hours"] == 0
    flat = o.policies["FLAT"]
    assert flat["return"] == 0.0 and flat["max_drawdown"] == 0.0
    for name, row in o.policies.items():
        eq = np.asarray(o.table[f"equity_{name}"])
        assert row["return"] == pytest.approx(eq[-1] / 1000.0 - 1.0, abs=1e-12) or name == "RANDOM"
        assert 0.0 <= row["max_drawdown"] < 1.0


def test_forward_grid_pnl_and_high_vol_hours_match_the_hour_table(real_result):
    o = real_result.outcomes[0]
    t = o.table
    pnl = np.array([np.nan if x is None else x for x in t["forward_grid_pnl"]])
    rank = np.array([np.nan if x is None else x for x in t["atr_rank"]])
    verdict = np.array([v or "" for v in t["verdict"]], dtype=object)
    assert np.isnan(pnl[-24:]).all()  # no full day after them
    # windows reaching into the halt (hours 02-04 of 2021-04-20 have no bars) are not measured
    halt = [k for k, h in enumerate(o.hours) if h.day == 20 and 2 <= h.hour <= 4]
    assert all(np.isnan(pnl[k]) for k in range(halt[0] - 24, halt[-1]) if k >= 0)
    measured = np.isfinite(pnl) & (verdict != "")
    assert measured.sum() > 0 and o.forward["ALL"]["grid_pnl_n"] == measured.sum()
    assert o.forward["ALL"]["grid_pnl"] == pytest.approx(pnl[measured].mean(), rel=1e-12)
    ok = measured & (verdict == "RANGE_OK")
    assert o.forward["RANGE_OK"]["grid_pnl"] == pytest.approx(pnl[ok].mean(), rel=1e-12)
    high = (verdict != "") & (rank >= 80.0)
    assert o.forward["HIGH_VOL"]["hours"] == high.sum()
    assert (np.abs(pnl[measured]) < 0.2).all()  # a day of a 10-level grid: a loss or gain of a few per cent


def test_bootstrap_and_random_are_reproducible(real_root):
    rng = symbol_range("ETH-USDT", REAL_START, REAL_END - timedelta(hours=1), root=real_root)
    a = run_backtest([rng], settings=FAST)
    b = run_backtest([rng], settings=FAST)
    assert a.differences == b.differences and a.outcomes[0].random == b.outcomes[0].random
    c = run_backtest([rng], settings=BacktestSettings(seeds=3, resamples=200, bootstrap_seed=9))
    assert [d["low"] for d in a.differences] != [d["low"] for d in c.differences]


def test_two_workers_equal_one(tmp_path, real_root):
    root = tmp_path / "syn"
    import_snapshots(SyntheticSource(4), "BTC-USDT", S, S + timedelta(hours=30), SnapshotStorage(root))
    ranges = [symbol_range("ETH-USDT", REAL_START, REAL_END - timedelta(hours=1), root=real_root),
              symbol_range("BTC-USDT", S, S + timedelta(hours=29), root=root)]
    one = run_backtest(ranges, settings=FAST, policies={"MINE": mine})
    two = run_backtest(ranges, settings=FAST, policies={"MINE": mine}, workers=2)
    assert [o.key for o in two.outcomes] == [r.key for r in ranges]
    assert report_dict(one)["pooled"] == report_dict(two)["pooled"]
    assert "MINE" in one.pooled["policies"]
    # synthetic snapshots carry their ground truth: accuracy is reported for that range only
    assert one.outcomes[1].labels is not None and one.outcomes[0].labels is None
    assert one.pooled["labels"]["confusion"] == one.outcomes[1].labels["confusion"]


def test_coarse_mode_on_hourly_bars(data_dir):
    src = ParquetDirSource(data_dir)
    start = datetime(2021, 3, 5, tzinfo=UTC)  # 1,000 hours into the committed 1h slice
    res = run_backtest([symbol_range("ETH-USDT", start, start + timedelta(hours=200), source=src)], settings=FAST)
    o = res.outcomes[0]
    assert o.coarse and o.info["bars"] == "1h" and o.info["analysed"] > 150
    assert o.policies["ALWAYS"]["fills"] > 0


def test_a_policy_returning_garbage_is_named(real_root):
    rng = symbol_range("ETH-USDT", REAL_START, REAL_END - timedelta(hours=1), root=real_root)
    with pytest.raises(InvalidParameterError, match="policy BAD: expected a GridSpec or None"):
        run_backtest([rng], settings=FAST, policies={"BAD": lambda v: (1, 2)})


def test_settings_and_ranges_refuse_bad_values_by_name(tmp_path):
    for kwargs, name in ((dict(levels=1), "levels"), (dict(fee=0.5), "fee"), (dict(path="x"), "path"),
                         (dict(seeds=-1), "seeds"), (dict(budget=0.0), "budget"), (dict(lot=-1.0), "lot")):
        with pytest.raises(InvalidParameterError, match=f"^{name}:"):
            BacktestSettings(**kwargs)
    with pytest.raises(InvalidParameterError, match="^root:"):
        symbol_range("ETH-USDT", S, S + timedelta(hours=5), root=tmp_path / "nope")
    with pytest.raises(InvalidParameterError, match="^end:"):
        symbol_range("ETH-USDT", S, S + timedelta(hours=1), root=tmp_path)
    with pytest.raises(InvalidParameterError, match="symbols"):
        symbol_range("../x", S, S + timedelta(hours=5), root=tmp_path)


def test_cli_writes_the_report_and_names_bad_options(real_root, tmp_path, capsys):
    out = tmp_path / "bt"
    rc = main(["backtest", "--root", str(real_root), "--symbols", "ETH-USDT", "--start", "2021-04-19T00:00Z",
               "--end", "2021-04-21T23:00Z", "--out", str(out), "--seeds", "2", "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| SUPERVISOR |" in text and "report:" in text
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.json", "hours.parquet", "equity.parquet"}
    rc = main(["backtest", "--root", str(real_root), "--symbols", "ETH-USDT", "--start", "2021-04-19T00:00Z",
               "--end", "2021-04-21T23:00Z", "--out", str(out), "--levels", "1", "--quiet"])
    assert rc == 2 and "--levels: expected an integer in [2, 1000]" in capsys.readouterr().err
    rc = main(["backtest", "--root", str(tmp_path / "missing"), "--symbols", "ETH-USDT", "--start", "2021-04-19",
               "--end", "2021-04-21", "--out", str(out), "--quiet"])
    assert rc == 2 and "--root: expected a snapshot directory" in capsys.readouterr().err
    rc = main(["backtest", "--root", str(real_root), "--symbols", "BTC-USDT", "--start", "2021-04-19",
               "--end", "2021-04-21", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "BTC-USDT" in err and "no hour could be analysed" in err
