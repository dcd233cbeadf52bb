"""Built-in policies, the policy interface and RANDOM's on/off placement."""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, strategies as st

from gridregime.backtest.policies import (
    BUILTIN, PREMIUM_EXIT_RANK, PREMIUM_START_RANK, RECENTRE_HOURS, GridSpec, HourView, NamedPolicy, as_policies,
    follow_range, random_mask, range_grid, supervisor_grid,
)
from gridregime.errors import InvalidParameterError
from gridregime.grid.inputs import MarketState

H = datetime(2025, 1, 1, tzinfo=UTC)


def view(verdict="RANGE_OK", price=100.0, lo=90.0, hi=110.0, adx=20.0, current=None, hours=0, sup=None,
         atr_rank=float("nan")):
    m = MarketState(symbol="ETH-USDT", hour=H, verdict=verdict, price=price, range_lower=lo, range_upper=hi, adx=adx,
                    atr=1.0, atr_rank=atr_rank)
    return HourView("ETH-USDT", H, 0, m, sup, current, hours, levels=11, budget=1000.0)


def test_range_grid_spans_the_discovered_range():
    g = range_grid(view())
    assert (g.lower, g.upper, g.levels, g.allocation) == (90.0, 110.0, 11, 1000.0)


def test_range_grid_reaches_one_step_past_a_price_outside_the_range():
    g = range_grid(view(price=115.0))
    assert g.lower == 90.0 and g.upper == 115.0 + 2.0  # step (110 - 90) / 10
    g = range_grid(view(price=85.0))
    assert g.lower == 83.0 and g.upper == 110.0


def test_follow_range_keeps_recentres_after_24_hours_and_when_price_left():
    cur = GridSpec(95.0, 105.0, 11, 1000.0)
    assert follow_range(view(current=cur, hours=RECENTRE_HOURS - 1)) is cur
    assert follow_range(view(current=cur, hours=RECENTRE_HOURS)) == GridSpec(90.0, 110.0, 11, 1000.0)
    assert follow_range(view(price=106.0, lo=100.0, hi=120.0, current=cur, hours=1)) == GridSpec(100.0, 120.0, 11,
                                                                                              1000.0)
    no_range = view(lo=float("nan"), hi=float("nan"), current=cur, hours=30)
    assert follow_range(no_range) is cur


def test_verdict_sticky_and_adx_policies():
    cur = GridSpec(95.0, 105.0, 11, 1000.0)
    verdict, sticky, adx = BUILTIN["VERDICT"], BUILTIN["STICKY"], BUILTIN["ADX_FILTER"]
    assert verdict(view("RANGE_WEAK", current=cur)) is None
    assert verdict(view("RANGE_OK")) is not None
    assert sticky(view("RANGE_WEAK")) is None  # never starts on RANGE_WEAK
    assert sticky(view("RANGE_WEAK", current=cur, hours=2)) is cur  # but keeps a running grid
    assert sticky(view("TREND", current=cur)) is None and sticky(view("TRANSITION", current=cur)) is None
    assert adx(view(adx=24.9)) is not None and adx(view(adx=25.0)) is None and adx(view(adx=float("nan"))) is None


