"""From hourly grid wishes to simulated equity: the schedule of grid segments and one simulator call.

A wish made after hour ``k`` closed applies to the bars of hour ``k + 1`` onwards (no look-ahead):
the grid changes at the first bar whose open time is at or after the start of hour ``k + 1``.
Hours without bars (exchange halts) move no boundary of their own; several changes falling on the
same bar collapse into the last one.

The run is never liquidated at its end: a grid still running is left open and valued at the last
close, so a run over a prefix of the hours gives exactly the prefix of a longer run's figures.
(``closing_cost`` says what selling the final inventory would have cost.)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gridregime.backtest.policies import GridSpec
from gridregime.kernels.gridsim import Segment, grid_slots, simulate_grids, simulate_windows


@dataclass(frozen=True)
class Bars:
    """The bars a run trades on (1m, or 1h in coarse mode) and where each hour of the run starts.

    ``hour_start[k]`` is the index of the first bar of hour ``k`` (``len(close)`` past the end);
    ``hour_start[n_hours]`` closes the last hour.
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    hour_start: np.ndarray
    tick: float
    lot: float
    coarse: bool

    @property
    def n_hours(self) -> int:
        return len(self.hour_start) - 1


@dataclass(frozen=True)
class Exchange:
    """Trading rules of the simulation: fee a fill, minimum order notional, intrabar path."""

    fee: float = 0.00075
    min_notional: float = 5.0
    path: str = "pessimistic"


@dataclass(frozen=True)
class PolicyRun:
    """One policy simulated over one symbol-range.

    ``equity`` is per hour (at the close of the hour's last bar); ``exposed`` whether a grid ran
    during the hour; ``grids`` the spec running during each hour (None when none).
    """

    name: str
    equity: np.ndarray
    exposed: np.ndarray
    starts: int
    recentres: int
    fills: int
    fees: float
    losing_stops: int
    stops: int
    closing_cost: float
    grids: tuple[GridSpec | None, ...]


def _segments(bars: Bars, wishes: Sequence[GridSpec | None], slots_of) -> tuple[list, list[tuple[int, GridSpec]]]:
    """Simulator segments from per-hour wishes. Returns the segments and, per segment, its spec."""
    n_bars = len(bars.close)
    changes: list[tuple[int, GridSpec | None]] = []
    cur: GridSpec | None = None
    for k in range(len(wishes) - 1):
        want = wishes[k]
        if want == cur:
            continue
        b = int(bars.hour_start[k + 1])
        if b >= n_bars:
            break
        if changes and changes[-1][0] == b:
            changes[-1] = (b, want)
        else:
            changes.append((b, want))
        cur = want
    segs, specs = [], []
    # Walk the changes; equal consecutive wishes (after collapsing) are no change.
    running: tuple[int, GridSpec] | None = None
    for b, want in changes:
        if running is not None and want == running[1]:
            continue
        if running is not None:
            segs.append(Segment(running[0], b, slots_of(running[1]), close_at_end=want is None))
            specs.append(running)
        running = None if want is None else (b, want)
    if running is not None:  # still running at the end: left open, valued at the last close, never sold
        segs.append(Segment(running[0], n_bars, slots_of(running[1]), close_at_end=False))
        specs.append(running)
    return segs, specs


