"""Walk-forward calibration: folds, choice on the training window only, out-of-sample scores, TOML."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from gridregime.backtest import BacktestSettings, run_backtest, symbol_range
from gridregime.backtest import calibrate as C
from gridregime.cli import main
from gridregime.collect import SyntheticSource, import_snapshots
from gridregime.config import RegimeConfig
from gridregime.errors import InvalidParameterError
from gridregime.snapshot import SnapshotStorage

S = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("calib")
    import_snapshots(SyntheticSource(31), "ETH-USDT", S, S + 9 * DAY, SnapshotStorage(root))
    return root


@pytest.fixture
def short_months(monkeypatch):
    monkeypatch.setattr(C, "MONTH", 3 * DAY)  # three-day "months" keep the store small


def test_walk_forward_chooses_on_training_windows_and_scores_out_of_sample(store, short_months):
    vary = {"grid_start_min_room_atr": [0.5, 3.0]}
    res = C.walk_forward(store, ["ETH-USDT"], S, S + 9 * DAY - timedelta(hours=1), train_months=1, test_months=1,
                         vary=vary, objective="start_hold")
    assert res.tried == 3  # defaults + two values
    assert [(f.train[0], f.test[0]) for f in res.folds] == [(S, S + 3 * DAY), (S + 3 * DAY, S + 6 * DAY)]
    settings = BacktestSettings(seeds=0, resamples=200)
    for fold in res.folds:
        finite = [x if math.isfinite(x) else -math.inf for x in fold.scores]
        assert fold.in_sample == max(fold.scores, key=lambda x: x if math.isfinite(x) else -math.inf)
        assert finite.index(max(finite)) == ([None] + vary["grid_start_min_room_atr"]).index(
            fold.chosen.get("grid_start_min_room_atr"))
        # the out-of-sample score is an independent backtest of the chosen config on the test window
        cfg = RegimeConfig(**fold.chosen)
        again = run_backtest([symbol_range("ETH-USDT", fold.test[0], fold.test[1] - timedelta(hours=1), root=store)],
                             config=cfg, settings=settings)
        assert C.score(again, "start_hold") == pytest.approx(fold.out_of_sample, nan_ok=True)
    assert res.final == res.folds[-1].chosen and res.final_window == res.folds[-1].train


def test_start_grid_pnl_objective_is_the_start_ok_grid_pnl_difference(store, short_months):
    vary = {"grid_start_min_room_atr": [0.5, 3.0]}
    res = C.walk_forward(store, ["ETH-USDT"], S, S + 6 * DAY - timedelta(hours=1), train_months=1, test_months=1,
                         vary=vary, objective="start_grid_pnl")
    fold = res.folds[0]
    again = run_backtest([symbol_range("ETH-USDT", fold.test[0], fold.test[1] - timedelta(hours=1), root=store)],
                         config=RegimeConfig(**fold.chosen), settings=BacktestSettings(seeds=0, resamples=200))
    d = next(d for d in again.differences if d["kind"] == "forward_grid_pnl" and d["a"] == "GRID_START_OK")
    assert d["b"] == "ALL" and d["estimate"] is not None and math.isfinite(d["estimate"])
    assert C.score(again, "start_grid_pnl") == pytest.approx(d["estimate"])
    assert C.score(again, "start_grid_pnl") == pytest.approx(fold.out_of_sample, nan_ok=True)


def test_toml_round_trip_and_cli(store, short_months, tmp_path, capsys):
    out = tmp_path / "chosen.toml"
    rc = main(["calibrate", "--root", str(store), "--symbols", "ETH-USDT", "--start", "2024-03-01T00:00Z",
               "--end", "2024-03-09T23:00Z", "--train-months", "1", "--test-months", "1",
               "--vary", "grid_start_min_room_atr=0.5,3", "trend_threshold=70", "--out", str(out),
               "--report", str(tmp_path / "rep")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "out-of-sample" in text and "configurations tried" in text
    cfg = RegimeConfig.from_toml(out)  # what was chosen reads back as a config
    assert isinstance(cfg, RegimeConfig)
    assert (tmp_path / "rep" / "calibrate.json").is_file() and (tmp_path / "rep" / "calibrate.md").is_file()


@pytest.mark.parametrize("item, message", [
    ("nonsense=1", "not a RegimeConfig field"),
    ("gates.nonsense=1", "gates.<GateConfig field>"),
    ("trend_threshold", "expected name=v1,v2"),
    ("trend_threshold=high", "expected a number"),
    ("atr_period=1.5", "expected an integer"),
])
def test_vary_errors_name_the_problem(item, message):
    with pytest.raises(InvalidParameterError, match=message):
        C.parse_vary([item])


def test_invalid_combinations_and_short_spans_are_refused(store):
    with pytest.raises(InvalidParameterError, match="not a valid config"):
        C.candidates(RegimeConfig(), {"trend_threshold": [150.0]})
    with pytest.raises(InvalidParameterError, match="^end: expected at least 3 months"):
        C.walk_forward(store, ["ETH-USDT"], S, S + 9 * DAY, train_months=2, test_months=1,
                       vary={"trend_threshold": [60.0]})
    with pytest.raises(InvalidParameterError, match="objective"):
        C.walk_forward(store, ["ETH-USDT"], S, S + 9 * DAY, train_months=1, test_months=1,
                       vary={"trend_threshold": [60.0]}, objective="profit")


def test_supervisor_settings_are_calibrated_and_written_to_their_sections(store, short_months, tmp_path):
    from gridregime.config import load_config
    from gridregime.grid import load_supervisor_settings
    from gridregime.grid.settings import SupervisorSettings

    vary = C.parse_vary(["gates.min_hours_stopped=2,24", "grid.quick_stop_atr=2"])
    assert vary == {"gates.min_hours_stopped": [2, 24], "grid.quick_stop_atr": [2.0]}
    cands = C.candidates(RegimeConfig(), vary)
    assert len(cands) == 3 and cands[0].supervisor == SupervisorSettings()
    assert {c.supervisor.gates.min_hours_stopped for c in cands[1:]} == {2, 24}
    assert all(c.supervisor.policy.quick_stop_atr == 2.0 for c in cands[1:])
    res = C.walk_forward(store, ["ETH-USDT"], S, S + 9 * DAY - timedelta(hours=1), train_months=1, test_months=1,
                         vary=vary, objective="supervisor_return")
    settings = BacktestSettings(seeds=0, resamples=200)
    for fold in res.folds:  # each out-of-sample score is a backtest with the chosen supervisor settings
        chosen = C.Candidate(RegimeConfig(), SupervisorSettings()).replace(fold.chosen)
        again = run_backtest([symbol_range("ETH-USDT", fold.test[0], fold.test[1] - timedelta(hours=1), root=store)],
                             settings=settings, supervisor=chosen.supervisor)
        assert C.score(again, "supervisor_return") == pytest.approx(fold.out_of_sample, nan_ok=True)
    res = C.CalibrationResult("supervisor", vary, 3, res.folds,
                              {"gates.min_hours_stopped": 24, "grid.quick_stop_atr": 2.0, "trend_threshold": 70.0},
                              res.final_window)
    path = tmp_path / "chosen.toml"
    path.write_text(res.to_toml())
    sup = load_supervisor_settings(path)
    assert sup.gates.min_hours_stopped == 24 and sup.policy.quick_stop_atr == 2.0
    assert load_config(path).trend_threshold == 70.0


def test_backtest_supervisor_settings_change_the_supervisor_only(store, tmp_path):
    from gridregime.grid.settings import SupervisorSettings

    rng = [symbol_range("ETH-USDT", S + DAY, S + 4 * DAY, root=store)]
    settings = BacktestSettings(seeds=0, resamples=100)
    a = run_backtest(rng, settings=settings)
    b = run_backtest(rng, settings=settings, supervisor=SupervisorSettings().replace(**{"grid.max_normal_levels": 3}))
    assert a.pooled["policies"]["SUPERVISOR"]["fills"] > b.pooled["policies"]["SUPERVISOR"]["fills"]  # 3-level grids
    for name in ("ALWAYS", "VERDICT", "STICKY", "ADX_FILTER", "HOLD"):
        assert a.pooled["policies"][name] == b.pooled["policies"][name]
    with pytest.raises(InvalidParameterError, match="supervisor"):
        run_backtest(rng, settings=settings, supervisor={"gates": {}})
    # the report records the supervisor settings it ran with
    import orjson

    from gridregime.backtest import write_report

    paths = write_report(b, tmp_path / "rep")
    doc = orjson.loads((tmp_path / "rep" / "report.json").read_bytes())
    assert doc["supervisor"]["grid"]["max_normal_levels"] == 3
    assert doc["supervisor"]["gates"]["min_hours_stopped"] == 6
    assert "`grid.max_normal_levels = 3`" in (tmp_path / "rep" / "report.md").read_text()
    assert paths
