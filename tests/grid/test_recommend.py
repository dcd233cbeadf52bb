"""Recommendations aware of enabled status: properties 49–53 (and §7 rules)."""
from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from gridregime.grid import GridConfig, Phase, initial_state, recommend, stop
from gridregime.grid.gates import GateState

from .strategies import SYMBOL, grid_configs, market_states

phases = st.sampled_from(list(Phase))


@st.composite
def gate_states(draw):
    phase = draw(phases)
    if phase is Phase.ACTIVE:
        return draw(st.sampled_from([None, initial_state(SYMBOL)]))
    from .strategies import H0
    return GateState(symbol=SYMBOL, phase=phase, stopped_at=H0, last_hour=H0, hold=draw(st.integers(0, 3)))


@given(market_states(), st.one_of(st.none(), grid_configs()), gate_states())
def test_property_49_recommendations_echo_enabled_status(market, grid, gates):
    rec = recommend(market, grid, gates)
    enabled = grid is not None and grid.enabled
    assert rec.grid_enabled is enabled and rec.to_dict()["grid_enabled"] is enabled
    assert rec.actionable != rec.informational
    if enabled:
        assert rec.action.value in ("KEEP", "DISABLE_GRID", "REPOSITION")
    else:
        assert rec.action.value in ("ENABLE_GRID", "NO_ACTION")
    assert (rec.proposed is not None) == (rec.action.value in ("ENABLE_GRID", "REPOSITION"))
    if market.verdict in ("TREND", "TRANSITION") and enabled:
        assert rec.action.value == "DISABLE_GRID" and rec.actionable


@given(market_states(verdict="RANGE_OK", price_in_range=True), st.one_of(st.none(), grid_configs(enabled=False)),
       st.sampled_from(["never", "ready"]))
def test_property_50_disabled_favourable_enables(market, grid, how):
    gates = None if how == "never" else GateState(symbol=SYMBOL, phase=Phase.READY, stopped_at=market.hour,
                                                   last_hour=market.hour)
    rec = recommend(market, grid, gates)
    assert rec.action.value == "ENABLE_GRID" and rec.actionable and not rec.informational
    assert rec.proposed is not None and rec.proposed.enabled and rec.proposed.contains(market.price)
    assert rec.proposed.mode.value == ("NORMAL" if how == "never" else "PROBATION")


@given(market_states(), st.one_of(st.none(), grid_configs(enabled=False)), gate_states())
def test_property_51_disabled_unfavourable_is_informational(market, grid, gates):
    market = dataclasses.replace(market, verdict=market.verdict if market.verdict in ("TREND", "TRANSITION")
                                 else "TREND")
    rec = recommend(market, grid, gates)
    assert rec.action.value == "NO_ACTION" and rec.informational and not rec.actionable and rec.proposed is None
    weak = recommend(dataclasses.replace(market, verdict="RANGE_WEAK"), grid, gates)
    if gates is None or gates.phase is not Phase.READY:
        assert weak.action.value == "NO_ACTION" and weak.informational


@given(market_states(), st.sampled_from(["RANGE_OK", "RANGE_WEAK"]), st.floats(0.5, 2.0), st.floats(0.01, 0.99))
def test_property_52_price_outside_bounds_detected(market, verdict, half_width, where):
    market = dataclasses.replace(market, verdict=verdict)
    p = market.price
    inside = GridConfig(SYMBOL, p * (1 - 0.01 * half_width * where), p * (1 + 0.01 * half_width), 10, 100.0)
    above = GridConfig(SYMBOL, p * 0.8, p * 0.9, 10, 100.0)
    below = GridConfig(SYMBOL, p * 1.1, p * 1.2, 10, 100.0)
    rec = recommend(market, inside, None)
    assert rec.action.value == "KEEP" and rec.informational
    assert ("RANGE_WEAK" in " ".join(rec.warnings)) == (verdict == "RANGE_WEAK")
    for grid in (above, below):
        rec = recommend(market, grid, None)
        assert rec.action.value == "REPOSITION" and rec.actionable
        assert ("above" if grid is above else "below") in rec.reason


