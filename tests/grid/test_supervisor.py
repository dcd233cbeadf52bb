"""The hourly grid supervisor: SPEC §6–8 rules end to end, persistence, and property 71 at its level."""
from __future__ import annotations

import dataclasses
import math
import random
import tempfile
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridregime.errors import InvalidParameterError
from gridregime.grid import (
    GateConfig,
    GridConfig,
    GridHistoryStore,
    GridPolicy,
    GridSupervisor,
    MarketState,
    Phase,
    SupervisorError,
    replay,
    rows_to_columns,
    supervise_results,
)
from gridregime.grid.supervisor import ROW_COLUMNS

from .strategies import H0, HOUR, SYMBOL, build_sequence

GRID = GridConfig(SYMBOL, 100.0, 110.0, 11, 1000.0, created_at=H0)


def calm(i, **changes):
    """An hour on which every gate condition holds and a grid on [100, 110] is kept."""
    base = {"symbol": SYMBOL, "hour": H0 + i * HOUR, "verdict": "RANGE_OK", "trend_score": 20.0,
            "mean_rev_score": 70.0, "vol_change_score": 20.0, "range_quality_score": 80.0, "grid_capacity": 20,
            "grid_capacity_ok": True, "spacing": 0.5, "adx": 200.0 - i, "atr": 1.0, "atr_rank": 30.0,
            "hour_range_atr": 1.0, "price": 105.0, "range_lower": 100.0, "range_upper": 110.0, "confidence": 0.5}
    base.update(changes)
    return MarketState(**base)


def dumps(steps):
    return [orjson.dumps(s.to_dict()) for s in steps]


# ---------------------------------------------------------------------------------------------
# a hand-built story, every expected hour derived from the SPEC numbers
# ---------------------------------------------------------------------------------------------
def test_story_stop_gates_restart_probation_promotion():
    """Stop on TREND at hour 1; floor 6 h and 2-bar holds put Gate 1 at hour 7, Gate 2 at 9, Gate 3
    (READY → restart) at 11; 24 probation hours (12..35) promote at hour 35."""
    bars = [calm(0), calm(1, verdict="TREND", trend_score=90.0)] + [calm(i) for i in range(2, 40)]
    steps = GridSupervisor(SYMBOL, initial_grid=GRID).run(bars)
    kinds = {i: s.event_kinds() for i, s in enumerate(steps) if s.events}
    assert kinds == {0: ("initial",), 1: ("stop",), 7: ("gate_passed",), 9: ("gate_passed",),
                     11: ("gate_passed", "restart"), 35: ("promotion",)}
    assert [steps[i].events[0].details["gate"] for i in (7, 9, 11)] == [1, 2, 3]
    assert steps[0].action.value == "KEEP" and steps[1].action.value == "DISABLE_GRID"
    assert all(steps[i].action.value == "NO_ACTION" and not steps[i].grid.enabled for i in range(2, 11))
    restart = steps[11]
    assert restart.action.value == "ENABLE_GRID" and restart.recommendation.actionable
    assert restart.state.phase is Phase.ACTIVE and restart.evaluation.phase is Phase.READY
    assert restart.evaluation.hours_stopped == 10
    grid = restart.grid
    assert grid.mode.value == "PROBATION" and grid.enabled and grid.contains(105.0)
    assert 100.0 <= grid.lower < grid.upper <= 110.0 and (grid.lower, grid.upper) != (100.0, 110.0)
    assert 0.5 <= grid.allocation / 1000.0 <= 0.6 and 4 <= grid.levels <= 6
    assert all(s.grid.mode.value == "PROBATION" for s in steps[11:35])
    assert steps[35].grid.mode.value == "NORMAL" and steps[35].grid.allocation == 1000.0
    assert (steps[35].grid.lower, steps[35].grid.upper) == (grid.lower, grid.upper)
    # History: initial, stop, restart, promotion — consecutive versions, decided at the close of the hour.
    versions = [s.grid.version for s in steps]
    assert versions[0] == 1 and versions[1] == 2 and versions[11] == 3 and versions[35] == 4
    assert steps[1].grid.created_at == H0 + 2 * HOUR and steps[35].grid.created_at == H0 + 36 * HOUR
    assert steps[1].events[0].details["hours_since_restart"] is None
    # Readiness: 0 right after the stop, 1 once active again, never falling in between (no reset).
    ready = [s.readiness for s in steps[1:12]]
    assert ready[0] == 0.0 and ready[-1] == 1.0 and ready == sorted(ready)


