"""Grid PnL simulator: hand-computed scenarios, the slow twin (tests/reference/gridsim.py) on
random paths, grid construction (tick, lot, minimum notional) and the wrapper's errors.

Expected numbers below are worked out by hand from the rules in the module docstring of
gridregime.kernels.gridsim, never taken from the simulator's output.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridregime.errors import InvalidParameterError
from gridregime.kernels import (
    PATH_MODES,
    GridSlots,
    Segment,
    grid_slots,
    simulate_grids,
    simulate_windows,
)
from tests.reference import gridsim as slow

FEE = 0.001
RTOL = 1e-9


def bars(rows):
    """(open, high, low, close) arrays from rows of (o, h, l, c)."""
    o, h, l, c = (np.array(col, dtype=np.float64) for col in zip(*rows))
    return o, h, l, c


def flat(price, k=1):
    return [(price, price, price, price)] * k


def unit_grid(*prices):
    """Levels ``prices`` with qty 1 in every slot."""
    return GridSlots(np.array(prices, dtype=np.float64), np.ones(len(prices) - 1))


# --- hand-computed scenarios -----------------------------------------------------------------


@pytest.mark.parametrize("path", PATH_MODES)
@pytest.mark.parametrize("swings", [1, 7])
def test_swing_between_two_levels_makes_one_spacing_per_round_trip(path, swings):
    # Levels 100 / 101 / 102, one unit per slot, start at 101.5: both slots wait, nothing bought.
    # Each swing: a red bar dips to 100.9 (slot 1 buys at 101), a green bar reaches 102.1
    # (slot 1 sells at 102). Slot 0 (buy at 100) is never reached.
    rows = []
    for _ in range(swings):
        rows.append((101.5, 101.6, 100.9, 101.1))  # red: O-H-L-C, the fall buys, the rise to 101.1 does not sell
        rows.append((101.1, 102.1, 101.05, 102.0))  # green: O-L-H-C, the rise sells, the fall to 102 does not buy
    o, h, l, c = bars(rows)
    res = simulate_grids(o, h, l, c, [Segment(0, len(rows), unit_grid(100, 101, 102))],
                         budget=1000.0, fee=FEE, path=path)
    per_trip = 1.0 * (102 - 101) - FEE * (101 + 102)  # spacing x qty minus both fees
    assert res.fills == 2 * swings
    assert res.seg_fills.tolist() == [2 * swings]
    assert res.fees == pytest.approx(swings * FEE * 203, rel=1e-12)
    assert res.cash == pytest.approx(1000.0 + swings * per_trip, rel=1e-12)
    assert res.equity[-1] == pytest.approx(1000.0 + swings * per_trip, rel=1e-12)
    assert res.seg_pnl[0] == pytest.approx(swings * per_trip, rel=1e-9)
    assert res.seg_traded.tolist() == [0.0]
    assert res.base[0::2] == pytest.approx([1.0] * swings)  # held after each dip
    assert res.base[1::2] == pytest.approx([0.0] * swings)


@pytest.mark.parametrize("path", PATH_MODES)
def test_fall_through_the_grid_ends_fully_in_base_and_the_rise_sells_everything(path):
    # 5 levels 100..104, 100 quote per slot: qty_j = 100 / P_j, so each buy costs exactly 100.
    slots = grid_slots(100, 104, 5, allocation=400.0, min_notional=0.0)
    assert slots.prices.tolist() == [100, 101, 102, 103, 104]
    q = [100 / 100, 100 / 101, 100 / 102, 100 / 103]
    assert slots.qty.tolist() == pytest.approx(q, rel=1e-15)
    down = [(104.5 - k, 104.5 - k, 103.5 - k, 103.5 - k) for k in range(5)]  # down to 99.5
    up = [(99.5 + k, 100.5 + k, 99.5 + k, 100.5 + k) for k in range(5)]  # back to 104.5
    o, h, l, c = bars(down + up)
    res = simulate_grids(o, h, l, c, [Segment(0, 10, slots)], budget=1000.0, fee=FEE, path=path)
    # open 104.5 is above every slot: all wait, target 0, no rebalance
    assert res.seg_traded.tolist() == [0.0]
    assert res.base[4] == pytest.approx(sum(q), rel=1e-12)  # every slot holding at the bottom
    assert res.equity[4] == pytest.approx(1000.0 - 400 * (1 + FEE) + sum(q) * 99.5, rel=1e-12)
    assert res.base[-1] == pytest.approx(0.0, abs=1e-12)
    sells = [100 * 101 / 100, 100 * 102 / 101, 100 * 103 / 102, 100 * 104 / 103]
    expected_cash = 1000.0 - 400 * (1 + FEE) + sum(sells) * (1 - FEE)
    assert res.fills == 8
    assert res.cash == pytest.approx(expected_cash, rel=1e-12)
    assert res.fees == pytest.approx(FEE * (400 + sum(sells)), rel=1e-9)


def test_one_bar_spanning_the_grid_moves_each_slot_once_in_pessimistic_mode():
    # Levels 100..104, qty 1, open 102.5: slots 0-2 wait, slot 3 (lower level 103) holds and is
    # bought at the open (1 at 102.5). The bar 99..105 buys slots 0-2 and sells slot 3 only:
    # the slots that bought on this bar do not sell on it.
    grid = unit_grid(100, 101, 102, 103, 104)
    o, h, l, c = bars([(102.5, 105, 99, 102.2), (102.2, 102.2, 102.2, 102.2)])
    one = simulate_grids(o[:1], h[:1], l[:1], c[:1], [Segment(0, 1, grid)], budget=1000.0, fee=FEE,
                         path="pessimistic")
    assert one.seg_traded.tolist() == [1.0]
    assert one.fills == 4  # the number of active slots
    cash0 = 1000.0 - 102.5 + 104 - (100 + 101 + 102) - FEE * (102.5 + 104 + 303)
    # base 1 + 3 - 1 = 3 is sold at the close 102.2
    assert one.cash == pytest.approx(cash0 + 3 * 102.2 * (1 - FEE), rel=1e-12)
    assert one.equity[0] == one.cash and one.base[0] == 0.0

    # Carried on to a bar fixed at 102.2: slot 3 waits to buy at 103, above the bar, and buys
    # there; slots 0 and 1 sell at 101 and 102 (<= 102.2); slot 2 (sell at 103) keeps holding.
    two = simulate_grids(o, h, l, c, [Segment(0, 2, grid)], budget=1000.0, fee=FEE, path="pessimistic")
    assert two.seg_fills.tolist() == [4 + 3]
    assert two.base[0] == pytest.approx(3.0)
    assert two.equity[0] == pytest.approx(cash0 + 3 * 102.2, rel=1e-12)
    cash1 = cash0 - 103 + 101 + 102 - FEE * (103 + 101 + 102)
    assert two.cash == pytest.approx(cash1 + 2 * 102.2 * (1 - FEE), rel=1e-12)


def test_red_and_green_bars_spanning_the_grid_in_ohlc_mode():
    grid = unit_grid(100, 101, 102, 103, 104)
    # Red bar (close 102.2 < open 102.5), O-H-L-C: the rise to 105 sells slot 3 at 104, the fall
    # to 99 buys slots 0-3 at 100..103, the rise to 102.2 sells slots 0 and 1 at 101 and 102.
    o, h, l, c = bars([(102.5, 105, 99, 102.2)] + flat(102.2))
    red = simulate_grids(o, h, l, c, [Segment(0, 2, grid)], budget=1000.0, fee=FEE, path="ohlc")
    assert red.fills == 1 + 4 + 2
    assert red.base[0] == pytest.approx(2.0)  # slots 2 and 3 hold
    traded = 102.5 + 104 + (100 + 101 + 102 + 103) + (101 + 102)
    cash_red = 1000.0 - 102.5 + 104 - 406 + 203 - FEE * traded
    assert red.equity[0] == pytest.approx(cash_red + 2 * 102.2, rel=1e-12)
    assert red.cash == pytest.approx(cash_red + 2 * 102.2 * (1 - FEE), rel=1e-12)

    # Green bar (close 102.7 >= open 102.5), O-L-H-C: the fall to 99 buys slots 0-2, the rise to
    # 105 sells slots 0-3 at 101..104, the fall to 102.7 buys slot 3 at 103 again.
    o, h, l, c = bars([(102.5, 105, 99, 102.7)] + flat(102.7))
    green = simulate_grids(o, h, l, c, [Segment(0, 2, grid)], budget=1000.0, fee=FEE, path="ohlc")
    assert green.fills == 3 + 4 + 1
    assert green.base[0] == pytest.approx(1.0)  # slot 3 holds
    traded = 102.5 + (100 + 101 + 102) + (101 + 102 + 103 + 104) + 103
    cash_green = 1000.0 - 102.5 - 303 + 410 - 103 - FEE * traded
    assert green.equity[0] == pytest.approx(cash_green + 102.7, rel=1e-12)
    assert green.seg_fees[0] == pytest.approx(FEE * (traded + 102.7), rel=1e-12)


def test_pessimistic_waiting_slot_above_a_gapped_bar_buys_at_its_limit():
    # Levels 100/101/102, open 100.5: slot 1 holds (bought at the open), slot 0 waits. Bar 0 sells
    # slot 1 at 102; bar 1 gaps down to 100.1..100.4, below slot 1's buy level 101: it buys at 101.
    o, h, l, c = bars([(100.5, 102, 100.5, 101.8), (100.2, 100.4, 100.1, 100.3)])
    res = simulate_grids(o, h, l, c, [Segment(0, 2, unit_grid(100, 101, 102), close_at_end=True)],
                         budget=1000.0, fee=0.0, path="pessimistic")
    assert res.fills == 2
    assert res.base[0] == 0.0
    assert res.equity[1] == pytest.approx(1000.0 - 100.5 + 102 - 101 + 100.3)


@pytest.mark.parametrize("path", PATH_MODES)
def test_recentre_trades_only_the_inventory_difference(path):
    # A: levels 100..104, qty 1, open 103.5 (all wait); the fall to 101.5 buys slots 3 and 2.
    a = unit_grid(100, 101, 102, 103, 104)
    rows = [(103.5, 103.5, 102.8, 102.8), (102.8, 102.8, 101.5, 101.5)]
    # B opens at 101.5 with levels 99 / 100.5 / 102 / 103.5 and qty 1 / 2 / 3: only slot 2
    # (lower level 102 >= 101.5) holds, target 3, base after A is 2: buy 1 at 101.5.
    b = GridSlots([99, 100.5, 102, 103.5], [1.0, 2.0, 3.0])
    rows += flat(101.5, 3)  # touches no level of B
    o, h, l, c = bars(rows)
    res = simulate_grids(o, h, l, c, [Segment(0, 2, a, close_at_end=False), Segment(2, 5, b)],
                         budget=1000.0, fee=FEE, path=path)
    assert res.base[1] == pytest.approx(2.0)
    assert res.seg_traded.tolist() == [0.0, pytest.approx(1.0)]
    assert res.seg_fills.tolist() == [2, 0]
    # B's fees: the difference at the open, and the liquidation of 3 at 101.5
    assert res.seg_fees[1] == pytest.approx(FEE * (1 * 101.5 + 3 * 101.5), rel=1e-12)
    assert res.base[2] == pytest.approx(3.0)
    cash_a = 1000.0 - (103 + 102) * (1 + FEE)
    assert res.equity[1] == pytest.approx(cash_a + 2 * 101.5, rel=1e-12)
    assert res.seg_pnl[1] == pytest.approx(res.equity[4] - res.equity[1], rel=1e-12)
    assert res.seg_pnl[1] == pytest.approx(-FEE * 4 * 101.5, rel=1e-9)


def test_recentre_below_the_minimum_notional_keeps_the_remainder():
    a = unit_grid(100, 101, 102, 103, 104)
    rows = [(103.5, 103.5, 102.8, 102.8), (102.8, 102.8, 101.5, 101.5)] + flat(101.5, 2)
    # B's target is 2.03 against a base of 2: 0.03 * 101.5 = 3.045 < 5, no trade
    b = GridSlots([99, 100.5, 102, 103.5], [1.0, 2.0, 2.03])
    o, h, l, c = bars(rows)
    res = simulate_grids(o, h, l, c, [Segment(0, 2, a, close_at_end=False), Segment(2, 4, b)],
                         budget=1000.0, fee=FEE, min_notional=5.0)
    assert res.seg_traded.tolist() == [0.0, 0.0]
    assert res.base[2] == pytest.approx(2.0)
    assert res.seg_fees[1] == pytest.approx(FEE * 2 * 101.5, rel=1e-12)  # the liquidation only


def test_liquidation_sells_everything_at_the_last_close():
    # open 100.5: slot 1 holds, buy 1 at 100.5; a flat bar; sold at its close.
    o, h, l, c = bars(flat(100.5) + [(100.5, 100.6, 100.4, 100.6)])
    res = simulate_grids(o, h, l, c, [Segment(0, 2, unit_grid(100, 101, 102))], budget=1000.0, fee=FEE)
    assert res.fills == 0  # the rebalance and the liquidation are not fills
    assert res.base.tolist() == [1.0, 0.0]
    assert res.fees == pytest.approx(FEE * (100.5 + 100.6), rel=1e-12)
    assert res.cash == pytest.approx(1000.0 - 100.5 + 100.6 - FEE * 201.1, rel=1e-12)
    assert res.equity[-1] == res.cash
    assert res.seg_pnl[0] == pytest.approx(res.cash - 1000.0, rel=1e-9)


def test_bars_outside_segments_hold_cash_only():
    o, h, l, c = bars(flat(100.5, 2) + [(100.5, 102, 99, 101)] + flat(101, 2) + flat(103, 1))
    res = simulate_grids(o, h, l, c, [Segment(2, 3, unit_grid(100, 101, 102)), Segment(5, 6, unit_grid(100, 101, 102))],
                         budget=500.0, fee=0.0)
    assert res.equity[:2].tolist() == [500.0, 500.0]
    assert res.base.tolist()[3:5] == [0.0, 0.0]
    assert res.equity[3] == res.equity[4] == res.equity[2]
    assert res.seg_pnl[0] == res.equity[2] - 500.0  # the reference is the close before the start
    # the second segment opens at 103, above the grid: no slot holds, no trade, no fill
    assert res.seg_traded[1] == 0.0 and res.seg_fills[1] == 0 and res.seg_pnl[1] == 0.0


def test_empty_inputs():
    e = np.empty(0)
    res = simulate_grids(e, e, e, e, [])
    assert res.equity.size == 0 and res.fills == 0 and res.cash == 1000.0 and res.seg_pnl.size == 0


# --- grid construction -----------------------------------------------------------------------


def test_grid_slots_arithmetic_and_geometric_levels():
    a = grid_slots(100, 200, 3, "ARITHMETIC", 30.0, min_notional=0.0)
    assert a.prices.tolist() == [100.0, 150.0, 200.0]
    assert a.qty.tolist() == pytest.approx([15 / 100, 15 / 150], rel=1e-15)
    g = grid_slots(100, 400, 3, "GEOMETRIC", 30.0, min_notional=0.0)
    assert g.prices.tolist() == pytest.approx([100.0, 200.0, 400.0], rel=1e-15)
    assert g.qty.tolist() == pytest.approx([15 / 100, 15 / 200], rel=1e-15)


def test_grid_slots_tick_rounding_merges_colliding_levels():
    # 100, 100.333.., 100.666.., 101 on a 0.5 tick: 100, 100.5, 100.5, 101 -> 3 levels, 2 slots
    s = grid_slots(100, 101, 4, allocation=300.0, tick=0.5, min_notional=0.0)
    assert s.prices.tolist() == [100.0, 100.5, 101.0]
    assert s.qty.tolist() == pytest.approx([150 / 100, 150 / 100.5], rel=1e-15)
    # a 0.25 tick keeps four levels: 100, 100.25 (100.333 rounds down), 100.75, 101
    assert grid_slots(100, 101, 4, tick=0.25, min_notional=0.0).prices.tolist() == [100.0, 100.25, 100.75, 101.0]


def test_grid_slots_lot_rounds_down_and_min_notional_deactivates():
    # 10 quote per slot: slot 0 is 0.1 at 100 -> 2 lots of 0.05 (0.1 / 0.05 must not lose a lot);
    # slot 1 is 0.0667 at 150 -> 1 lot = 0.05, notional 7.5
    s = grid_slots(100, 200, 3, allocation=20.0, lot=0.05, min_notional=5.0)
    assert s.qty.tolist() == pytest.approx([0.1, 0.05], rel=1e-12)
    s = grid_slots(100, 200, 3, allocation=20.0, lot=0.05, min_notional=8.0)
    assert s.qty.tolist() == pytest.approx([0.1, 0.0], rel=1e-12)
    assert s.active.tolist() == [True, False]
    # 30 / 100 = 0.3 = 3 lots of 0.1, although 0.3 / 0.1 is 2.9999999999999996 in floats
    assert grid_slots(100, 200, 2, allocation=30.0, lot=0.1, min_notional=0.0).qty[0] == pytest.approx(0.3)
    # 6 quote per slot: active at a minimum notional of 5, inactive at 6.5
    assert grid_slots(100, 200, 3, allocation=12.0).active.tolist() == [True, True]
    assert grid_slots(100, 200, 3, allocation=12.0, min_notional=6.5).active.tolist() == [False, False]


def test_inactive_slots_never_trade():
    # slot 1 (150..200) is inactive; a bar from 210 down to 90 and back fills only slot 0
    s = grid_slots(100, 200, 3, allocation=20.0, lot=0.05, min_notional=8.0)
    o, h, l, c = bars([(210, 210, 90, 90), (90, 210, 90, 210)])
    res = simulate_grids(o, h, l, c, [Segment(0, 2, s)], fee=0.0)
    assert res.fills == 2
    assert res.cash == pytest.approx(1000.0 + 0.1 * (150 - 100))


@pytest.mark.parametrize("path", PATH_MODES)
def test_size_to_equity_scales_a_grid_worth_more_than_the_account(path):
    # A 400-quote grid (100 per slot) run by an account of 250: quantities scaled by 250 / 400,
    # rounded down to the 0.001 lot; a fall through the grid then buys every (scaled) slot.
    slots = grid_slots(100, 104, 5, allocation=400.0, min_notional=0.0)
    down = [(104.5 - k, 104.5 - k, 103.5 - k, 103.5 - k) for k in range(5)]
    o, h, l, c = bars(down)
    res = simulate_grids(o, h, l, c, [Segment(0, 5, slots, close_at_end=False)], budget=250.0, fee=0.0, path=path,
                         size_to_equity=True, lot=0.001, min_notional=0.0)
    scaled = [math.floor(100 / p * 0.625 / 0.001 + 1e-9) * 0.001 for p in (100, 101, 102, 103)]
    assert res.base[-1] == pytest.approx(sum(scaled), rel=1e-12)
    spent = sum(q * p for q, p in zip(scaled, (100, 101, 102, 103)))
    assert spent <= 250.0 and res.cash == pytest.approx(250.0 - spent, rel=1e-12)
    assert res.cash >= 0.0
    # without sizing the same account borrows: cash goes negative
    unsized = simulate_grids(o, h, l, c, [Segment(0, 5, slots, close_at_end=False)], budget=250.0, fee=0.0, path=path)
    assert unsized.cash == pytest.approx(250.0 - 400.0, rel=1e-12)
    # an account worth more than the grid trades it unscaled
    rich = simulate_grids(o, h, l, c, [Segment(0, 5, slots, close_at_end=False)], budget=1000.0, fee=0.0, path=path,
                          size_to_equity=True, lot=0.001, min_notional=0.0)
    assert rich.base[-1] == pytest.approx(sum(slots.qty), rel=1e-12)


def test_size_to_equity_deactivates_slots_below_the_minimum_and_stops_when_equity_is_gone():
    slots = grid_slots(100, 104, 5, allocation=400.0, min_notional=0.0)
    down = [(104.5 - k, 104.5 - k, 103.5 - k, 103.5 - k) for k in range(5)]
    o, h, l, c = bars(down)
    # 40 of equity against 400: 10 quote a slot, below a 12 minimum: nothing can trade
    res = simulate_grids(o, h, l, c, [Segment(0, 5, slots, close_at_end=False)], budget=40.0, fee=0.0, size_to_equity=True,
                         min_notional=12.0)
    assert res.fills == 0 and res.base[-1] == 0.0 and res.cash == 40.0


# --- the compiled simulator against its slow twin ---------------------------------------------


def random_bars(rng, n, tick):
    """A random walk of bars on a price tick, so that bars often touch levels exactly."""
    steps = rng.integers(-3, 4, size=n) * tick
    close = 100.0 + np.cumsum(steps)
    close = np.maximum(close, 60.0)
    gap = rng.integers(-1, 2, size=n) * tick * (rng.random(n) < 0.2)
    opens = np.maximum(np.r_[100.0, close[:-1]] + gap, 60.0)
    high = np.maximum(opens, close) + rng.integers(0, 4, size=n) * tick
    low = np.maximum(np.minimum(opens, close) - rng.integers(0, 4, size=n) * tick, 50.0)
    return opens, high, low, close


def random_segments(rng, opens, level_counts, carry_share=0.5, spacings=("ARITHMETIC", "GEOMETRIC")):
    n = len(opens)
    segs, s = [], int(rng.integers(0, 3))
    while s < n:
        e = min(n, s + int(rng.integers(1, 60)))
        mid = float(opens[s])
        width = float(rng.uniform(0.005, 0.06))
        slots = grid_slots(mid * (1 - width), mid * (1 + width), int(rng.choice(level_counts)),
                           str(rng.choice(spacings)), float(rng.uniform(100, 3000)),
                           tick=float(rng.choice([0.0, 0.25])), lot=float(rng.choice([0.0, 0.01])),
                           min_notional=float(rng.choice([0.0, 5.0, 20.0])))
        carry = e < n and rng.random() < carry_share
        segs.append(Segment(s, e, slots, close_at_end=not carry))
        s = e if carry else e + int(rng.integers(0, 4))
    return segs


def assert_same(fast, ref):
    assert fast.fills == ref["fills"]
    np.testing.assert_array_equal(fast.seg_fills, ref["seg_fills"])
    np.testing.assert_allclose(fast.equity, ref["equity"], rtol=RTOL, atol=0)
    np.testing.assert_allclose(fast.base, ref["base"], rtol=RTOL, atol=1e-9)
    assert fast.cash == pytest.approx(ref["cash"], rel=RTOL)
    assert fast.fees == pytest.approx(ref["fees"], rel=RTOL, abs=1e-12)
    np.testing.assert_allclose(fast.seg_fees, ref["seg_fees"], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(fast.seg_pnl, ref["seg_pnl"], rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(fast.seg_traded, ref["seg_traded"], rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("path", PATH_MODES)
@pytest.mark.parametrize("spacing", ["ARITHMETIC", "GEOMETRIC"])
@pytest.mark.parametrize("levels", [2, 3, 10, 100, 200])
@pytest.mark.parametrize("seed", [1, 2])
def test_seeded_random_walks_match_the_slow_twin(path, spacing, levels, seed):
    rng = np.random.default_rng(1000 * seed + levels)
    o, h, l, c = random_bars(rng, 400, tick=0.25)
    segs = random_segments(rng, o, [levels], spacings=(spacing,))
    kw = {"budget": 5000.0, "fee": float(rng.choice([0.0, 0.00075, 0.002])), "path": path,
          "min_notional": float(rng.choice([0.0, 5.0]))}
    fast = simulate_grids(o, h, l, c, segs, **kw)
    assert_same(fast, slow.simulate_grids(o, h, l, c, segs, **kw))
    assert fast.fills > 0
    # every bar outside the segments holds no base, so the segments' PnL add up to the total
    assert fast.seg_pnl.sum() == pytest.approx(fast.equity[-1] - 5000.0, rel=1e-9, abs=1e-7)


@settings(max_examples=150)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 150), path=st.sampled_from(PATH_MODES),
       levels=st.lists(st.sampled_from([2, 3, 4, 7, 30, 100, 130]), min_size=1, max_size=3),
       carry_share=st.sampled_from([0.0, 0.5, 1.0]), tick=st.sampled_from([0.25, 0.5, 1.0]))
def test_property_simulator_equals_slow_twin(seed, n, path, levels, carry_share, tick):
    rng = np.random.default_rng(seed)
    o, h, l, c = random_bars(rng, n, tick=tick)
    segs = random_segments(rng, o, levels, carry_share)
    kw = {"budget": 2000.0, "fee": 0.00075, "path": path, "min_notional": 5.0}
    assert_same(simulate_grids(o, h, l, c, segs, **kw), slow.simulate_grids(o, h, l, c, segs, **kw))
    # sized to equity (a small account, so grids are often scaled), with and without a lot step
    kw = {"budget": float(rng.choice([300.0, 900.0])), "fee": 0.00075, "path": path, "min_notional": 5.0,
          "size_to_equity": True, "lot": float(rng.choice([0.0, 0.01]))}
    assert_same(simulate_grids(o, h, l, c, segs, **kw), slow.simulate_grids(o, h, l, c, segs, **kw))


# --- wrapper errors ----------------------------------------------------------------------------


def _ok_inputs(n=5):
    o, h, l, c = bars(flat(100.5, n))
    return o, h, l, c, [Segment(0, n, unit_grid(100, 101, 102))]


def test_error_bad_path_and_scalars():
    o, h, l, c, segs = _ok_inputs()
    with pytest.raises(InvalidParameterError, match=r"^path: expected one of \('pessimistic', 'ohlc'\), got 'close'"):
        simulate_grids(o, h, l, c, segs, path="close")
    with pytest.raises(InvalidParameterError, match=r"^fee: expected a rate in \[0, 0.1\), got 0.1"):
        simulate_grids(o, h, l, c, segs, fee=0.1)
    with pytest.raises(InvalidParameterError, match=r"^budget: expected a finite number > 0, got 0"):
        simulate_grids(o, h, l, c, segs, budget=0)
    with pytest.raises(InvalidParameterError, match=r"^min_notional: expected a finite number >= 0"):
        simulate_grids(o, h, l, c, segs, min_notional=-1.0)


def test_error_unequal_lengths_and_bad_prices():
    o, h, l, c, segs = _ok_inputs()
    with pytest.raises(InvalidParameterError, match=r"expected equal lengths, got open=5, high=4, low=5, close=5"):
        simulate_grids(o, h[:4], l, c, segs)
    bad = l.copy()
    bad[3] = np.nan
    with pytest.raises(InvalidParameterError, match=r"^low: expected finite prices > 0, got nan at index 3"):
        simulate_grids(o, h, bad, c, segs)
    bad = c.copy()
    bad[1] = np.inf
    with pytest.raises(InvalidParameterError, match=r"^close: expected finite prices > 0, got inf at index 1"):
        simulate_grids(o, h, l, bad, segs)
    with pytest.raises(InvalidParameterError, match=r"^open: expected finite prices > 0, got 0.0 at index 0"):
        simulate_grids(np.r_[0.0, o[1:]], h, l, c, segs)
    with pytest.raises(InvalidParameterError, match=r"^high: expected a 1-D array"):
        simulate_grids(o, h.reshape(5, 1), l, c, segs)


def test_error_segments_named_by_index():
    o, h, l, c, _ = _ok_inputs(10)
    g = unit_grid(100, 101, 102)
    with pytest.raises(InvalidParameterError, match=r"^segments\[1\]: expected start >= 5"):
        simulate_grids(o, h, l, c, [Segment(0, 5, g), Segment(4, 8, g)])  # overlap
    with pytest.raises(InvalidParameterError, match=r"^segments\[0\]: close_at_end=False carries .* start at its end 5, got start=6"):
        simulate_grids(o, h, l, c, [Segment(0, 5, g, close_at_end=False), Segment(6, 8, g)])
    with pytest.raises(InvalidParameterError, match=r"^segments\[1\]: close_at_end=False carries the inventory, but no segment follows"):
        simulate_grids(o, h, l, c, [Segment(0, 5, g), Segment(5, 8, g, close_at_end=False)])
    # a segment ending at the last bar may stay open: valued at the last close, not sold
    open_ = simulate_grids(o, h, l, c, [Segment(0, 5, g), Segment(5, 10, g, close_at_end=False)], fee=0.001)
    closed = simulate_grids(o, h, l, c, [Segment(0, 5, g), Segment(5, 10, g)], fee=0.001)
    assert np.array_equal(open_.equity[:-1], closed.equity[:-1]) and closed.base[-1] == 0.0
    assert open_.equity[-1] - closed.equity[-1] == pytest.approx(open_.base[-1] * c[-1] * 0.001, rel=1e-12)
    with pytest.raises(InvalidParameterError, match=r"^segments\[0\]: expected end <= 10 bars, got end=11"):
        simulate_grids(o, h, l, c, [Segment(0, 11, g)])
    with pytest.raises(InvalidParameterError, match=r"^segments\[1\]: expected a Segment, got tuple"):
        simulate_grids(o, h, l, c, [Segment(0, 5, g), (5, 8, g)])
    with pytest.raises(InvalidParameterError, match=r"^end: expected end > start=3, got 3"):
        Segment(3, 3, g)
    with pytest.raises(InvalidParameterError, match=r"^slots: expected GridSlots"):
        Segment(0, 3, [100, 101])


def test_error_grid_parameters():
    with pytest.raises(InvalidParameterError, match=r"^prices: expected strictly ascending"):
        GridSlots([100, 100, 101], [1, 1])
    with pytest.raises(InvalidParameterError, match=r"^qty: expected 2 quantities \(one per slot\), got 3"):
        GridSlots([100, 101, 102], [1, 1, 1])
    with pytest.raises(InvalidParameterError, match=r"^qty: expected finite quantities >= 0"):
        GridSlots([100, 101, 102], [1, -1])
    with pytest.raises(InvalidParameterError, match=r"^prices: expected at least 2 levels"):
        GridSlots([100], [])
    with pytest.raises(InvalidParameterError, match=r"^upper: expected upper > lower"):
        grid_slots(101, 100, 3)
    with pytest.raises(InvalidParameterError, match=r"^levels: expected an integer in \[2, 1000\]"):
        grid_slots(100, 101, 1)
    with pytest.raises(InvalidParameterError, match=r"^spacing_mode: expected one of"):
        grid_slots(100, 101, 3, "LOG")
    with pytest.raises(InvalidParameterError, match=r"^allocation: expected a finite number > 0"):
        grid_slots(100, 101, 3, allocation=-5)
    with pytest.raises(InvalidParameterError, match=r"^tick: expected a tick that leaves at least 2 distinct levels"):
        grid_slots(100, 101, 3, tick=10.0)
    with pytest.raises(InvalidParameterError, match=r"^lot: expected a finite number >= 0"):
        grid_slots(100, 101, 3, lot=float("nan"))


def test_grid_slots_are_read_only_copies():
    prices = np.array([100.0, 101.0, 102.0])
    s = GridSlots(prices, [1.0, 1.0])
    prices[0] = 1.0
    assert s.prices[0] == 100.0
    with pytest.raises(ValueError):
        s.qty[0] = 5.0
    assert s == GridSlots([100, 101, 102], [1, 1]) and hash(s) == hash(GridSlots([100, 101, 102], [1, 1]))


@pytest.mark.parametrize("path", PATH_MODES)
@pytest.mark.parametrize("seed", [3, 4])
def test_simulate_windows_equals_the_slow_twin_window_by_window(path, seed):
    rng = np.random.default_rng(seed)
    o, h, lo, c = random_bars(rng, 400, 0.25)
    windows, budgets = [], []
    for _ in range(40):  # overlapping windows, each its own account
        a = int(rng.integers(0, 390))
        b = int(rng.integers(a + 1, min(400, a + 80) + 1))
        mid = float(o[a])
        slots = grid_slots(mid * 0.97, mid * 1.03, int(rng.choice([2, 5, 11])), allocation=float(rng.uniform(200, 900)),
                           tick=0.25, lot=float(rng.choice([0.0, 0.01])), min_notional=5.0)
        windows.append((a, b, slots))
        budgets.append(float(rng.uniform(300, 1500)))
    got = simulate_windows(o, h, lo, c, windows, budgets, fee=FEE, path=path, min_notional=5.0, size_to_equity=True,
                           lot=0.01)
    for k, (a, b, slots) in enumerate(windows):
        ref = slow.simulate_grids(o[a:b], h[a:b], lo[a:b], c[a:b], [Segment(0, b - a, slots)], budget=budgets[k],
                                  fee=FEE, path=path, min_notional=5.0, size_to_equity=True, lot=0.01)
        assert got[k] == pytest.approx(ref["equity"][-1], rel=RTOL)


def test_simulate_windows_names_bad_windows_and_budgets():
    o, h, lo, c = (np.full(10, 100.0),) * 4
    s = unit_grid(99.0, 100.0, 101.0)
    with pytest.raises(InvalidParameterError, match=r"budgets: expected 2 values"):
        simulate_windows(o, h, lo, c, [(0, 5, s), (2, 8, s)], [1000.0])
    with pytest.raises(InvalidParameterError, match=r"windows\[1\]: expected 0 <= start < end <= 10"):
        simulate_windows(o, h, lo, c, [(0, 5, s), (8, 11, s)], [1000.0, 1000.0])
    with pytest.raises(InvalidParameterError, match=r"windows\[0\]: expected GridSlots"):
        simulate_windows(o, h, lo, c, [(0, 5, "grid")], [1000.0])
    with pytest.raises(InvalidParameterError, match=r"budgets: expected finite numbers > 0"):
        simulate_windows(o, h, lo, c, [(0, 5, s)], [0.0])
    assert simulate_windows(o, h, lo, c, [], []).size == 0


def test_grid_slots_refuses_levels_that_collapse_in_floating_point():
    with pytest.raises(InvalidParameterError, match="prices: expected strictly ascending"):
        grid_slots(1.0, 1.0 + 4e-16, 10, min_notional=0.0)
