"""Hourly recommendation for one grid, aware of whether it is enabled (SPEC §7).

Rules, first match wins:

Enabled grid
  1. verdict TREND or TRANSITION → DISABLE_GRID (actionable; restart gates begin).
  2. probationary grid with a quick-stop trigger (§6) → DISABLE_GRID (actionable).
  3. price outside the grid bounds → REPOSITION (actionable) with a fresh grid from the current
     range (a probationary grid stays probationary). If no fresh grid can be built (no discovered
     range), DISABLE_GRID.
  4. otherwise (RANGE_OK or RANGE_WEAK, price inside) → KEEP (informational; RANGE_WEAK warns).

Disabled grid (or none)
  1. verdict TREND or TRANSITION → NO_ACTION (informational).
  2. stopped and the gates are READY (Gate 3 passed: the verdict transitions to RANGE_OK) →
     ENABLE_GRID (actionable) with a fresh *probationary* grid.
  3. stopped and the gates are not READY → NO_ACTION (informational, says which gate).
  4. never stopped and RANGE_OK → ENABLE_GRID (actionable) with a fresh normal grid.
  5. RANGE_WEAK → NO_ACTION.

An hour without a verdict (insufficient data) is NO_ACTION. ``grid_enabled`` is always echoed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from gridregime.errors import InvalidParameterError
from gridregime.grid.config import GridConfig, GridMode
from gridregime.grid.gate_state import GateState, Phase
from gridregime.grid.gates import readiness
from gridregime.grid.inputs import (
    RANGE_OK,
    RANGE_WEAK,
    TRANSITION,
    TREND,
    as_market_state,
)
from gridregime.grid.probation import (
    GridBuildError,
    normal_grid,
    probation_grid,
    quick_stop_triggers,
)
from gridregime.grid.settings import GridPolicy
from gridregime.timeutil import iso_z


class Action(str, Enum):
    KEEP = "KEEP"
    ENABLE_GRID = "ENABLE_GRID"
    DISABLE_GRID = "DISABLE_GRID"
    REPOSITION = "REPOSITION"
    NO_ACTION = "NO_ACTION"


@dataclass(frozen=True)
class Recommendation:
    """What to do with the grid after this hour.

    ``actionable`` and ``informational`` are exclusive; ``proposed`` is the fresh grid for
    ENABLE_GRID and REPOSITION (version 0: not stored yet), otherwise None.
    """

    symbol: str
    hour: datetime
    action: Action
    actionable: bool
    informational: bool
    reason: str
    grid_enabled: bool
    verdict: str | None
    warnings: tuple[str, ...] = ()
    proposed: GridConfig | None = None
    quick_stop_triggers: tuple[str, ...] = ()
    gate_phase: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "hour": iso_z(self.hour, microseconds=True), "action": self.action.value,
            "actionable": self.actionable, "informational": self.informational, "reason": self.reason,
            "grid_enabled": self.grid_enabled, "verdict": self.verdict, "warnings": list(self.warnings),
            "proposed": None if self.proposed is None else self.proposed.to_dict(),
            "quick_stop_triggers": list(self.quick_stop_triggers), "gate_phase": self.gate_phase,
        }


def _beyond(grid: GridConfig, price: float, margin: float) -> bool:
    return price > grid.upper + margin or price < grid.lower - margin


def recommend(
    result: Any,
    grid: GridConfig | None,
    gate_state: GateState | None = None,
    *,
    policy: GridPolicy | None = None,
    pnl: float | None = None,
) -> Recommendation:
    """Recommend an action for ``grid`` given this hour's analysis.

    Parameters
    ----------
    result : MarketState or RegimeResult
        The analysed hour.
    grid : GridConfig or None
        The current grid (None: no grid configured, treated as disabled and never stopped).
    gate_state : GateState or None
        The restart-gate state *after* evaluating this hour (None: never stopped).
    policy : GridPolicy, optional
        Fresh-grid, probation and quick-stop numbers (default: ``GridPolicy()``).
    pnl : float, optional
        The grid's running PnL in quote currency, for the drawdown quick stop.
    """
    market = as_market_state(result)
    policy = GridPolicy() if policy is None else policy
    if grid is not None and grid.symbol != market.symbol:
        raise InvalidParameterError(f"grid.symbol: expected {market.symbol}, got {grid.symbol}")
    if gate_state is not None and gate_state.symbol != market.symbol:
        raise InvalidParameterError(f"gate_state.symbol: expected {market.symbol}, got {gate_state.symbol}")
    enabled = grid is not None and grid.enabled
    phase = gate_state.phase if gate_state is not None else Phase.ACTIVE
    verdict = market.verdict

    def make(action: Action, reason: str, *, warnings: tuple[str, ...] = (), proposed: GridConfig | None = None,
             triggers: tuple[str, ...] = ()) -> Recommendation:
        actionable = action in (Action.ENABLE_GRID, Action.DISABLE_GRID, Action.REPOSITION)
        return Recommendation(
            symbol=market.symbol, hour=market.hour, action=action, actionable=actionable,
            informational=not actionable, reason=reason, grid_enabled=enabled, verdict=verdict,
            warnings=warnings, proposed=proposed, quick_stop_triggers=triggers, gate_phase=phase.value)

    if verdict is None:
        return make(Action.NO_ACTION, f"no verdict for this hour ({market.status})",
                    warnings=("insufficient data: nothing is decided this hour",))

    if enabled:
        assert grid is not None
        if policy.stop_beyond_atr is None:
            if verdict in (TREND, TRANSITION):
                return make(Action.DISABLE_GRID, f"verdict {verdict}: stop the grid; restart gates begin")
        elif verdict == TREND and _beyond(grid, market.price, policy.stop_beyond_atr * market.atr):
            return make(Action.DISABLE_GRID, f"breakout: verdict TREND and price {policy.stop_beyond_atr:g} ATR beyond "
                                             f"the grid; restart gates begin")
        triggers = quick_stop_triggers(grid, market, policy, pnl=pnl) if grid.mode is GridMode.PROBATION else ()
        if triggers:
            return make(Action.DISABLE_GRID, f"probation quick stop: {', '.join(triggers)}", triggers=triggers)
        if not grid.contains(market.price):
            side = "above" if market.price > grid.upper else "below"
            try:
                if grid.mode is GridMode.PROBATION:
                    fresh = probation_grid(market, policy, reason="reposition (probation)", extend_to_price=True)
                else:
                    fresh = normal_grid(market, policy, reason="reposition")
            except GridBuildError as exc:
                return make(Action.DISABLE_GRID, f"price {side} the grid and no fresh grid can be built ({exc})")
            return make(Action.REPOSITION,
                        f"price {market.price:g} is {side} the grid [{grid.lower:g}, {grid.upper:g}]",
                        proposed=fresh)
        warnings = ("RANGE_WEAK: range quality is poor; watch the grid",) if verdict == RANGE_WEAK else ()
        return make(Action.KEEP, f"verdict {verdict}, price inside the grid", warnings=warnings)

    if verdict in (TREND, TRANSITION):
        return make(Action.NO_ACTION, f"grid disabled and verdict {verdict}: stay out")
    if phase is not Phase.ACTIVE:
        if phase is not Phase.READY:
            return make(Action.NO_ACTION,
                        f"restart gates at {phase.value} (readiness {readiness(gate_state):.2f}); not yet")
        if market.start_room_ok is False:
            return make(Action.NO_ACTION, "restart gates passed; price too close to a bound of the range to "
                                          "start a grid (start check)")
        try:
            fresh = probation_grid(market, policy, reason="restart after gates passed")
        except GridBuildError as exc:
            return make(Action.NO_ACTION, f"gates passed but no probationary grid can be built: {exc}")
        return make(Action.ENABLE_GRID, "restart gates passed: regime RANGE_OK, start a probationary grid",
                    proposed=fresh)
    if verdict == RANGE_OK and market.grid_start_ok is False:
        return make(Action.NO_ACTION, "grid disabled and verdict RANGE_OK, but price is too close to a bound of "
                                      "the range to start a grid (start check)")
    if verdict == RANGE_OK:
        try:
            fresh = normal_grid(market, policy, reason="enable on RANGE_OK")
        except GridBuildError as exc:
            return make(Action.NO_ACTION, f"RANGE_OK but no grid can be built: {exc}")
        return make(Action.ENABLE_GRID, "grid disabled and verdict RANGE_OK", proposed=fresh)
    return make(Action.NO_ACTION, "grid disabled and verdict RANGE_WEAK: no good range to run on")