def test_quick_stop_on_probation_then_retrigger_counts_hours_since_restart():
    bars = [calm(0), calm(1, verdict="TREND")] + [calm(i) for i in range(2, 14)]
    bars.append(calm(14, price=111.0))  # the probation grid lies inside [100, 110]: 111 is > 0.5 ATR beyond it
    steps = GridSupervisor(SYMBOL, initial_grid=GRID).run(bars)
    assert "restart" in steps[11].event_kinds()
    upper = steps[11].grid.upper
    assert 111.0 > upper + 0.5
    last = steps[14]
    assert last.event_kinds() == ("stop",) and last.recommendation.quick_stop_triggers == ("close_beyond_bound",)
    assert last.events[0].details["hours_since_restart"] == 3 and last.events[0].details["mode"] == "PROBATION"
    assert not last.grid.enabled and last.state.phase is Phase.STOPPED


def test_drawdown_quick_stop_uses_pnl():
    bars = [calm(0), calm(1, verdict="TREND")] + [calm(i) for i in range(2, 13)]
    sup = GridSupervisor(SYMBOL, initial_grid=GRID)
    sup.run(bars)
    allocation = sup.grid.allocation
    assert sup.grid.mode.value == "PROBATION"
    kept = sup.step(calm(13), pnl=-0.029 * allocation)
    assert kept.event_kinds() == () and kept.action.value == "KEEP"
    stopped = sup.step(calm(14), pnl=-0.031 * allocation)
    assert stopped.event_kinds() == ("stop",) and stopped.recommendation.quick_stop_triggers == ("drawdown",)


def test_reposition_and_never_stopped_enable():
    bars = [calm(0, price=112.0), calm(1)]
    steps = GridSupervisor(SYMBOL, initial_grid=GRID).run(bars)
    assert steps[0].event_kinds() == ("initial", "reposition")
    moved = steps[0].grid
    assert moved.contains(112.0) and moved.mode.value == "NORMAL" and moved.version == 2
    assert steps[1].event_kinds() == () and steps[1].action.value == "KEEP"
    # No grid at all: RANGE_WEAK waits, RANGE_OK enables a normal grid on the discovered range.
    steps = GridSupervisor(SYMBOL).run([calm(0, verdict="RANGE_WEAK"), calm(1)])
    assert steps[0].grid is None and steps[0].action.value == "NO_ACTION"
    assert steps[1].event_kinds() == ("enable",)
    assert (steps[1].grid.lower, steps[1].grid.upper) == (100.0, 110.0) and steps[1].grid.mode.value == "NORMAL"


def test_start_enabled_waits_for_the_first_range():
    bars = [calm(0, verdict=None, status="insufficient_data"), calm(1, range_lower=float("nan")), calm(2), calm(3)]
    steps = GridSupervisor(SYMBOL, start_enabled=True).run(bars)
    assert [s.recommendation for s in steps[:3]] == [None, None, None]
    assert [s.event_kinds() for s in steps] == [(), (), ("initial",), ()]
    assert steps[2].grid.enabled and (steps[2].grid.lower, steps[2].grid.upper) == (100.0, 110.0)
    assert steps[3].action.value == "KEEP"


