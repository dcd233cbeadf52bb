"""Restart gates, SPEC §8 and §13 properties 54–74."""
from __future__ import annotations

import dataclasses
import itertools
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridregime.errors import InvalidParameterError
from gridregime.grid import (
    GateConfig,
    GateState,
    GateStateStore,
    GridConfig,
    MarketState,
    Phase,
    apply_events,
    evaluate,
    initial_state,
    recommend,
    replay,
    stop,
)
from gridregime.grid.inputs import market_state_from_result

from .reference import CHECKS, reference_run
from .strategies import H0, HOUR, SYMBOL, hourly_sequences

DEFAULT = GateConfig()
REF_CFG = DEFAULT.to_dict()

stop_indexes = st.sets(st.integers(min_value=0, max_value=40), max_size=4)


def run_live(bars, config=DEFAULT, stop_at=(), restart_when_ready=False, state=None):
    """Hour-by-hour loop: evaluate, then stop an ACTIVE grid at ``stop_at`` / restart a READY one."""
    state = state or initial_state(bars[0].symbol)
    evaluations, stops, restarts = [], {}, set()
    for i, bar in enumerate(bars):
        ev = evaluate(state, bar, config)
        evaluations.append(ev)
        state = ev.state
        if state.phase is Phase.ACTIVE and i in stop_at:
            stops[bar.hour] = "test stop"
            state = stop(state, bar.hour, "test stop")
        elif state.phase is Phase.READY and restart_when_ready:
            restarts.add(bar.hour)
            state = apply_events(state, bar.hour, restarted=True)
    return evaluations, state, stops, restarts


def stopped_run(bars, config=DEFAULT):
    """Stop at the first bar, then evaluate the rest (the gates' view of one stop)."""
    return run_live(bars, config, stop_at={0})


def market(i=0, **changes):
    base = {"symbol": SYMBOL, "hour": H0 + i * HOUR, "verdict": "RANGE_OK", "trend_score": 20.0,
            "mean_rev_score": 70.0, "vol_change_score": 20.0, "range_quality_score": 80.0, "grid_capacity": 20,
            "grid_capacity_ok": True, "spacing": 0.5, "adx": 40.0 - i, "atr": 1.0, "atr_rank": 30.0,
            "hour_range_atr": 1.0, "price": 105.0, "range_lower": 100.0, "range_upper": 110.0,
            "confidence": 0.7}
    base.update(changes)
    return MarketState(**base)


def good_bars(n, **changes):
    return [market(i, **changes) for i in range(n)]


def as_dicts(evaluations):
    return [orjson.dumps(ev.to_dict()) for ev in evaluations]


# -- the machine equals the slow reference (underpins 55–64, 72) ----------------------------------
configs = st.builds(GateConfig, min_hours_stopped=st.integers(0, 10), gate_hold_bars=st.integers(1, 3),
                    adx_falling_bars=st.integers(2, 4), gate2_range_bars=st.integers(1, 7),
                    gate3_max_bars=st.integers(1, 14))


@given(hourly_sequences(min_size=1, max_size=60), stop_indexes, st.booleans(), st.one_of(st.just(DEFAULT), configs))
def test_machine_matches_reference_model(bars, stop_at, restart_when_ready, config):
    evaluations, _, _, _ = run_live(bars, config, stop_at, restart_when_ready)
    ref = reference_run(bars, config.to_dict(), stop_at, restart_when_ready)
    for ev, expected in zip(evaluations, ref):
        state = ev.state
        if expected["phase"] in ("STOPPED",) or (expected["phase"] == "ACTIVE" and ev.phase is Phase.READY):
            continue  # the event was applied after the evaluation
        assert ev.phase.value == expected["phase"]
        assert state.hold == expected["hold"]
        passed = [g.gate for g in ev.gates if g.passed_this_bar]
        assert passed == ([] if expected["passed"] is None else [expected["passed"]])


