"""Restart gates (SPEC §8): a per-symbol state machine evaluated once per closed hourly bar.

Phases: ``ACTIVE`` (grid running) → ``STOPPED`` (on DISABLE_GRID or a quick stop, see
:func:`stop`) → ``GATE_1`` → ``GATE_2`` → ``GATE_3`` → ``READY`` → ``ACTIVE`` (on restart, see
:func:`restart`).

Per evaluated bar, in order:

1. The ADX and bar-range histories are updated (in every phase, so the gates have history the
   moment a grid stops).
2. ``STOPPED`` becomes ``GATE_1`` on the first bar after the stop.
3. A ``TREND`` verdict while at Gate 2, Gate 3 or READY returns to Gate 1.
4. Only the current gate is evaluated. Its hold counter counts consecutive bars on which all its
   conditions hold (it also counts during the time floor). The gate passes when the counter has
   reached ``gate_hold_bars`` *and* at least ``min_hours_stopped`` hours have passed since the
   stop. At most one gate passes per bar; the next gate starts on the next bar.
5. At Gate 3, ``gate3_max_bars`` bars without passing return to Gate 2.
6. At READY the Gate 3 conditions are re-checked each bar; if they fail, back to Gate 3.

Definitions chosen where §8 is brief: "ADX falling over 3 bars" = the last ``adx_falling_bars``
(3) ADX values strictly decreasing; "no bar range > 2 ATR in 6 bars" = the last
``gate2_range_bars`` (6) values of ``hour_range_atr`` all known and <= 2. Missing values (NaN)
fail a condition. Classifier confidence is never read.

Readiness in [0, 1]: ``0.25 * time_floor_progress + 0.75 * gate_progress`` with
``gate_progress = (gates_passed + 0.5 * min(hold, hold_bars) / hold_bars) / 3``; ACTIVE is 1.
It only decreases on a *reset* (a stop, a return to an earlier gate, or a hold counter cleared by
a failing bar), and every evaluation says whether it reset.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise
from typing import Any

from gridregime.errors import InvalidParameterError
from gridregime.grid.gate_state import GateState, GateStateStore, Phase, initial_state, restart, stop
from gridregime.grid.inputs import RANGE_OK, TREND, MarketState, as_market_state
from gridregime.grid.settings import GateConfig
from gridregime.timeutil import iso_z, to_utc_hour

__all__ = ["GATE_NAMES", "Condition", "GateConfig", "GateEvaluation", "GateReport", "GateState", "GateStateStore",
           "Phase", "apply_events", "evaluate", "gate_conditions", "initial_state", "readiness", "replay", "restart",
           "stop"]

_GATE_OF_PHASE = {Phase.GATE_1: 1, Phase.GATE_2: 2, Phase.GATE_3: 3}
_PHASE_OF_GATE = {1: Phase.GATE_1, 2: Phase.GATE_2, 3: Phase.GATE_3}
_GATES_PASSED = {Phase.STOPPED: 0, Phase.GATE_1: 0, Phase.GATE_2: 1, Phase.GATE_3: 2, Phase.READY: 3}
GATE_NAMES = {1: "directional energy spent", 2: "volatility normalised", 3: "range re-formed"}


# ---------------------------------------------------------------------------------------------
# evaluation output
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """One gate condition: ``value <operator> threshold`` and whether it held."""

    name: str
    value: Any
    operator: str
    threshold: Any
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and math.isnan(v):
                return None
            if isinstance(v, tuple):
                return [clean(x) for x in v]
            return v

        return {"name": self.name, "value": clean(self.value), "operator": self.operator,
                "threshold": clean(self.threshold), "passed": self.passed}


@dataclass(frozen=True)
class GateReport:
    """One gate on one bar.

    ``status`` is ``passed`` (passed earlier or on this bar), ``current`` (evaluated this bar and
    not passed) or ``pending`` (not evaluated: gates are sequential). ``conditions`` are computed
    for every gate for display; only the current gate's drive the state.
    """

    gate: int
    name: str
    status: str
    evaluated: bool
    conditions: tuple[Condition, ...]
    conditions_met: bool
    hold: int
    hold_required: int
    passed_this_bar: bool

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "name": self.name, "status": self.status, "evaluated": self.evaluated,
                "conditions": [c.to_dict() for c in self.conditions], "conditions_met": self.conditions_met,
                "hold": self.hold, "hold_required": self.hold_required, "passed_this_bar": self.passed_this_bar}


@dataclass(frozen=True)
class GateEvaluation:
    """The result of evaluating one bar: the new state and a complete report.

    ``regime_verdict`` is ``RANGE_OK`` once Gate 3 has passed (READY): the gates declare the range
    re-formed (SPEC §8); otherwise it is the classifier's verdict. ``grid_permitted`` is True at
    READY (create a probationary grid) and while ACTIVE.
    """

    symbol: str
    hour: datetime
    phase_before: Phase
    phase: Phase
    transitions: tuple[str, ...]
    gates: tuple[GateReport, GateReport, GateReport]
    hours_stopped: int | None
    time_floor_hours_left: int
    time_floor_met: bool
    readiness: float
    reset: bool
    grid_permitted: bool
    regime_verdict: str | None
    state: GateState

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "hour": iso_z(self.hour, microseconds=True), "phase_before": self.phase_before.value,
            "phase": self.phase.value, "transitions": list(self.transitions),
            "gates": [g.to_dict() for g in self.gates], "hours_stopped": self.hours_stopped,
            "time_floor_hours_left": self.time_floor_hours_left, "time_floor_met": self.time_floor_met,
            "readiness": self.readiness, "reset": self.reset, "grid_permitted": self.grid_permitted,
            "regime_verdict": self.regime_verdict, "state": self.state.to_dict(),
        }


# ---------------------------------------------------------------------------------------------
# conditions
# ---------------------------------------------------------------------------------------------
def _strictly_falling(values: Sequence[float], n: int) -> bool:
    if len(values) < n:
        return False
    tail = values[-n:]
    return all(math.isfinite(v) for v in tail) and all(b < a for a, b in pairwise(tail))


def gate_conditions(gate: int, market: MarketState, state: GateState, config: GateConfig) -> tuple[Condition, ...]:
    """The conditions of ``gate`` (1, 2 or 3) for this bar; ``state`` must already hold this bar's history."""
    if gate == 1:
        adx = state.adx_history[-config.adx_falling_bars:]
        return (
            Condition("trend_score", market.trend_score, "<", config.gate1_trend_max,
                      market.trend_score < config.gate1_trend_max),
            Condition("adx_falling", tuple(adx), "strictly decreasing over bars", config.adx_falling_bars,
                      _strictly_falling(state.adx_history, config.adx_falling_bars)),
            Condition("verdict", market.verdict, "!=", TREND, market.verdict is not None and market.verdict != TREND),
        )
    if gate == 2:
        recent = state.range_history[-config.gate2_range_bars:]
        full = len(recent) == config.gate2_range_bars and all(math.isfinite(v) for v in recent)
        worst = max(recent) if full else math.nan
        return (
            Condition("vol_change_score", market.vol_change_score, "<", config.gate2_vol_change_max,
                      market.vol_change_score < config.gate2_vol_change_max),
            Condition("atr_rank", market.atr_rank, "<", config.gate2_atr_rank_max,
                      market.atr_rank < config.gate2_atr_rank_max),
            Condition(f"max_bar_range_atr_{config.gate2_range_bars}", worst, "<=", config.gate2_bar_range_atr_max,
                      full and worst <= config.gate2_bar_range_atr_max),
        )
    if gate == 3:
        return (
            Condition("range_quality_score", market.range_quality_score, ">=", config.gate3_range_quality_min,
                      market.range_quality_score >= config.gate3_range_quality_min),
            Condition("mean_rev_score", market.mean_rev_score, ">=", config.gate3_mean_rev_min,
                      market.mean_rev_score >= config.gate3_mean_rev_min),
            Condition("grid_capacity", market.grid_capacity, "enough (grid_capacity_ok)", True,
                      bool(market.grid_capacity_ok)),
            Condition("price_in_range", market.price, "inside", (market.range_lower, market.range_upper),
                      market.price_in_range),
        )
    raise InvalidParameterError(f"gate: expected 1, 2 or 3, got {gate!r}")