def test_no_restart_inside_the_time_floor():
    """Gates that hold from the first bar after the stop still wait for the floor."""
    for floor in (0, 3, 6, 9):
        cfg = GateConfig(min_hours_stopped=floor)
        bars = [calm(0), calm(1, verdict="TREND")] + [calm(i) for i in range(2, 30)]
        steps = GridSupervisor(SYMBOL, initial_grid=GRID, gate_config=cfg).run(bars)
        restarts = [i for i, s in enumerate(steps) if "restart" in s.event_kinds()]
        # Each gate needs 2 holding bars and starts the bar after the previous one passed. Gate 1's first
        # bar is hour 2, so it passes at max(3, 1 + floor). Gate 2 also needs 6 bars of bar-range history
        # (hours 0..5), so it passes at max(gate 1 + 2, 6); Gate 3 two bars later.
        gate1 = max(3, 1 + floor)
        assert restarts == [max(gate1 + 2, 6) + 2]
        assert steps[restarts[0]].evaluation.hours_stopped >= floor


# ---------------------------------------------------------------------------------------------
# rules on random hand-built sequences (independent re-statement of §6–8)
# ---------------------------------------------------------------------------------------------
def _quick_stop(grid, m, pnl):
    return (m.price > grid.upper + 0.5 * m.atr or m.price < grid.lower - 0.5 * m.atr or m.verdict == "TREND"
            or m.vol_change_score > 80 or (pnl is not None and pnl < -0.03 * grid.allocation))


def _key(grid):
    if grid is None:
        return None
    return (grid.lower, grid.upper, grid.levels, grid.allocation, grid.enabled, grid.mode, grid.spacing_mode)


def check_rules(steps, pnls, policy, gate_config, start):
    """Walk the steps and check each hour's events against the §6–8 rules."""
    grid = GRID if start == "initial" else None
    window = None  # (hours, inside, quick stop seen) of the running probation
    stopped_hour = None
    floor = gate_config.for_symbol(SYMBOL).min_hours_stopped
    for step, pnl in zip(steps, pnls, strict=True):
        m, ev = step.market, step.evaluation
        kinds = [k for k in step.event_kinds() if k not in ("initial", "gate_passed")]
        passed = [e.details["gate"] for e in step.events if e.kind == "gate_passed"]
        assert passed == [g.gate for g in ev.gates if g.passed_this_bar]
        if start == "initial" and step is steps[0]:
            assert step.events[0].kind == "initial"
        if grid is None and start == "start_enabled":
            if m.verdict is not None and m.has_range:
                assert step.event_kinds()[-1] == "initial" and step.grid.enabled
                grid = step.grid
            else:
                assert step.grid is None and step.events == tuple(e for e in step.events if e.kind == "gate_passed")
            assert step.recommendation is None
            continue
        enabled = grid is not None and grid.enabled
        verdict = m.verdict
        expected: list[str] = []
        if verdict is None:
            pass
        elif enabled and (verdict in ("TREND", "TRANSITION")
                          or (grid.mode.value == "PROBATION" and _quick_stop(grid, m, pnl))):
            expected = ["stop"]
        elif enabled and not grid.contains(m.price):
            expected = ["reposition"]
        elif not enabled and verdict not in ("TREND", "TRANSITION"):
            if ev.phase is Phase.READY:
                expected = ["restart"]
            elif ev.phase is Phase.ACTIVE and verdict == "RANGE_OK":
                expected = ["enable"]
        # Probation: hours kept on a probationary grid count towards promotion.
        if not expected and enabled and grid.mode.value == "PROBATION" and window is not None:
            hours, inside, stops = window
            window = (hours + 1, inside + grid.contains(m.price), stops or _quick_stop(grid, m, pnl))
            hours, inside, stops = window
            if hours >= policy.probation_hours and not stops and inside / hours >= policy.min_inside_fraction:
                expected = ["promotion"]
        assert kinds == expected, (step.hour, kinds, expected)

        new = step.grid
        if expected == ["stop"]:
            assert not new.enabled and (new.lower, new.upper, new.mode) == (grid.lower, grid.upper, grid.mode)
            assert step.state.phase is Phase.STOPPED and step.state.stopped_at == m.hour
            stopped_hour, window = m.hour, None
        elif expected == ["reposition"]:
            assert new.enabled and new.contains(m.price) and new.mode is grid.mode
            if new.mode.value == "PROBATION":
                window = (0, 0, False)
        elif expected == ["restart"]:
            assert new.enabled and new.mode.value == "PROBATION" and new.contains(m.price)
            assert m.range_lower <= new.lower < new.upper <= m.range_upper
            # Fresh parameters from this hour, not the stopped grid's: centred on the price as far as the
            # current range allows, spaced by the current ATR, decided at this hour's close. (The bounds
            # may coincide with a stopped grid that was itself built from the very same range and price.)
            assert (math.isclose((new.lower + new.upper) / 2, m.price)
                    or new.lower == m.range_lower or new.upper == m.range_upper)
            assert 0.45 - 1e-9 <= new.spacing / m.atr <= 0.55 + 1e-9 and new.created_at == m.hour + HOUR
            assert 0.5 <= new.allocation / policy.normal_allocation <= 0.6 and 4 <= new.levels <= 6
            assert (m.hour - stopped_hour) // HOUR >= floor
            assert ev.hours_stopped >= floor and step.state.phase is Phase.ACTIVE
            window = (0, 0, False)
        elif expected == ["enable"]:
            assert new.enabled and new.mode.value == "NORMAL" and new.contains(m.price)
        elif expected == ["promotion"]:
            assert new.mode.value == "NORMAL" and (new.lower, new.upper) == (grid.lower, grid.upper)
            assert new.allocation == policy.normal_allocation
            window = None
        else:
            assert _key(new) == _key(grid)
            assert new is None or "initial" in step.event_kinds() or new.version == grid.version
        if step.recommendation is not None:
            assert step.recommendation.grid_enabled == enabled
        grid = new