# -- 54 -------------------------------------------------------------------------------------------
@given(hourly_sequences(min_size=2, max_size=10))
def test_property_54_state_initialisation(bars):
    state = initial_state(SYMBOL)
    assert state.phase is Phase.ACTIVE and state.hold == 0 and state.stopped_at is None
    assert state.adx_history == () and state.range_history == ()
    ev = evaluate(state, bars[0])
    assert ev.phase is Phase.ACTIVE and ev.readiness == 1.0 and ev.grid_permitted
    assert all(not g.evaluated for g in ev.gates)
    stopped = stop(ev.state, bars[0].hour, "trend")
    assert stopped.phase is Phase.STOPPED and stopped.stopped_at == bars[0].hour and stopped.hold == 0
    first = evaluate(stopped, bars[1])
    assert first.phase_before is Phase.STOPPED
    assert first.transitions[0] == "STOPPED->GATE_1"
    assert first.phase in (Phase.GATE_1,)  # nothing can pass on the first bar (time floor)
    assert [g.status for g in first.gates] == ["current", "pending", "pending"]


# -- 55 -------------------------------------------------------------------------------------------
@given(hourly_sequences(min_size=2, max_size=50))
def test_property_55_sequential_evaluation(bars):
    evaluations, _, _, _ = stopped_run(bars)
    order = {Phase.GATE_1: 1, Phase.GATE_2: 2, Phase.GATE_3: 3, Phase.READY: 4}
    prev = 1
    for ev in evaluations[1:]:
        now = order[ev.phase]
        assert now <= prev + 1  # at most one gate per bar
        assert sum(g.evaluated for g in ev.gates) == 1
        evaluated = next(g for g in ev.gates if g.evaluated)
        for g in ev.gates:
            if g.gate > evaluated.gate:
                assert not g.evaluated and not g.passed_this_bar
                next_up = evaluated.passed_this_bar and g.gate == evaluated.gate + 1
                assert g.status == ("current" if next_up else "pending")
        prev = now


@given(hourly_sequences(min_size=3, max_size=20), st.data())
@settings(max_examples=50)
def test_property_55_only_current_gate_drives_state(bars, data):
    """At Gate 1, changing the inputs of Gates 2 and 3 changes nothing in the state."""
    _, state, _, _ = stopped_run(bars[:1])
    for bar in bars[1:]:
        ev = evaluate(state, bar)
        if ev.phase_before in (Phase.STOPPED, Phase.GATE_1) and ev.phase is Phase.GATE_1:
            other = dataclasses.replace(
                bar, vol_change_score=data.draw(st.floats(0, 100)), atr_rank=data.draw(st.floats(0, 100)),
                range_quality_score=data.draw(st.floats(0, 100)), mean_rev_score=data.draw(st.floats(0, 100)),
                grid_capacity_ok=data.draw(st.booleans()), price=data.draw(st.floats(90, 120)))
            ev2 = evaluate(state, other)
            assert ev2.state == ev.state or orjson.dumps(ev2.state.to_dict()) == orjson.dumps(ev.state.to_dict())
        state = ev.state


# -- 56, 57, 58 -----------------------------------------------------------------------------------
def _at_gate(evaluations, gate):
    phase = {1: Phase.GATE_1, 2: Phase.GATE_2, 3: Phase.GATE_3}[gate]
    for prev, ev in itertools.pairwise(evaluations):
        if prev.state.phase is phase or (gate == 1 and prev.state.phase is Phase.STOPPED):
            yield prev, ev