def run_policy(name: str, bars: Bars, wishes: Sequence[GridSpec | None], exchange: Exchange,
               budget: float, slot_cache: dict | None = None) -> PolicyRun:
    """Simulate the grids of ``wishes`` (one per hour of ``bars``) and summarise them."""
    cache = {} if slot_cache is None else slot_cache

    def slots_of(spec: GridSpec):
        s = cache.get(spec)
        if s is None:
            s = cache[spec] = grid_slots(spec.lower, spec.upper, spec.levels, spec.spacing_mode, spec.allocation,
                                         tick=bars.tick, lot=bars.lot, min_notional=exchange.min_notional)
        return s

    segs, specs = _segments(bars, wishes, slots_of)
    # Grids are sized to the account: after losses a grid of the budget's size is scaled down, never
    # run on borrowed money (a months-long run would otherwise go below zero).
    sim = simulate_grids(bars.open, bars.high, bars.low, bars.close, segs, budget=budget, fee=exchange.fee,
                         path=exchange.path, min_notional=exchange.min_notional, size_to_equity=True, lot=bars.lot)
    n_bars = len(bars.close)
    ends = bars.hour_start[1:] - 1
    # hours with no bars keep the previous hour's value (their "last bar" belongs to an earlier hour)
    equity = np.where(ends >= 0, sim.equity[np.clip(ends, 0, n_bars - 1)], budget)
    grids: list[GridSpec | None] = [None] + list(wishes[:-1])
    exposed = np.array([g is not None for g in grids], dtype=bool)

    starts = recentres = stops = losing = 0
    run_pnl, run_alloc = 0.0, 0.0
    for k, seg in enumerate(segs):
        carried_in = k > 0 and not segs[k - 1].close_at_end and segs[k - 1].end == seg.start
        if carried_in:
            recentres += 1
        else:
            starts += 1
            run_pnl, run_alloc = 0.0, specs[k][1].allocation
        run_pnl += float(sim.seg_pnl[k])
        if seg.close_at_end:  # closed by the policy (a grid still running at the end stays open)
            stops += 1
            losing += run_pnl < -0.02 * run_alloc
    closing_cost = float(abs(sim.base[-1]) * bars.close[-1] * exchange.fee) if n_bars else 0.0
    return PolicyRun(name, equity.astype(np.float64), exposed, starts, recentres, int(sim.fills), float(sim.fees),
                     losing, stops, closing_cost, tuple(grids))


def forward_grid_pnl(bars: Bars, specs: Sequence[GridSpec | None], horizon: int, exchange: Exchange) -> np.ndarray:
    """What a grid started after each hour would have earned: per hour ``t`` with a spec, the grid
    runs from the first bar of hour ``t + 1`` to the last bar of hour ``t + horizon``, is closed
    there (inventory sold, fee paid), and its result is a fraction of its allocation. NaN without
    a spec, without ``horizon`` hours after ``t``, or when one of them has no bars.

    Each hour is its own account (the windows overlap), so unlike a policy run nothing carries
    from one hour to the next.
    """
    n = bars.n_hours
    out = np.full(n, np.nan)
    counts = np.diff(bars.hour_start)
    hours, windows, budgets = [], [], []
    for t in range(max(0, n - horizon)):
        spec = specs[t]
        if spec is None or not (counts[t + 1:t + 1 + horizon] > 0).all():
            continue
        # the discovered range moves almost every hour, so the slots are built per hour (no cache)
        slots = grid_slots(spec.lower, spec.upper, spec.levels, spec.spacing_mode, spec.allocation,
                           tick=bars.tick, lot=bars.lot, min_notional=exchange.min_notional)
        hours.append(t)
        windows.append((int(bars.hour_start[t + 1]), int(bars.hour_start[t + 1 + horizon]), slots))
        budgets.append(spec.allocation)
    if windows:
        final = simulate_windows(bars.open, bars.high, bars.low, bars.close, windows, budgets, fee=exchange.fee,
                                 path=exchange.path, min_notional=exchange.min_notional, size_to_equity=True,
                                 lot=bars.lot)
        out[hours] = final / np.asarray(budgets) - 1.0
    return out


def hold_equity(bars: Bars, budget: float, fee: float) -> np.ndarray:
    """Buy and hold: the budget buys base at the open of the first bar of the second hour (the
    first decision), paying the fee; equity per hour marked at each hour's close."""
    n = bars.n_hours
    out = np.full(n, float(budget))
    if n < 2 or bars.hour_start[1] >= len(bars.close):
        return out
    b0 = int(bars.hour_start[1])
    qty = budget * (1.0 - fee) / float(bars.open[b0])
    ends = bars.hour_start[1:] - 1  # last bar of each hour
    held = ends >= b0
    held[0] = False
    out[held] = qty * bars.close[ends[held]]
    return out