def test_vol_premium_starts_on_a_high_atr_rank_and_closes_when_it_falls():
    pol = BUILTIN["VOL_PREMIUM"]
    assert (PREMIUM_START_RANK, PREMIUM_EXIT_RANK) == (80.0, 50.0)
    assert pol(view(atr_rank=79.9)) is None
    assert pol(view(atr_rank=80.0)) == GridSpec(90.0, 110.0, 11, 1000.0)
    assert pol(view("TREND", atr_rank=95.0)) is not None  # it reads no verdict
    assert pol(view(atr_rank=float("nan"))) is None
    cur = GridSpec(95.0, 105.0, 11, 1000.0)
    assert pol(view(current=cur, hours=500, atr_rank=50.0)) is cur  # kept while the premium lasts, never refreshed
    assert pol(view(current=cur, hours=1, atr_rank=49.9)) is None
    assert pol(view(current=cur, hours=1, atr_rank=float("nan"))) is cur  # no rank: nothing decided
    moved = pol(view(price=112.0, lo=100.0, hi=120.0, current=cur, hours=1, atr_rank=70.0))
    assert moved == GridSpec(100.0, 120.0, 11, 1000.0)  # re-centred once the close left the grid
    no_range = view(price=120.0, lo=float("nan"), hi=float("nan"), current=cur, hours=1, atr_rank=70.0)
    assert pol(no_range) is cur


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(80, 120)), min_size=1, max_size=60))
def test_vol_premium_never_starts_below_the_start_rank_nor_runs_below_the_exit_rank(steps):
    pol, cur, since = BUILTIN["VOL_PREMIUM"], None, 0
    for rank, price in steps:
        want = pol(view(price=price, current=cur, hours=since, atr_rank=rank))
        if cur is None and want is not None:
            assert rank >= PREMIUM_START_RANK
        if want is not None:
            assert rank >= PREMIUM_EXIT_RANK and want.lower <= price <= want.upper
        since = since + 1 if want == cur else 1
        cur = want


def test_supervisor_policy_reads_the_grid_row():
    row = {"grid_enabled": True, "grid_lower": 1.0, "grid_upper": 2.0, "grid_levels": 5, "grid_allocation": 550.0,
           "grid_spacing_mode": "ARITHMETIC", "grid_mode": "PROBATION"}
    assert supervisor_grid(row) == GridSpec(1.0, 2.0, 5, 550.0, "ARITHMETIC", "PROBATION")
    assert supervisor_grid({**row, "grid_enabled": False}) is None and supervisor_grid(None) is None
    assert BUILTIN["SUPERVISOR"](view(sup=row)).allocation == 550.0


def test_user_policies_are_checked():
    pol = as_policies({"MINE": lambda v: None})
    assert isinstance(pol["MINE"], NamedPolicy) and pol["MINE"].name == "MINE"
    with pytest.raises(InvalidParameterError, match="ALWAYS"):
        as_policies({"ALWAYS": lambda v: None})
    with pytest.raises(InvalidParameterError, match=r"policies\['X'\]"):
        as_policies({"X": 3})


@pytest.mark.parametrize("kwargs, field", [
    (dict(lower=0.0, upper=1.0, levels=3, allocation=1.0), "lower"),
    (dict(lower=2.0, upper=1.0, levels=3, allocation=1.0), "upper"),
    (dict(lower=1.0, upper=2.0, levels=1, allocation=1.0), "levels"),
    (dict(lower=1.0, upper=2.0, levels=3, allocation=float("inf")), "allocation"),
    (dict(lower=1.0, upper=2.0, levels=3, allocation=1.0, spacing_mode="LOG"), "spacing_mode"),
])
def test_gridspec_refuses_bad_fields_by_name(kwargs, field):
    with pytest.raises(InvalidParameterError, match=f"GridSpec.{field}"):
        GridSpec(**kwargs)


def _runs(mask):
    return int(np.sum(mask[1:] & ~mask[:-1]) + mask[0]) if mask.size else 0


@given(n=st.integers(1, 300), exp_frac=st.floats(0, 1), starts=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
def test_random_mask_has_the_exposure_and_starts_asked_for(n, exp_frac, starts, seed):
    exposure = int(round(exp_frac * n))
    mask = random_mask(n, exposure, starts, np.random.default_rng(seed))
    assert mask.shape == (n,) and mask.dtype == bool
    feasible = min(starts, exposure, n - exposure + 1) if exposure else 0
    if feasible:
        assert int(mask.sum()) == exposure and _runs(mask) == feasible
    else:
        assert not mask.any()


def test_random_mask_is_seeded():
    a = random_mask(500, 120, 9, np.random.default_rng(7))
    b = random_mask(500, 120, 9, np.random.default_rng(7))
    c = random_mask(500, 120, 9, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