def readiness(state: GateState, config: GateConfig = GateConfig()) -> float:
    """Restart readiness in [0, 1] (see the module docstring); 1.0 while ACTIVE."""
    cfg = config.for_symbol(state.symbol)
    if state.phase is Phase.ACTIVE:
        return 1.0
    hours = state.hours_stopped() or 0
    time_progress = 1.0 if cfg.min_hours_stopped == 0 else min(1.0, hours / cfg.min_hours_stopped)
    hold_part = 0.0
    if state.phase in _GATE_OF_PHASE:
        hold_part = 0.5 * min(state.hold, cfg.gate_hold_bars) / cfg.gate_hold_bars
    gate_progress = (_GATES_PASSED[state.phase] + hold_part) / 3.0
    return 0.25 * time_progress + 0.75 * gate_progress


# ---------------------------------------------------------------------------------------------
# the machine
# ---------------------------------------------------------------------------------------------
def evaluate(state: GateState, market: Any, config: GateConfig = GateConfig()) -> GateEvaluation:
    """Evaluate one closed hourly bar and return the new state with a full report.

    Parameters
    ----------
    state : GateState
        The state after the previous bar (or :func:`initial_state`).
    market : MarketState or RegimeResult
        This bar's analysis; its hour must be later than ``state.last_hour``.
    config : GateConfig
        Thresholds; the symbol's overrides are applied.
    """
    market = as_market_state(market)
    if market.symbol != state.symbol:
        raise InvalidParameterError(f"symbol: gate state is for {state.symbol}, market state for {market.symbol}")
    if state.last_hour is not None and market.hour <= state.last_hour:
        raise InvalidParameterError(
            f"hour: {market.hour.isoformat()} is not after the last evaluated bar {state.last_hour.isoformat()} "
            "(one evaluation per closed bar)")
    cfg = config.for_symbol(state.symbol)
    before = state
    keep_adx = max(cfg.adx_falling_bars, 1)
    keep_rng = max(cfg.gate2_range_bars, 1)
    s = replace(state, last_hour=market.hour,
                adx_history=(state.adx_history + (market.adx,))[-keep_adx:],
                range_history=(state.range_history + (market.hour_range_atr,))[-keep_rng:])
    transitions: list[str] = []
    reset = False
    passed_gate: int | None = None
    evaluated_gate: int | None = None

    if s.phase is Phase.STOPPED:
        s = replace(s, phase=Phase.GATE_1, hold=0)
        transitions.append("STOPPED->GATE_1")
    hours = s.hours_stopped()
    floor_met = hours is not None and hours >= cfg.min_hours_stopped

    if s.phase in (Phase.GATE_2, Phase.GATE_3, Phase.READY) and market.verdict == TREND:
        transitions.append(f"{s.phase.value}->GATE_1 (TREND verdict)")
        s = replace(s, phase=Phase.GATE_1, hold=0, gate3_bars=0)
        reset = True

    if s.phase in _GATE_OF_PHASE:
        gate = evaluated_gate = _GATE_OF_PHASE[s.phase]
        met = all(c.passed for c in gate_conditions(gate, market, s, cfg))
        hold = s.hold + 1 if met else 0
        if not met and s.hold > 0:
            reset = True
        if met and hold >= cfg.gate_hold_bars and floor_met:
            nxt = Phase.READY if gate == 3 else _PHASE_OF_GATE[gate + 1]
            transitions.append(f"{s.phase.value}->{nxt.value}")
            s = replace(s, phase=nxt, hold=0, gate3_bars=0)
            passed_gate = gate
        elif gate == 3:
            bars = s.gate3_bars + 1
            if bars >= cfg.gate3_max_bars:
                transitions.append(f"GATE_3->GATE_2 (not passed in {cfg.gate3_max_bars} bars)")
                s = replace(s, phase=Phase.GATE_2, hold=0, gate3_bars=0)
                reset = True
            else:
                s = replace(s, hold=hold, gate3_bars=bars)
        else:
            s = replace(s, hold=hold)
    elif s.phase is Phase.READY:
        evaluated_gate = 3
        if not all(c.passed for c in gate_conditions(3, market, s, cfg)):
            transitions.append("READY->GATE_3 (range no longer formed)")
            s = replace(s, phase=Phase.GATE_3, hold=0, gate3_bars=0)
            reset = True

    reports = []
    current = _GATE_OF_PHASE.get(s.phase)
    passed_count = 0 if s.phase is Phase.ACTIVE else _GATES_PASSED[s.phase]
    for gate in (1, 2, 3):
        conditions = gate_conditions(gate, market, s, cfg)
        if gate <= passed_count:
            status = "passed"
        elif gate == current:
            status = "current"
        else:
            status = "pending"
        reports.append(GateReport(
            gate=gate, name=GATE_NAMES[gate], status=status, evaluated=evaluated_gate == gate,
            conditions=conditions, conditions_met=all(c.passed for c in conditions),
            hold=s.hold if gate == current else 0, hold_required=cfg.gate_hold_bars,
            passed_this_bar=passed_gate == gate))

    left = 0 if hours is None else max(0, cfg.min_hours_stopped - hours)
    verdict = RANGE_OK if s.phase is Phase.READY else market.verdict
    return GateEvaluation(
        symbol=s.symbol, hour=market.hour, phase_before=before.phase, phase=s.phase,
        transitions=tuple(transitions), gates=tuple(reports), hours_stopped=hours,
        time_floor_hours_left=left, time_floor_met=bool(floor_met), readiness=readiness(s, cfg), reset=reset,
        grid_permitted=s.phase in (Phase.READY, Phase.ACTIVE), regime_verdict=verdict, state=s,
    )


