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
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import Enum
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson

from gridregime._atomic import atomic_write_bytes
from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.grid.config import iso_utc
from gridregime.grid.inputs import RANGE_OK, TREND, MarketState, as_market_state
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, to_utc_hour

STATE_FORMAT = 1


class Phase(str, Enum):
    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"
    GATE_1 = "GATE_1"
    GATE_2 = "GATE_2"
    GATE_3 = "GATE_3"
    READY = "READY"


_GATE_OF_PHASE = {Phase.GATE_1: 1, Phase.GATE_2: 2, Phase.GATE_3: 3}
_PHASE_OF_GATE = {1: Phase.GATE_1, 2: Phase.GATE_2, 3: Phase.GATE_3}
_GATES_PASSED = {Phase.STOPPED: 0, Phase.GATE_1: 0, Phase.GATE_2: 1, Phase.GATE_3: 2, Phase.READY: 3}
GATE_NAMES = {1: "directional energy spent", 2: "volatility normalised", 3: "range re-formed"}


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateConfig:
    """Gate thresholds (SPEC §8 defaults) with optional per-symbol overrides.

    ``overrides`` maps a symbol to ``{field: value}``; :meth:`for_symbol` applies them. The machine
    always evaluates with ``config.for_symbol(state.symbol)``.
    """

    min_hours_stopped: int = 6
    gate_hold_bars: int = 2
    gate1_trend_max: float = 50.0
    adx_falling_bars: int = 3
    gate2_vol_change_max: float = 50.0
    gate2_atr_rank_max: float = 80.0
    gate2_bar_range_atr_max: float = 2.0
    gate2_range_bars: int = 6
    gate3_range_quality_min: float = 60.0
    gate3_mean_rev_min: float = 50.0
    gate3_max_bars: int = 12
    overrides: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = field(default=())

    def __post_init__(self) -> None:
        ints = {"min_hours_stopped": 0, "gate_hold_bars": 1, "adx_falling_bars": 2, "gate2_range_bars": 1,
                "gate3_max_bars": 1}
        for name, low in ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidParameterError(f"{name}: expected an integer >= {low}, got {value!r}")
        for name in ("gate1_trend_max", "gate2_vol_change_max", "gate2_atr_rank_max", "gate3_range_quality_min",
                     "gate3_mean_rev_min"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise InvalidParameterError(f"{name}: expected a score threshold in [0, 100], got {value!r}")
        value = self.gate2_bar_range_atr_max
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise InvalidParameterError(f"gate2_bar_range_atr_max: expected a finite number > 0, got {value!r}")
        overrides = self.overrides
        if isinstance(overrides, Mapping):
            overrides = tuple((s, tuple(sorted(dict(o).items()))) for s, o in sorted(overrides.items()))
        normal = []
        for symbol, items in overrides:
            validate_symbol(symbol, name="overrides symbol")
            items = tuple(sorted(dict(items).items()))
            for key, _ in items:
                if key not in _THRESHOLD_FIELDS:
                    raise InvalidParameterError(
                        f"overrides.{symbol}.{key}: not a gate threshold (expected one of {', '.join(_THRESHOLD_FIELDS)})")
            # Validate the override values now, not at first use.
            replace(self, overrides=(), **dict(items))
            normal.append((symbol, items))
        object.__setattr__(self, "overrides", tuple(normal))

    def for_symbol(self, symbol: str) -> GateConfig:
        """Thresholds for ``symbol`` (defaults with that symbol's overrides applied)."""
        for name, items in self.overrides:
            if name == symbol:
                return replace(self, overrides=(), **dict(items))
        return replace(self, overrides=()) if self.overrides else self

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in _THRESHOLD_FIELDS}
        out["overrides"] = {s: dict(items) for s, items in self.overrides}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateConfig:
        known = set(_THRESHOLD_FIELDS) | {"overrides"}
        for key in data:
            if key not in known:
                raise InvalidParameterError(f"{key}: not a GateConfig field")
        return cls(**dict(data))


_THRESHOLD_FIELDS = tuple(f.name for f in fields(GateConfig) if f.name != "overrides")


# ---------------------------------------------------------------------------------------------
# state
# ---------------------------------------------------------------------------------------------
def _nan_to_none(values: Iterable[float]) -> list[float | None]:
    return [None if (v is None or math.isnan(v)) else float(v) for v in values]


def _none_to_nan(values: Iterable[float | None]) -> tuple[float, ...]:
    return tuple(math.nan if v is None else float(v) for v in values)