supervised = st.tuples(
    st.integers(0, 2**32 - 1),                       # sequence seed
    st.integers(1, 60),                              # hours
    st.sampled_from([0.0, 0.05, 0.1]),               # share of TREND verdicts on random bars
    st.sampled_from([1, 2, 5, 24]),                  # probation hours
    st.sampled_from([0, 3, 6]),                      # time floor
    st.sampled_from(["initial", "start_enabled", "none"]),
)


def _case(seed, n, trend_bias, probation_hours, floor):
    bars = build_sequence(seed, n, SYMBOL, trend_bias)
    rng = random.Random(seed ^ 0x5EED)
    pnls = [None if rng.random() < 0.5 else rng.uniform(-40.0, 20.0) for _ in bars]
    return bars, pnls, GridPolicy(probation_hours=probation_hours), GateConfig(min_hours_stopped=floor)


def _supervisor(start, policy, cfg, store_dir=None):
    return GridSupervisor(SYMBOL, store_dir=store_dir, gate_config=cfg, policy=policy,
                          initial_grid=GRID if start == "initial" else None, start_enabled=start == "start_enabled")


@settings(max_examples=60)
@given(supervised)
def test_events_follow_the_rules(case):
    seed, n, bias, probation_hours, floor, start = case
    bars, pnls, policy, cfg = _case(seed, n, bias, probation_hours, floor)
    steps = _supervisor(start, policy, cfg).run(bars, pnl=pnls)
    check_rules(steps, pnls, policy, cfg, start)
    # The gate machine saw exactly the stops and restarts the supervisor made.
    stops = {s.hour: s.events[-1].reason for s in steps if "stop" in s.event_kinds()}
    restarts = {s.hour for s in steps if "restart" in s.event_kinds()}
    batch, final = replay(bars, None, cfg, stops=stops, restarts=restarts)
    assert [orjson.dumps(e.to_dict()) for e in batch] == [orjson.dumps(s.evaluation.to_dict()) for s in steps]
    assert final.to_dict() == steps[-1].state.to_dict()


