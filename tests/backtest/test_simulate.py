"""From hourly wishes to segments and equity: timing (no look-ahead), carries, closes, counts."""
from __future__ import annotations

import numpy as np
import pytest

from gridregime.backtest.policies import GridSpec
from gridregime.backtest.simulate import Bars, Exchange, _segments, forward_grid_pnl, hold_equity, run_policy
from gridregime.kernels.gridsim import grid_slots


def flat_bars(n_hours: int, per_hour: int = 3, price: float = 100.0, missing=()) -> Bars:
    """``per_hour`` flat bars a hour at ``price`` (hours in ``missing`` have none)."""
    counts = [0 if k in missing else per_hour for k in range(n_hours)]
    n = sum(counts)
    p = np.full(n, price)
    start = np.r_[0, np.cumsum(counts)].astype(np.int64)
    return Bars(p.copy(), p.copy(), p.copy(), p.copy(), start, 0.01, 0.0, False)


A = GridSpec(90.0, 110.0, 5, 1000.0)
B = GridSpec(95.0, 115.0, 5, 1000.0)


def starts_of(bars, wishes):
    segs, _ = _segments(bars, wishes, lambda s: grid_slots(s.lower, s.upper, s.levels, s.spacing_mode, s.allocation))
    return [(s.start, s.end, s.close_at_end) for s in segs]


def test_a_wish_after_hour_h_trades_from_the_first_bar_of_h_plus_1():
    bars = flat_bars(4)
    # wish A after hour 0 -> runs from bar 3 (hour 1) to the end, left open (valued, not sold)
    assert starts_of(bars, [A, A, A, A]) == [(3, 12, False)]
    # None after hour 2 -> closed at the end of hour 2 (bar 9)
    assert starts_of(bars, [A, A, None, None]) == [(3, 9, True)]
    # a different grid after hour 1 -> re-centred (carried) at bar 6
    assert starts_of(bars, [A, B, B, B]) == [(3, 6, False), (6, 12, False)]
    # the last hour's wish has no bars to trade on
    assert starts_of(bars, [None, None, None, A]) == []


def test_hours_without_bars_move_no_boundary_and_same_bar_changes_collapse():
    bars = flat_bars(5, missing=(2,))  # hour 2 has no bars: hours 1 and 3 start at bars 3 and 6
    assert list(bars.hour_start) == [0, 3, 6, 6, 9, 12]
    # A after hour 1 (bar 6), B after hour 2 (also bar 6): only B
    assert starts_of(bars, [None, A, B, B, B]) == [(6, 12, False)]
    # A then None at the same bar: nothing runs
    assert starts_of(bars, [None, A, None, None, None]) == []


def test_flat_price_grid_pays_only_the_opening_rebalance_and_is_valued_not_sold():
    bars = flat_bars(4, price=100.0)
    spec = GridSpec(90.0, 110.0, 5, 1000.0)  # levels 90, 95, 100, 105, 110; slots at 100 and 105 hold base
    run = run_policy("X", bars, [spec] * 4, Exchange(fee=0.001, min_notional=0.0), 1000.0)
    qty = 250.0 / 100.0 + 250.0 / 105.0  # the neutral inventory bought at 100
    fee = qty * 100.0 * 0.001
    # hour 0: nothing runs; hours 1-3: equity = budget - fee (bought at the price it is valued at)
    assert run.equity[0] == 1000.0
    assert run.equity[1:] == pytest.approx(1000.0 - fee, rel=1e-12)
    assert run.starts == 1 and run.recentres == 0 and run.stops == 0 and run.fills == 0
    assert run.fees == pytest.approx(fee, rel=1e-12)  # the sale at the end is not a fee paid
    assert run.closing_cost == pytest.approx(qty * 100.0 * 0.001, rel=1e-9)
    assert list(run.exposed) == [False, True, True, True]


def test_counts_of_starts_recentres_stops_and_losing_stops():
    n = 8
    bars = flat_bars(n, price=100.0)
    # price falls 100 -> 80 in hour 4: a full grid is bought on the way down, then closed at 80
    for k in (4, 5, 6, 7):
        lo, hi = bars.hour_start[k], bars.hour_start[k + 1]
        bars.low[lo:hi] = 80.0
        bars.close[lo:hi] = 80.0
        bars.open[lo + 1:hi] = 80.0
        bars.high[lo + 1:hi] = 80.0
    wishes = [A, B, A, A, None, None, A, None]
    run = run_policy("X", bars, wishes, Exchange(fee=0.0, min_notional=0.0), 1000.0)
    # starts: after hour 0 and after hour 6; re-centres: A->B (hour 1), B->A (hour 2); stops: after hour 4 only
    # (the wish after the last hour has no bar to act on: the second grid is still running at the end)
    assert (run.starts, run.recentres, run.stops) == (2, 2, 1)
    # the first run is closed at 80 having bought every slot below 100: more than 2 % of 1000 lost
    assert run.losing_stops >= 1
    assert list(run.exposed) == [False, True, True, True, True, False, False, True]