def _gate_passage_consistency(bars, gate):
    evaluations, _, _, _ = stopped_run(bars)
    for prev, ev in _at_gate(evaluations, gate):
        if gate > 1 and ev.transitions and "TREND" in ev.transitions[0]:
            continue
        report = ev.gates[gate - 1]
        idx = int((ev.hour - H0) // HOUR)
        ok = CHECKS[gate](bars, idx, REF_CFG)
        hold_before = 0 if prev.state.phase is Phase.STOPPED else prev.state.hold
        expect_pass = ok and hold_before + 1 >= DEFAULT.gate_hold_bars and ev.hours_stopped >= DEFAULT.min_hours_stopped
        assert report.passed_this_bar == expect_pass
        assert report.conditions_met == ok


@given(hourly_sequences(min_size=2, max_size=40))
def test_property_56_gate_1_passage_consistency(bars):
    _gate_passage_consistency(bars, 1)


def _conditions_complete(bars, gate, names):
    evaluations, _, _, _ = stopped_run(bars)
    for ev in evaluations:
        report = ev.gates[gate - 1]
        assert report.gate == gate and report.name
        assert [c.name for c in report.conditions] == names
        assert report.conditions_met == all(c.passed for c in report.conditions)
        for c in report.conditions:
            assert c.operator and c.threshold is not None and isinstance(c.passed, bool)
            d = c.to_dict()
            assert set(d) == {"name", "value", "operator", "threshold", "passed"}
        idx = int((ev.hour - H0) // HOUR)
        assert report.conditions_met == CHECKS[gate](bars, idx, REF_CFG)


@given(hourly_sequences(min_size=1, max_size=30))
def test_property_57_gate_1_conditions_complete(bars):
    _conditions_complete(bars, 1, ["trend_score", "adx_falling", "verdict"])
    # Values are the bar's own numbers and the §8 thresholds.
    ev = evaluate(initial_state(SYMBOL), bars[0])
    c = {x.name: x for x in ev.gates[0].conditions}
    assert c["trend_score"].threshold == 50.0 and (c["trend_score"].value == bars[0].trend_score)
    assert c["adx_falling"].threshold == 3 and c["verdict"].threshold == "TREND"


@given(hourly_sequences(min_size=2, max_size=40), st.sampled_from(["trend", "adx", "verdict"]))
def test_property_58_gate_1_blocking(bars, which):
    """Any one failing Gate 1 condition keeps Gate 1 closed and clears its hold."""
    _evaluations, state, _, _ = stopped_run(bars[:1])
    hour = bars[0].hour
    for i in range(1, 12):
        bar = market(i, adx=40.0 - i)
        if which == "trend":
            bar = dataclasses.replace(bar, trend_score=50.0 + i)
        elif which == "adx":
            bar = dataclasses.replace(bar, adx=40.0 + (i % 2))
        else:
            bar = dataclasses.replace(bar, verdict="TREND")
        ev = evaluate(state, dataclasses.replace(bar, hour=hour + i * HOUR))
        assert ev.phase is Phase.GATE_1 and ev.state.hold == 0
        assert not ev.gates[0].conditions_met and not ev.gates[0].passed_this_bar
        state = ev.state


# -- 59 / 62: progressions with all-good bars -------------------------------------------------------
@given(st.integers(min_value=0, max_value=8), st.integers(min_value=1, max_value=3))
def test_property_59_gate_1_to_2_progression(floor, hold):
    cfg = GateConfig(min_hours_stopped=floor, gate_hold_bars=hold)
    bars = good_bars(30)
    evaluations, _, _, _ = run_live(bars, cfg, stop_at={0})
    first_g2 = next(i for i, ev in enumerate(evaluations) if ev.phase is Phase.GATE_2)
    # Gate 1 needs 3 falling ADX values (first at bar 2) held for `hold` bars, and the floor.
    assert first_g2 == max(floor, 2 + hold - 1, 1)
    assert evaluations[first_g2].gates[0].passed_this_bar
    assert evaluations[first_g2].gates[1].status == "current" and not evaluations[first_g2].gates[1].evaluated


@given(hourly_sequences(min_size=2, max_size=40))
def test_property_60_gate_2_conditions_complete(bars):
    _conditions_complete(bars, 2, ["vol_change_score", "atr_rank", "max_bar_range_atr_6"])


@given(st.sampled_from(["vol", "rank", "bar_range", "missing_rank"]))
def test_property_61_gate_2_blocking(which):
    bars = good_bars(40)
    bad_from = 3
    changed = []
    for i, bar in enumerate(bars):
        if i >= bad_from:
            if which == "vol":
                bar = dataclasses.replace(bar, vol_change_score=50.0)
            elif which == "rank":
                bar = dataclasses.replace(bar, atr_rank=80.0)
            elif which == "missing_rank":
                bar = dataclasses.replace(bar, atr_rank=float("nan"))
            elif i % 5 == 0:
                bar = dataclasses.replace(bar, hour_range_atr=2.01)
        changed.append(bar)
    evaluations, _, _, _ = stopped_run(changed)
    phases = {ev.phase for ev in evaluations[1:]}
    assert Phase.GATE_3 not in phases and Phase.READY not in phases
    assert any(ev.phase is Phase.GATE_2 for ev in evaluations)


@given(st.integers(min_value=0, max_value=10), st.integers(min_value=1, max_value=3))
def test_property_62_gate_2_to_3_progression(floor, hold):
    cfg = GateConfig(min_hours_stopped=floor, gate_hold_bars=hold)
    evaluations, _, _, _ = run_live(good_bars(40), cfg, stop_at={0})
    g2 = next(i for i, ev in enumerate(evaluations) if ev.phase is Phase.GATE_2)
    g3 = next(i for i, ev in enumerate(evaluations) if ev.phase is Phase.GATE_3)
    # Gate 2 starts on the bar after Gate 1 passed and needs 6 bar ranges (first at bar 5).
    assert g3 == max(g2 + 1, 5) + hold - 1
    assert evaluations[g3].gates[1].passed_this_bar


@given(hourly_sequences(min_size=2, max_size=40))
def test_property_63_gate_3_conditions_complete(bars):
    _conditions_complete(bars, 3, ["range_quality_score", "mean_rev_score", "grid_capacity", "price_in_range"])


@given(st.integers(min_value=1, max_value=20), st.sampled_from(["quality", "meanrev", "capacity", "outside"]))
def test_property_64_gate_3_failure_returns_to_gate_2(max_bars, which):
    cfg = GateConfig(gate3_max_bars=max_bars)
    good = good_bars(9)
    _evaluations, state, _, _ = run_live(good, cfg, stop_at={0})
    # The all-good bars reach Gate 3 at bar 8 (floor 6, then Gate 2 holds two bars).
    assert state.phase is Phase.GATE_3 and state.gate3_bars == 0
    bad = {"quality": {"range_quality_score": 59.9}, "meanrev": {"mean_rev_score": 49.9},
           "capacity": {"grid_capacity_ok": False}, "outside": {"price": 110.01}}[which]
    for k in range(1, max_bars + 1):
        ev = evaluate(state, market(8 + k, **bad), cfg)
        state = ev.state
        if k < max_bars:
            assert state.phase is Phase.GATE_3 and state.gate3_bars == k
        else:
            assert state.phase is Phase.GATE_2 and ev.reset
    # A TREND verdict at any gate returns to Gate 1.
    ev = evaluate(state, market(9 + max_bars, verdict="TREND"), cfg)
    assert ev.phase is Phase.GATE_1 and ev.reset


@given(hourly_sequences(min_size=2, max_size=60))
def test_property_64_trend_returns_to_gate_1(bars):
    evaluations, _, _, _ = stopped_run(bars)
    for prev, ev in itertools.pairwise(evaluations):
        if prev.state.phase in (Phase.GATE_2, Phase.GATE_3, Phase.READY) and ev.state.last_hour is not None:
            idx = int((ev.hour - H0) // HOUR)
            if bars[idx].verdict == "TREND":
                assert ev.phase is Phase.GATE_1 and ev.reset


# -- 65, 66 ---------------------------------------------------------------------------------------
@given(st.sampled_from(["RANGE_OK", "RANGE_WEAK"]), st.floats(0, 1))
def test_property_65_regime_transition_on_passing(verdict, confidence):
    bars = [market(i, verdict=verdict if i >= 9 else "RANGE_OK", confidence=confidence) for i in range(14)]
    evaluations, _, _, _ = stopped_run(bars)
    passing = [ev for ev in evaluations if ev.gates[2].passed_this_bar]
    assert len(passing) == 1
    ev = passing[0]
    assert ev.phase is Phase.READY and ev.regime_verdict == "RANGE_OK" and ev.grid_permitted
    for other in evaluations[1:]:
        if other.phase is not Phase.READY:
            assert other.regime_verdict == bars[int((other.hour - H0) // HOUR)].verdict


@given(hourly_sequences(min_size=2, max_size=50))
def test_property_66_grid_creation_permission(bars):
    evaluations, _, _, _ = stopped_run(bars)
    old = GridConfig(SYMBOL, 50.0, 60.0, 10, 1000.0, enabled=False)
    for ev, bar in zip(evaluations[1:], bars[1:]):
        assert ev.grid_permitted == (ev.phase is Phase.READY)
        rec = recommend(bar, old, ev.state)
        if rec.action.value == "ENABLE_GRID":
            assert ev.phase is Phase.READY and rec.proposed.mode.value == "PROBATION"
        if ev.phase is not Phase.READY:
            assert rec.action.value == "NO_ACTION" and rec.informational


# -- 67 -------------------------------------------------------------------------------------------
@given(st.floats(100.0, 110.0), st.floats(1.0, 1000.0), st.floats(0.3, 2.0))
def test_property_67_fresh_grid_parameters(price, old_lower, atr):
    bars = [market(i, price=price if i >= 9 else 105.0, atr=atr) for i in range(12)]
    _evaluations, state, _, _ = stopped_run(bars)
    assert state.phase is Phase.READY
    last = bars[-1]
    proposals = set()
    for old in (GridConfig(SYMBOL, old_lower, old_lower * 1.1, 12, 1000.0, enabled=False),
                GridConfig(SYMBOL, 100.0, 110.0, 30, 5.0, enabled=False, mode="PROBATION")):
        rec = recommend(last, old, state)
        assert rec.action.value == "ENABLE_GRID"
        p = rec.proposed
        assert p.mode.value == "PROBATION" and p.enabled and p.version == 0
        assert last.range_lower <= p.lower < p.upper <= last.range_upper and p.contains(price)
        proposals.add(orjson.dumps(p.to_dict()))
    assert len(proposals) == 1  # built from the market alone, never from the stopped grid


# -- 68 -------------------------------------------------------------------------------------------
@given(hourly_sequences(min_size=1, max_size=40), stop_indexes)
def test_property_68_output_completeness(bars, stop_at):
    evaluations, _, _, _ = run_live(bars, DEFAULT, stop_at)
    for ev in evaluations:
        d = orjson.loads(orjson.dumps(ev.to_dict()))
        assert set(d) >= {"symbol", "hour", "phase_before", "phase", "transitions", "gates", "hours_stopped",
                          "time_floor_hours_left", "time_floor_met", "readiness", "reset", "grid_permitted",
                          "regime_verdict", "state"}
        assert [g["gate"] for g in d["gates"]] == [1, 2, 3]
        for g in d["gates"]:
            assert g["conditions"] and g["status"] in ("passed", "current", "pending")
            for c in g["conditions"]:
                assert set(c) == {"name", "value", "operator", "threshold", "passed"}
        if ev.hours_stopped is None:
            assert ev.phase is Phase.ACTIVE and ev.time_floor_hours_left == 0
        else:
            assert ev.time_floor_hours_left == max(0, DEFAULT.min_hours_stopped - ev.hours_stopped)
            assert ev.hours_stopped == int((ev.hour - ev.state.stopped_at) // HOUR)


# -- 69 -------------------------------------------------------------------------------------------
@given(hourly_sequences(min_size=1, max_size=40), stop_indexes)
def test_property_69_state_persistence_round_trip(bars, stop_at):
    _, state, _, _ = run_live(bars, DEFAULT, stop_at)
    back = GateState.from_json(state.to_json())
    assert back.to_dict() == state.to_dict()
    assert [math.isnan(x) for x in back.adx_history] == [math.isnan(x) for x in state.adx_history]


def test_property_69_store_round_trip_and_errors(tmp_path):
    store = GateStateStore(tmp_path)
    assert store.load(SYMBOL) == initial_state(SYMBOL)
    _, state, _, _ = run_live(good_bars(12), DEFAULT, stop_at={0})
    store.save(state)
    assert store.load(SYMBOL).to_dict() == state.to_dict()
    store.path(SYMBOL).write_bytes(b'{"symbol": "ETH-USDT", "phase": "NOPE"')
    with pytest.raises(Exception, match="ETH-USDT.gates.json"):
        store.load(SYMBOL)
    with pytest.raises(InvalidParameterError, match="symbol"):
        store.path("../etc")


# -- 70 -------------------------------------------------------------------------------------------
overrides = st.fixed_dictionaries({
    "min_hours_stopped": st.integers(0, 12), "gate_hold_bars": st.integers(1, 4),
    "gate1_trend_max": st.sampled_from([30.0, 50.0, 70.0]), "gate3_max_bars": st.integers(1, 15),
    "gate2_range_bars": st.integers(1, 8),
})


@given(hourly_sequences(min_size=2, max_size=50, symbol="ETH-USDT"), overrides)
@settings(max_examples=50)
def test_property_70_per_symbol_customisation(bars, custom):
    config = GateConfig(symbol_overrides={"ETH-USDT": custom})
    other = [dataclasses.replace(b, symbol="BTC-USDT") for b in bars]
    eth, _, _, _ = run_live(bars, config, stop_at={0})
    eth_direct, _, _, _ = run_live(bars, GateConfig(**custom), stop_at={0})
    btc, _, _, _ = run_live(other, config, stop_at={0})
    btc_default, _, _, _ = run_live(other, DEFAULT, stop_at={0})
    assert as_dicts(eth) == as_dicts(eth_direct)
    assert as_dicts(btc) == as_dicts(btc_default)
    assert config.for_symbol("ETH-USDT").min_hours_stopped == custom["min_hours_stopped"]


def test_property_70_overrides_are_validated():
    with pytest.raises(InvalidParameterError, match=r"symbol_overrides\[.ETH-USDT.\].*nope"):
        GateConfig(symbol_overrides={"ETH-USDT": {"nope": 1}})
    with pytest.raises(InvalidParameterError, match="gate_hold_bars"):
        GateConfig(symbol_overrides={"ETH-USDT": {"gate_hold_bars": 0}})
    with pytest.raises(InvalidParameterError, match="symbol"):
        GateConfig(symbol_overrides={"../x": {"gate_hold_bars": 2}})
    with pytest.raises(InvalidParameterError, match="min_hours_stopped"):
        GateConfig(min_hours_stopped=-1)


# -- 71 -------------------------------------------------------------------------------------------
@given(hourly_sequences(min_size=1, max_size=50), stop_indexes, st.booleans())
def test_property_71_bar_by_bar_equals_batch_replay(bars, stop_at, restart_when_ready):
    saved = initial_state(SYMBOL).to_json()
    live = []
    for i, bar in enumerate(bars):
        state = GateState.from_json(saved)  # JSON save/load between every hour
        ev = evaluate(state, bar)
        live.append(ev)
        state = ev.state
        if state.phase is Phase.ACTIVE and i in stop_at:
            state = stop(state, bar.hour, "test stop")
        elif state.phase is Phase.READY and restart_when_ready:
            state = apply_events(state, bar.hour, restarted=True)
        saved = state.to_json()
    _, _, stops, restarts = run_live(bars, DEFAULT, stop_at, restart_when_ready)
    batch, final = replay(bars, None, DEFAULT, stops=stops, restarts=restarts)
    assert as_dicts(batch) == as_dicts(live)
    assert final.to_json() == saved


@given(hourly_sequences(min_size=1, max_size=24), stop_indexes)
@settings(max_examples=10)
def test_property_71_with_state_files(tmp_path_factory, bars, stop_at):
    store = GateStateStore(tmp_path_factory.mktemp("gates"))
    live = []
    for i, bar in enumerate(bars):
        ev = evaluate(store.load(SYMBOL), bar)
        live.append(ev)
        state = stop(ev.state, bar.hour, "test stop") if ev.phase is Phase.ACTIVE and i in stop_at else ev.state
        store.save(state)
    _, _, stops, _ = run_live(bars, DEFAULT, stop_at)
    batch, final = replay(bars, None, DEFAULT, stops=stops)
    assert as_dicts(batch) == as_dicts(live)
    assert final.to_dict() == store.load(SYMBOL).to_dict()


# -- 72 -------------------------------------------------------------------------------------------
@given(hourly_sequences(min_size=2, max_size=50), st.integers(0, 20), stop_indexes)
def test_property_72_time_floor(bars, floor, stop_at):
    cfg = GateConfig(min_hours_stopped=floor)
    evaluations, _, _, _ = run_live(bars, cfg, stop_at | {0})
    for ev in evaluations:
        if any(g.passed_this_bar for g in ev.gates):
            assert ev.hours_stopped >= floor and ev.time_floor_met
        if ev.phase is Phase.READY:
            assert ev.hours_stopped >= floor
        if ev.hours_stopped is not None and ev.hours_stopped < floor:
            assert ev.phase in (Phase.GATE_1,) and not ev.time_floor_met


# -- 73 -------------------------------------------------------------------------------------------
@given(hourly_sequences(min_size=2, max_size=60), stop_indexes, st.booleans())
def test_property_73_readiness_monotonic_without_reset(bars, stop_at, restart_when_ready):
    evaluations, _, _, _ = run_live(bars, DEFAULT, stop_at | {0}, restart_when_ready)
    prev = None
    for ev in evaluations:
        assert 0.0 <= ev.readiness <= 1.0
        if prev is not None and ev.phase_before is prev.phase and not ev.reset:
            # phase_before == previous phase: no stop or restart event in between.
            assert ev.readiness >= prev.readiness - 1e-12
        prev = ev


def test_property_73_readiness_reaches_one_on_clean_run():
    evaluations, _, _, _ = stopped_run(good_bars(12))
    values = [ev.readiness for ev in evaluations[1:]]
    assert values == sorted(values) and values[-1] == 1.0 and not any(ev.reset for ev in evaluations)


# -- 74 -------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _FV:
    value: float
    rank: float | None


@dataclasses.dataclass
class _Scores:
    trend: float
    mean_rev: float
    vol_change: float
    range_quality: float
    grid_capacity: int
    grid_capacity_ok: bool
    spacing: float


@dataclasses.dataclass
class _Range:
    lower: float
    upper: float


@dataclasses.dataclass
class _Result:
    """Duck-typed stand-in with the RegimeResult attributes the grid layer reads."""

    symbol: str
    hour: object
    verdict: str
    direction: int
    confidence: float
    scores: _Scores
    features: dict
    price: float
    atr: float
    chosen_range: _Range
    status: str = "ok"


def _result_from_market(m: MarketState, confidence: float) -> _Result:
    return _Result(
        symbol=m.symbol, hour=m.hour, verdict=m.verdict, direction=m.direction, confidence=confidence,
        scores=_Scores(m.trend_score, m.mean_rev_score, m.vol_change_score, m.range_quality_score,
                       m.grid_capacity, m.grid_capacity_ok, m.spacing),
        features={"adx": _FV(m.adx, 50.0), "atr": _FV(m.atr, m.atr_rank), "hour_range_atr": _FV(m.hour_range_atr, None)},
        price=m.price, atr=m.atr, chosen_range=_Range(m.range_lower, m.range_upper))


@given(hourly_sequences(min_size=2, max_size=40), st.lists(st.floats(0, 1), min_size=40, max_size=40))
@settings(max_examples=50)
def test_property_74_confidence_ignored(bars, confidences):
    varied = [dataclasses.replace(b, confidence=c) for b, c in zip(bars, confidences)]
    a, _, _, _ = stopped_run(bars)
    b, _, _, _ = stopped_run(varied)
    assert as_dicts(a) == as_dicts(b)
    # The same through the result adapter: confidence never reaches a decision.
    results_a = [_result_from_market(m, 0.01) for m in bars]
    results_b = [_result_from_market(m, c) for m, c in zip(bars, confidences)]
    ra, _ = replay(results_a, None, DEFAULT, stops={bars[0].hour: "x"})
    rb, _ = replay(results_b, None, DEFAULT, stops={bars[0].hour: "x"})
    assert as_dicts(ra) == as_dicts(rb)
    grid = GridConfig(SYMBOL, 100.0, 110.0, 10, 1000.0, enabled=True, mode="PROBATION")
    for x, y, ev in zip(results_a, results_b, ra):
        assert recommend(x, grid, ev.state).to_dict() == recommend(y, grid, ev.state).to_dict()
        assert market_state_from_result(x).to_dict() | {"confidence": None} == \
            market_state_from_result(y).to_dict() | {"confidence": None}


# -- errors ---------------------------------------------------------------------------------------
def test_evaluate_refuses_repeated_or_foreign_hours():
    ev = evaluate(initial_state(SYMBOL), market(0))
    with pytest.raises(InvalidParameterError, match="hour"):
        evaluate(ev.state, market(0))
    with pytest.raises(InvalidParameterError, match="symbol"):
        evaluate(ev.state, dataclasses.replace(market(1), symbol="BTC-USDT"))
    with pytest.raises(InvalidParameterError, match="phase"):
        stop(stop(ev.state, market(0).hour, "x"), market(0).hour, "again")
    with pytest.raises(InvalidParameterError, match="phase"):
        apply_events(ev.state, market(0).hour, restarted=True)
    with pytest.raises(InvalidParameterError, match="phase"):
        GateState.from_dict({"symbol": SYMBOL, "phase": "NOPE"})
    with pytest.raises(InvalidParameterError, match="gate state"):
        GateState.from_json(b"{")
    good = initial_state(SYMBOL).to_dict()
    for field, value in (("adx_history", 5), ("range_history", ["x"]), ("hold", "2"), ("hold", -1),
                         ("last_hour", "2025-01-01T10:30:00Z"), ("stops", 1.5), ("format", 2), ("extra", 1)):
        with pytest.raises(InvalidParameterError, match=field):
            GateState.from_dict({**good, field: value})
