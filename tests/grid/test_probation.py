"""Probationary grid, promotion and quick stops: properties 39.1–39.3, 41, 42, 47."""
from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridregime.errors import InvalidParameterError
from gridregime.grid import (
    GridBuildError,
    GridConfig,
    GridPolicy,
    normal_grid,
    probation_grid,
    probation_status,
    promoted,
    quick_stop_triggers,
    recommend,
)

from .strategies import H0, HOUR, SYMBOL, market_states

policies = st.builds(
    GridPolicy,
    normal_allocation=st.floats(1.0, 1e6),
    allocation_fraction=st.floats(0.5, 0.6),
    min_levels=st.integers(4, 5),
    max_levels=st.just(6),
    spacing_atr=st.floats(0.45, 0.55),
)


@given(market_states(price_in_range=True), policies)
def test_property_39_1_probation_allocation(market, policy):
    grid = probation_grid(market, policy)
    assert 0.5 <= grid.allocation / policy.normal_allocation <= 0.6
    assert grid.mode.value == "PROBATION"


@given(st.floats(0.0, 1.0).filter(lambda f: not 0.5 <= f <= 0.6))
def test_property_39_1_allocation_outside_50_60_refused(fraction):
    with pytest.raises(InvalidParameterError, match="allocation_fraction"):
        GridPolicy(allocation_fraction=fraction)


@given(market_states(price_in_range=True, min_width_atr=1.81), policies)
def test_property_39_2_probation_levels(market, policy):
    assert 4 <= probation_grid(market, policy).levels <= 6


@given(market_states(price_in_range=True, min_width_atr=1.0), policies)
def test_property_39_3_probation_spacing(market, policy):
    width_atr = (market.range_upper - market.range_lower) / market.atr
    if width_atr < (policy.min_levels - 1) * 0.45 * (1 - 1e-9):
        with pytest.raises(GridBuildError, match="too narrow"):
            probation_grid(market, policy)
        return
    grid = probation_grid(market, policy)
    steps = [b - a for a, b in zip(grid.level_prices, grid.level_prices[1:])]
    for step in steps:
        assert 0.45 * (1 - 1e-9) <= step / market.atr <= 0.55 * (1 + 1e-9)


@given(st.sampled_from([("min_levels", 3), ("max_levels", 7), ("spacing_atr", 0.44), ("spacing_atr", 0.56),
                        ("probation_hours", 0), ("min_inside_fraction", 1.5), ("quick_stop_drawdown", 0.0)]))
def test_property_39_policy_ranges_refused(case):
    field, value = case
    with pytest.raises(InvalidParameterError, match=field):
        GridPolicy(**{field: value})


def _probation_grid():
    return GridConfig(SYMBOL, 100.0, 110.0, 5, 550.0, mode="PROBATION")


hour_samples = st.lists(st.tuples(st.floats(95.0, 115.0), st.sampled_from(["RANGE_OK", "RANGE_WEAK", "TREND"]),
                                  st.floats(0, 100)), min_size=0, max_size=40)


@given(hour_samples, st.integers(1, 30), st.floats(0.0, 1.0))
def test_property_41_promotion_criteria(samples, hours_needed, inside_needed):
    grid = _probation_grid()
    policy = GridPolicy(probation_hours=hours_needed, min_inside_fraction=inside_needed)
    markets = [dataclasses.replace(_base_market(), hour=H0 + i * HOUR, price=p, verdict=v, vol_change_score=vc)
               for i, (p, v, vc) in enumerate(samples)]
    status = probation_status(grid, markets, policy)
    # Independent statement of §6: enough hours, no quick stop, inside >= fraction.
    stopped = any(p > 110.5 or p < 99.5 or v == "TREND" or vc > 80 for p, v, vc in samples)
    inside = sum(100.0 <= p <= 110.0 for p, _, _ in samples)
    frac = inside / len(samples) if samples else 0.0
    assert status.promote == (len(samples) >= hours_needed and not stopped and frac >= inside_needed)
    assert status.inside_hours == inside
    if status.promote:
        normal = promoted(grid, policy)
        assert normal.mode.value == "NORMAL" and (normal.lower, normal.upper) == (grid.lower, grid.upper)


def _base_market(**changes):
    base = {"symbol": SYMBOL, "hour": H0, "verdict": "RANGE_OK", "trend_score": 20.0, "mean_rev_score": 70.0,
            "vol_change_score": 20.0, "range_quality_score": 80.0, "grid_capacity": 20,
            "grid_capacity_ok": True, "spacing": 0.5, "adx": 20.0, "atr": 1.0, "atr_rank": 30.0,
            "hour_range_atr": 1.0, "price": 105.0, "range_lower": 100.0, "range_upper": 110.0}
    base.update(changes)
    from gridregime.grid import MarketState
    return MarketState(**base)


@given(st.floats(90.0, 120.0), st.sampled_from(["RANGE_OK", "RANGE_WEAK", "TREND", "TRANSITION"]),
       st.floats(0, 100), st.one_of(st.none(), st.floats(-100.0, 100.0)), st.floats(0.1, 3.0))
def test_property_42_quick_stop_triggers(price, verdict, vol_change, pnl, atr):
    grid = _probation_grid()
    market = _base_market(price=price, verdict=verdict, vol_change_score=vol_change, atr=atr)
    triggers = set(quick_stop_triggers(grid, market, pnl=pnl))
    expected = set()
    if price > 110.0 + 0.5 * atr or price < 100.0 - 0.5 * atr:
        expected.add("close_beyond_bound")
    if verdict == "TREND":
        expected.add("trend")
    if vol_change > 80:
        expected.add("vol_change")
    if pnl is not None and pnl < -0.03 * 550.0:
        expected.add("drawdown")
    assert triggers == expected
    rec = recommend(market, grid, None, pnl=pnl)
    if expected or verdict in ("TREND", "TRANSITION"):
        assert rec.action.value == "DISABLE_GRID" and rec.actionable
    else:
        assert rec.action.value in ("KEEP", "REPOSITION")


@given(market_states(price_in_range=True), policies)
def test_property_47_fresh_grid_fits_discovered_range(market, policy):
    grid = probation_grid(market, policy)
    assert market.range_lower <= grid.lower < grid.upper <= market.range_upper
    assert grid.contains(market.price)
    assert grid.levels >= policy.min_levels
    normal = normal_grid(market, policy)
    assert (normal.lower, normal.upper) == (market.range_lower, market.range_upper)
    assert normal.contains(market.price)
    # Enough capacity: the levels fit the range at the §5 spacing, and at least min_grid_levels (5).
    assert normal.levels - 1 <= math.floor((market.range_upper - market.range_lower) / market.spacing)
    assert normal.levels - 1 >= min(5, market.grid_capacity)


def test_probation_grid_refuses_unusable_ranges():
    with pytest.raises(GridBuildError, match="price"):
        probation_grid(_base_market(price=120.0))
    with pytest.raises(GridBuildError, match="range"):
        probation_grid(_base_market(range_lower=float("nan")))
    with pytest.raises(GridBuildError, match="too narrow"):
        probation_grid(_base_market(range_lower=104.0, range_upper=105.2, price=104.5))
    narrow = probation_grid(_base_market(range_lower=104.0, range_upper=105.8, price=104.5))
    assert narrow.levels == 4 and narrow.spacing == pytest.approx(0.5)