@given(market_states(verdict="RANGE_OK"), st.sampled_from(["NORMAL", "PROBATION"]))
def test_property_53_reposition_with_fresh_bounds_containing_price(market, mode):
    market = dataclasses.replace(market, vol_change_score=min(market.vol_change_score, 80.0))  # no quick stop
    p = market.price
    # A grid just beside the price (within the 0.5 ATR quick-stop margin for probation grids).
    gap = 0.2 * market.atr
    old = GridConfig(SYMBOL, p + gap, p + gap + 10 * market.atr, 12, 100.0, mode=mode)
    rec = recommend(market, old, None)
    assert rec.action.value == "REPOSITION"
    new = rec.proposed
    assert new.contains(p) and new.mode.value == mode and new.version == 0
    assert (new.lower, new.upper) != (old.lower, old.upper)
    # Fresh: built from the market, not from the old grid (another old grid gives the same proposal).
    other = GridConfig(SYMBOL, p + 2 * gap, p + 2 * gap + 3 * market.atr, 40, 7.0, mode=mode)
    assert recommend(market, other, None).proposed == new
    if market.price_in_range:
        assert market.range_lower <= new.lower and new.upper <= market.range_upper
    # Trend wins over reposition.
    assert recommend(dataclasses.replace(market, verdict="TREND"), old, None).action.value == "DISABLE_GRID"


def test_insufficient_data_is_no_action():
    from gridregime.grid import MarketState

    from .strategies import H0
    m = MarketState(SYMBOL, H0, None, status="insufficient_data")
    rec = recommend(m, GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0), None)
    assert rec.action.value == "NO_ACTION" and rec.grid_enabled and rec.warnings
    s = stop(initial_state(SYMBOL), H0, "x")
    assert recommend(m, None, s).gate_phase == "STOPPED"


@given(market_states(verdict="RANGE_OK", price_in_range=True), st.one_of(st.none(), grid_configs(enabled=False)),
       st.sampled_from(["never", "ready"]))
def test_start_check_holds_back_enable_and_restart(market, grid, how):
    """ENABLE_GRID and restarts need the engine's start check (room to both bounds); a running grid
    is never judged by it; unknown (None) falls back to the verdict alone."""
    gates = None if how == "never" else GateState(symbol=SYMBOL, phase=Phase.READY, stopped_at=market.hour,
                                                   last_hour=market.hour)
    blocked = dataclasses.replace(market, grid_start_ok=False, start_room_ok=False)
    rec = recommend(blocked, grid, gates)
    assert rec.action.value == "NO_ACTION" and rec.informational and "start" in rec.reason
    allowed = dataclasses.replace(market, grid_start_ok=True, start_room_ok=True)
    assert recommend(allowed, grid, gates).action.value == "ENABLE_GRID"
    # a running grid with price inside keeps running whatever the start check says
    running = GridConfig(SYMBOL, market.range_lower, market.range_upper, 5, 100.0)
    assert recommend(blocked, running, None).action.value == "KEEP"


@given(market_states(), st.sampled_from(["RANGE_OK", "RANGE_WEAK", "TREND", "TRANSITION"]), st.floats(0.0, 3.0),
       st.floats(0.0, 5.0), st.sampled_from(["above", "below", "inside"]))
def test_breakout_stop_option(market, verdict, k, beyond, where):
    """With ``stop_beyond_atr`` a normal grid stops only on TREND with the close more than that many
    ATR beyond a bound; TRANSITION and a TREND inside (or just outside) the grid do not stop it."""
    from gridregime.grid import GridPolicy

    market = dataclasses.replace(market, verdict=verdict)
    p, atr = market.price, market.atr
    if where == "inside":
        grid = GridConfig(SYMBOL, p - atr, p + atr, 5, 100.0)
        dist = 0.0
    elif where == "above":  # price above the grid by `beyond` ATR
        grid = GridConfig(SYMBOL, p - (beyond + 2) * atr, p - beyond * atr, 5, 100.0)
        dist = beyond
    else:
        grid = GridConfig(SYMBOL, p + beyond * atr, p + (beyond + 2) * atr, 5, 100.0)
        dist = beyond
    if grid.lower <= 0 or not market.has_range:  # (no range: a price outside the grid cannot be re-centred)
        return
    rec = recommend(market, grid, None, policy=GridPolicy(stop_beyond_atr=k))
    margin = k * atr
    outside_by = max(p - grid.upper, grid.lower - p, 0.0)
    breakout = verdict == "TREND" and outside_by > margin
    assert (rec.action.value == "DISABLE_GRID") == breakout, (rec.reason, dist, k)
    if not breakout:
        assert rec.action.value == ("KEEP" if grid.contains(p) else "REPOSITION")
    # the default stops on both verdicts wherever the price is
    default = recommend(market, grid, None)
    assert (default.action.value == "DISABLE_GRID") == (verdict in ("TREND", "TRANSITION"))