@settings(max_examples=12)
@given(supervised)
def test_property_71_live_hourly_supervisor_equals_run(case):
    """A new supervisor object every hour over the same directory gives exactly the steps of one run."""
    seed, n, bias, probation_hours, floor, start = case
    bars, pnls, policy, cfg = _case(seed, n, bias, probation_hours, floor)
    replayed = _supervisor(start, policy, cfg)
    batch = replayed.run(bars, pnl=pnls)
    with tempfile.TemporaryDirectory() as tmp:
        live = [_supervisor(start, policy, cfg, tmp).step(bar, pnl=pnl) for bar, pnl in zip(bars, pnls, strict=True)]
        assert dumps(live) == dumps(batch)
        store = GridHistoryStore(Path(tmp) / "grids")
        assert store.verify(SYMBOL).ok
        assert [g.to_dict() for g in store.history(SYMBOL)] == [g.to_dict() for g in replayed.history]
        reopened = _supervisor(start, policy, cfg, tmp)
        assert reopened.gate_state.to_dict() == batch[-1].state.to_dict() and reopened.grid == batch[-1].grid


# ---------------------------------------------------------------------------------------------
# persistence details
# ---------------------------------------------------------------------------------------------
def _story():
    return [calm(0), calm(1, verdict="TREND")] + [calm(i) for i in range(2, 40)]


def test_probation_window_survives_restarts_between_hours(tmp_path):
    """Promotion needs the probation hours counted before a process restart."""
    for i, bar in enumerate(_story()):
        step = GridSupervisor(SYMBOL, store_dir=tmp_path, initial_grid=GRID).step(bar)
        if i == 35:
            assert step.event_kinds() == ("promotion",)
    assert GridSupervisor(SYMBOL, store_dir=tmp_path).grid.mode.value == "NORMAL"


@pytest.mark.parametrize("crash_hour", [0, 1, 11, 35])
def test_crash_between_grid_append_and_state_write_is_repaired_by_retrying(tmp_path, monkeypatch, crash_hour):
    bars = _story()
    expected = GridSupervisor(SYMBOL, initial_grid=GRID).run(bars)
    save = GridSupervisor._save
    live = []
    for i, bar in enumerate(bars):
        if i == crash_hour:
            def crash(self):
                raise OSError("simulated crash before the state file is written")
            monkeypatch.setattr(GridSupervisor, "_save", crash)
            with pytest.raises(OSError):
                GridSupervisor(SYMBOL, store_dir=tmp_path, initial_grid=GRID).step(bar)
            monkeypatch.setattr(GridSupervisor, "_save", save)
        live.append(GridSupervisor(SYMBOL, store_dir=tmp_path, initial_grid=GRID).step(bar))
    assert dumps(live) == dumps(expected)
    assert GridHistoryStore(tmp_path / "grids").verify(SYMBOL).versions == expected[-1].grid.version