def test_hold_buys_at_the_first_decision_and_marks_every_hour():
    bars = flat_bars(3, price=100.0)
    bars.close[6:9] = 120.0
    eq = hold_equity(bars, 1000.0, 0.001)
    qty = 1000.0 * 0.999 / 100.0
    assert eq[0] == 1000.0 and eq[1] == pytest.approx(qty * 100.0) and eq[2] == pytest.approx(qty * 120.0)


def test_grids_are_sized_to_what_the_account_still_has():
    """Every hour the price halves (four falling bars) and a policy runs a full-budget grid over the
    hour's fall, closing it at the bottom: about a quarter of the grid is lost each hour. Without
    sizing eight such hours lose more than the budget; sized to equity, each grid is scaled down,
    the account shrinks geometrically and never goes below zero."""
    n, per = 9, 4
    opens = []
    for k in range(n):
        top = 100.0 * 0.5 ** k
        opens += [top * (1 - 0.125 * j) for j in range(per)]  # top, 0.875, 0.75, 0.625 of it
    o = np.array(opens)
    c = np.r_[o[1:], o[-1] * 0.8]  # each bar closes where the next opens; the hour ends at half
    h, lo = np.maximum(o, c), np.minimum(o, c)
    start = np.arange(0, n * per + 1, per, dtype=np.int64)
    bars = Bars(o, h, lo, c, start, 0.0, 0.0, False)
    wishes = [GridSpec(50.0 * 0.5 ** k, 100.0 * 0.5 ** k * 1.0001, 9, 1000.0) for k in range(1, n)] + [None]
    wishes = [None] + wishes[:-1]  # decided after hour k-1: runs over hour k's fall
    run = run_policy("X", bars, wishes, Exchange(fee=0.0, min_notional=0.0), 1000.0)
    assert run.equity.min() > 0.0
    losses = -np.diff(run.equity[1:])
    assert losses.min() > 0.0  # it loses every hour ...
    ratios = run.equity[2:] / run.equity[1:-1]
    assert ratios.max() - ratios.min() < 0.05  # ... about the same share each time: the grids shrink with it
    assert losses.sum() < 1000.0  # (the same grids unsized lose more than the budget)


def test_forward_grid_pnl_at_a_flat_price_is_the_two_fees_on_the_neutral_inventory():
    bars = flat_bars(6, price=100.0)
    spec = GridSpec(90.0, 110.0, 5, 1000.0)
    out = forward_grid_pnl(bars, [spec, None, spec, spec, spec, spec], 2, Exchange(fee=0.001, min_notional=0.0))
    qty = 250.0 / 100.0 + 250.0 / 105.0  # bought at the next hour's open, sold at the horizon's last close
    expect = -2 * qty * 100.0 * 0.001 / 1000.0
    assert out[0] == pytest.approx(expect, rel=1e-12) and out[2] == pytest.approx(expect, rel=1e-12)
    assert np.isnan(out[1])  # no spec
    assert np.isnan(out[4]) and np.isnan(out[5])  # fewer than 2 hours after them
    holed = flat_bars(6, price=100.0, missing=(2,))
    assert np.isnan(forward_grid_pnl(holed, [spec] * 6, 2, Exchange(fee=0.001))[:2]).all()  # a window with no bars


def test_forward_grid_pnl_equals_a_policy_that_starts_the_grid_and_closes_it_after_the_horizon():
    rng = np.random.default_rng(7)
    n_hours, per = 12, 20
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.004, n_hours * per)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, close.size))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, close.size))
    bars = Bars(open_, high, low, close, np.arange(0, (n_hours + 1) * per, per, dtype=np.int64), 0.0001, 0.0, False)
    spec = GridSpec(float(close.min()) * 0.99, float(close.max()) * 1.01, 7, 500.0)
    ex = Exchange(fee=0.00075, min_notional=1.0)
    horizon = 3
    out = forward_grid_pnl(bars, [spec] * n_hours, horizon, ex)
    for t in range(n_hours - horizon):
        wishes = [None] * n_hours
        wishes[t:t + horizon] = [spec] * horizon  # decided after hours t .. t+h-1: runs hours t+1 .. t+h
        run = run_policy("X", bars, wishes, ex, 500.0)
        # a policy leaves a grid still running on the last hour open (valued, not sold): add the sale's fee
        unsold = run.closing_cost if t + horizon == n_hours - 1 else 0.0
        assert out[t] == pytest.approx((run.equity[t + horizon] - unsold) / 500.0 - 1.0, rel=1e-9, abs=1e-12)
    assert np.isnan(out[n_hours - horizon:]).all()