def replay(
    markets: Iterable[Any],
    state: GateState | None = None,
    config: GateConfig = GateConfig(),
    *,
    stops: Mapping[datetime, str] | None = None,
    restarts: Collection[datetime] = (),
) -> tuple[list[GateEvaluation], GateState]:
    """Evaluate an ordered sequence of bars in one pass.

    After evaluating the bar of hour H, ``stops[H]`` (a reason) stops the grid and an H in
    ``restarts`` restarts it — the same calls a live loop makes after acting on that hour's
    recommendation. Returns every evaluation and the final state (after events), identical to
    evaluating hour by hour with the state saved to and loaded from JSON in between.
    """
    stops = {to_utc_hour(h, name="stops"): r for h, r in (stops or {}).items()}
    restarts = {to_utc_hour(h, name="restarts") for h in restarts}
    evaluations: list[GateEvaluation] = []
    for market in markets:
        market = as_market_state(market)
        if state is None:
            state = initial_state(market.symbol)
        ev = evaluate(state, market, config)
        evaluations.append(ev)
        state = apply_events(ev.state, market.hour, stop_reason=stops.get(market.hour),
                             restarted=market.hour in restarts)
    if state is None:
        raise InvalidParameterError("markets: expected at least one bar when no initial state is given")
    return evaluations, state


def apply_events(state: GateState, hour: datetime, *, stop_reason: str | None = None,
                 restarted: bool = False) -> GateState:
    """Apply this hour's stop or restart (if any) to the evaluated state."""
    if stop_reason is not None and restarted:
        raise InvalidParameterError(f"hour: {hour.isoformat()} cannot both stop and restart")
    if stop_reason is not None:
        return stop(state, hour, stop_reason)
    if restarted:
        return restart(state, hour)
    return state