def test_skipping_the_interrupted_hour_is_refused(tmp_path, monkeypatch):
    bars = _story()
    GridSupervisor(SYMBOL, store_dir=tmp_path, initial_grid=GRID).step(bars[0])
    monkeypatch.setattr(GridSupervisor, "_save", lambda self: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        GridSupervisor(SYMBOL, store_dir=tmp_path, initial_grid=GRID).step(bars[1])  # appends the stop
    monkeypatch.undo()
    with pytest.raises(SupervisorError, match="does not produce"):
        GridSupervisor(SYMBOL, store_dir=tmp_path, initial_grid=GRID).step(bars[2])


def test_refusals(tmp_path):
    sup = GridSupervisor(SYMBOL, store_dir=tmp_path, initial_grid=GRID)
    sup.step(calm(0))
    with pytest.raises(InvalidParameterError, match="not after the last evaluated bar"):
        GridSupervisor(SYMBOL, store_dir=tmp_path).step(calm(0))
    with pytest.raises(InvalidParameterError, match="symbol"):
        sup.step(dataclasses.replace(calm(1), symbol="BTC-USDT"))
    with pytest.raises(InvalidParameterError, match="pnl"):
        sup.step(calm(1), pnl=math.nan)
    with pytest.raises(InvalidParameterError, match="initial_grid.symbol"):
        GridSupervisor("BTC-USDT", initial_grid=GRID)
    with pytest.raises(InvalidParameterError, match="symbol"):
        GridSupervisor("../etc")
    with pytest.raises(InvalidParameterError, match="pnl"):
        GridSupervisor(SYMBOL).run([calm(0), calm(1)], pnl=[None])
    state_file = tmp_path / "supervisor" / f"{SYMBOL}.json"
    state_file.write_bytes(b'{"format": 1, "symbol": "ETH-USDT"')
    with pytest.raises(SupervisorError, match=str(state_file.name)):
        GridSupervisor(SYMBOL, store_dir=tmp_path)


def test_existing_history_wins_over_initial_grid(tmp_path):
    own = GridConfig(SYMBOL, 101.0, 109.0, 9, 500.0, created_at=H0)
    GridHistoryStore(tmp_path / "grids").update(SYMBOL, "set up by the operator", config=own)
    step = GridSupervisor(SYMBOL, store_dir=tmp_path, initial_grid=GRID).step(calm(0))
    assert step.event_kinds() == () and (step.grid.lower, step.grid.upper, step.grid.version) == (101.0, 109.0, 1)


# ---------------------------------------------------------------------------------------------
# rows
# ---------------------------------------------------------------------------------------------
def test_supervise_results_rows_match_per_symbol_supervisors():
    eth = _story()[:14]
    btc = [dataclasses.replace(b, symbol="BTC-USDT", price=b.price + 1.0) for b in eth]
    mixed = [bar for pair in zip(eth, btc, strict=True) for bar in pair]
    btc_grid = dataclasses.replace(GRID, symbol="BTC-USDT")
    rows = supervise_results(mixed, initial_grid={SYMBOL: GRID, "BTC-USDT": btc_grid})
    assert len(rows) == len(mixed) and all(tuple(r) == ROW_COLUMNS for r in rows)
    alone = {SYMBOL: GridSupervisor(SYMBOL, initial_grid=GRID).run(eth),
             "BTC-USDT": GridSupervisor("BTC-USDT", initial_grid=btc_grid).run(btc)}
    for i, row in enumerate(rows):
        step = alone[row["symbol"]][i // 2]
        assert row == step.row()
        assert row["hour"] == step.hour and row["gate_phase"] == step.state.phase.value
    stop_row = rows[2]
    assert (stop_row["symbol"], stop_row["action"], stop_row["actionable"], stop_row["grid_enabled"],
            stop_row["gate_phase"], stop_row["events"]) == (SYMBOL, "DISABLE_GRID", True, False, "STOPPED", "stop")
    restart_row = rows[22]
    assert (restart_row["action"], restart_row["grid_mode"], restart_row["gate_phase"], restart_row["readiness"]) == (
        "ENABLE_GRID", "PROBATION", "ACTIVE", 1.0)
    table = pa.Table.from_pylist(rows)
    assert table.column_names == list(ROW_COLUMNS) and table.num_rows == len(rows)
    assert pa.types.is_timestamp(table.schema.field("hour").type)
    assert rows_to_columns(rows) == {name: table.column(name).to_pylist() for name in ROW_COLUMNS}


def test_rows_before_a_grid_exists_have_nulls():
    rows = supervise_results([calm(0, verdict=None, status="insufficient_data"), calm(1)], start_enabled=True)
    assert rows[0]["action"] is None and rows[0]["grid_mode"] is None and rows[0]["grid_enabled"] is False
    assert rows[1]["events"] == "initial" and rows[1]["grid_lower"] == 100.0
    table = pa.Table.from_pylist(rows)
    assert table.column("action").null_count == 2