@dataclass(frozen=True)
class GateState:
    """Everything the gates remember between bars (persisted as JSON).

    ``hold`` counts consecutive bars the current gate's conditions held; ``gate3_bars`` counts bars
    spent at Gate 3 without passing; ``adx_history`` / ``range_history`` keep the last ADX and
    ``hour_range_atr`` values (NaN = missing).
    """

    symbol: str
    phase: Phase = Phase.ACTIVE
    last_hour: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    hold: int = 0
    gate3_bars: int = 0
    adx_history: tuple[float, ...] = ()
    range_history: tuple[float, ...] = ()
    stops: int = 0
    restarts: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", validate_symbol(self.symbol))
        try:
            object.__setattr__(self, "phase", Phase(self.phase))
        except ValueError:
            raise InvalidParameterError(
                f"phase: expected one of {', '.join(p.value for p in Phase)}, got {self.phase!r}") from None
        for name in ("last_hour", "stopped_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_utc_hour(value, name=name))
        for name in ("hold", "gate3_bars", "stops", "restarts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidParameterError(f"{name}: expected an integer >= 0, got {value!r}")
        if self.phase is not Phase.ACTIVE and self.stopped_at is None:
            raise InvalidParameterError(f"stopped_at: required when phase is {self.phase.value}")
        object.__setattr__(self, "adx_history", _none_to_nan(self.adx_history))
        object.__setattr__(self, "range_history", _none_to_nan(self.range_history))

    def hours_stopped(self, hour: datetime | None = None) -> int | None:
        """Whole hours from the stop bar to ``hour`` (default: the last evaluated bar)."""
        hour = hour or self.last_hour
        if self.stopped_at is None or self.phase is Phase.ACTIVE or hour is None:
            return None
        return int((hour - self.stopped_at) // HOUR)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "symbol": self.symbol,
            "phase": self.phase.value,
            "last_hour": None if self.last_hour is None else iso_utc(self.last_hour),
            "stopped_at": None if self.stopped_at is None else iso_utc(self.stopped_at),
            "stop_reason": self.stop_reason,
            "hold": self.hold,
            "gate3_bars": self.gate3_bars,
            "adx_history": _nan_to_none(self.adx_history),
            "range_history": _nan_to_none(self.range_history),
            "stops": self.stops,
            "restarts": self.restarts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateState:
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"gate state: expected a JSON object, got {type(data).__name__}")
        data = dict(data)
        fmt = data.pop("format", STATE_FORMAT)
        if fmt != STATE_FORMAT:
            raise InvalidParameterError(f"format: expected {STATE_FORMAT}, got {fmt!r}")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise InvalidParameterError(f"{key}: not a gate state field")
        if "symbol" not in data:
            raise InvalidParameterError("symbol: required gate state field is missing")
        for key in ("adx_history", "range_history"):
            value = data.get(key, [])
            if not isinstance(value, (list, tuple)) or not all(
                    v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value):
                raise InvalidParameterError(f"{key}: expected a list of numbers or null, got {value!r}")
        return cls(**data)

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> GateState:
        try:
            return cls.from_dict(orjson.loads(data))
        except orjson.JSONDecodeError as exc:
            raise InvalidParameterError(f"gate state: not valid JSON ({exc})") from None


def initial_state(symbol: str) -> GateState:
    """A symbol whose grid has never been stopped (phase ACTIVE, empty history)."""
    return GateState(symbol=symbol)


def stop(state: GateState, hour: datetime, reason: str) -> GateState:
    """Stop the grid at the close of ``hour``: the restart gates begin from the next bar.

    Only an ACTIVE state can stop; stopping a stopped symbol is refused (the gates must not be
    restarted by a repeated stop signal).
    """
    hour = to_utc_hour(hour)
    if state.phase is not Phase.ACTIVE:
        raise InvalidParameterError(f"phase: cannot stop {state.symbol}, it is already {state.phase.value}")
    if state.last_hour is not None and hour < state.last_hour:
        raise InvalidParameterError(f"hour: stop at {hour.isoformat()} is before the last evaluated bar")
    return replace(state, phase=Phase.STOPPED, stopped_at=hour, stop_reason=str(reason), hold=0, gate3_bars=0,
                   stops=state.stops + 1)


def restart(state: GateState, hour: datetime) -> GateState:
    """Back to ACTIVE once the (probationary) grid is enabled; only allowed from READY."""
    to_utc_hour(hour)
    if state.phase is not Phase.READY:
        raise InvalidParameterError(f"phase: cannot restart {state.symbol} at {state.phase.value}; expected READY")
    return replace(state, phase=Phase.ACTIVE, stopped_at=None, stop_reason=None, hold=0, gate3_bars=0,
                   restarts=state.restarts + 1)


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
            "symbol": self.symbol, "hour": iso_utc(self.hour), "phase_before": self.phase_before.value,
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


# ---------------------------------------------------------------------------------------------
# persistence
# ---------------------------------------------------------------------------------------------
class GateStateStore:
    """Gate states as ``<dir>/<SYMBOL>.gates.json``, written atomically."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)

    def path(self, symbol: str) -> Path:
        return self.directory / f"{validate_symbol(symbol)}.gates.json"

    def load(self, symbol: str) -> GateState:
        """The saved state, or :func:`initial_state` when none was saved."""
        path = self.path(symbol)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return initial_state(symbol)
        try:
            state = GateState.from_json(data)
        except InvalidParameterError as exc:
            raise GridRegimeError(f"{path}: {exc}") from None
        if state.symbol != symbol:
            raise GridRegimeError(f"{path}: symbol: expected {symbol}, got {state.symbol}")
        return state

    def save(self, state: GateState) -> Path:
        return atomic_write_bytes(self.path(state.symbol), state.to_json())
