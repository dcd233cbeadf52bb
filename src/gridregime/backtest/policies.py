"""Policies: what grid (if any) to run after each analysed hour.

A policy is a callable ``policy(view) -> GridSpec | None`` with a ``name``. It is called once per
hour of a run, in order, with the :class:`HourView` of the hour just closed, and returns the grid
it wants to run from the first minute of the next hour (no look-ahead), or None for no grid.

The runner compares the answer with the grid currently running:

- the same :class:`GridSpec` (equal fields): the grid keeps running, its slots untouched;
- a different one while a grid runs: the grid is *re-centred*: the new levels replace the old ones
  and only the inventory difference is traded (see :mod:`gridregime.kernels.gridsim`);
- a spec while none runs: a grid starts (neutral inventory bought at the next minute's open);
- None while a grid runs: the grid is closed (its inventory sold at the close of the hour's last
  minute).

``view.current`` is the grid running now and ``view.current_hours`` how many hours it has run since
it started or was last re-centred, so most policies are plain functions. The built-in ones:

ALWAYS       a grid over the discovered range at all times, re-centred (see :func:`follow_range`).
VERDICT      the ALWAYS grid while the verdict is RANGE_OK; closed otherwise.
STICKY       started on RANGE_OK, kept (and re-centred) through RANGE_WEAK, closed on TREND or
             TRANSITION.
ADX_FILTER   the ALWAYS grid while ADX(14) < 25.
VOL_PREMIUM  a grid over the discovered range started when the ATR ranks in the top 20 % of its
             history, re-centred when an hourly close leaves it, closed when the rank falls below
             50 (see :func:`_vol_premium`). A reference: it reads no verdict.
SUPERVISOR   exactly the grid :class:`~gridregime.grid.GridSupervisor` holds after the hour
             (bounds, levels, spacing, allocation; None while disabled).
RANDOM       on and off at random hours with SUPERVISOR's exposure and number of starts, the ALWAYS
             grid while on (built per symbol and seed by the runner: :func:`random_policy`).
HOLD, FLAT   buy and hold, and cash; computed without a policy call.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from gridregime.errors import InvalidParameterError
from gridregime.grid.inputs import MarketState
from gridregime.verdicts import RANGE_OK, TRANSITION, TREND


GRID_POLICIES = ("ALWAYS", "VERDICT", "STICKY", "SUPERVISOR", "ADX_FILTER", "VOL_PREMIUM")
ALL_POLICIES = GRID_POLICIES + ("RANDOM", "HOLD", "FLAT")

RECENTRE_HOURS = 24
ADX_LIMIT = 25.0
PREMIUM_START_RANK = 80.0
PREMIUM_EXIT_RANK = 50.0


@dataclass(frozen=True)
class GridSpec:
    """A grid a policy wants: bounds, level count (both bounds included), spacing, allocation, mode."""

    lower: float
    upper: float
    levels: int
    allocation: float
    spacing_mode: str = "ARITHMETIC"
    mode: str = "NORMAL"

    def __post_init__(self) -> None:
        for name in ("lower", "upper", "allocation"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise InvalidParameterError(f"GridSpec.{name}: expected a finite number > 0, got {v!r}")
        if self.upper <= self.lower:
            raise InvalidParameterError(f"GridSpec.upper: expected > lower ({self.lower!r}), got {self.upper!r}")
        if isinstance(self.levels, bool) or not isinstance(self.levels, int) or not 2 <= self.levels <= 1000:
            raise InvalidParameterError(f"GridSpec.levels: expected an integer in [2, 1000], got {self.levels!r}")
        if self.spacing_mode not in ("ARITHMETIC", "GEOMETRIC"):
            raise InvalidParameterError(
                f"GridSpec.spacing_mode: expected ARITHMETIC or GEOMETRIC, got {self.spacing_mode!r}")

    def contains(self, price: float) -> bool:
        return self.lower <= price <= self.upper


@dataclass(frozen=True)
class HourView:
    """What a policy sees after hour ``hour`` closed.

    ``market`` is the analysis of the hour (the grid layer's view: verdict, scores, ATR, ADX,
    discovered range, close); ``supervisor`` the grid supervisor's row for the hour (see
    :data:`gridregime.grid.supervisor.ROW_COLUMNS`) or None; ``index`` the hour's position in the
    run; ``levels`` and ``budget`` the run's settings for simple grids.
    """

    symbol: str
    hour: datetime
    index: int
    market: MarketState
    supervisor: Mapping[str, Any] | None
    current: GridSpec | None
    current_hours: int
    levels: int
    budget: float


Policy = Callable[[HourView], "GridSpec | None"]


@dataclass(frozen=True)
class NamedPolicy:
    """A policy function with a name (what the runner and the report call it)."""

    name: str
    fn: Callable[[HourView], GridSpec | None] = field(repr=False)

    def __call__(self, view: HourView) -> GridSpec | None:
        return self.fn(view)


def range_grid(view: HourView) -> GridSpec | None:
    """A grid of ``view.levels`` levels over the hour's discovered range, widened by one step past
    the close when the range has not caught up with the price yet; None without a range."""
    m = view.market
    if not m.has_range or not (math.isfinite(m.price) and m.price > 0):
        return None
    lower, upper = m.range_lower, m.range_upper
    step = (upper - lower) / (view.levels - 1)
    if not m.price_in_range:
        lower = min(lower, m.price - step)
        upper = max(upper, m.price + step)
        if lower <= 0:
            lower = m.price / 2
    return GridSpec(lower=lower, upper=upper, levels=view.levels, allocation=view.budget)


def follow_range(view: HourView) -> GridSpec | None:
    """Keep the running grid, re-centred on the discovered range every 24 h and as soon as an
    hourly close is outside it; start one when none runs. Without a range the grid is kept."""
    cur = view.current
    if cur is not None and view.current_hours < RECENTRE_HOURS and cur.contains(view.market.price):
        return cur
    fresh = range_grid(view)
    return cur if fresh is None else fresh


def _always(view: HourView) -> GridSpec | None:
    return follow_range(view)


def _verdict(view: HourView) -> GridSpec | None:
    return follow_range(view) if view.market.verdict == RANGE_OK else None


def _sticky(view: HourView) -> GridSpec | None:
    verdict = view.market.verdict
    if verdict in (TREND, TRANSITION):
        return None
    if view.current is None:
        return follow_range(view) if verdict == RANGE_OK else None
    return follow_range(view)  # RANGE_OK, RANGE_WEAK or no verdict: keep running


def _adx_filter(view: HourView) -> GridSpec | None:
    adx = view.market.adx
    return follow_range(view) if math.isfinite(adx) and adx < ADX_LIMIT else None


def _vol_premium(view: HourView) -> GridSpec | None:
    """A grid is short volatility: it earns the oscillation it trades and loses the net move it holds.
    Volatility mean-reverts, so the oscillation is richest, relative to where volatility will
    go next, just after the ATR has climbed high in its own history; in calm hours it tends to expand.
    Start when pct(ATR) >= 80, keep (re-centred once a close leaves the grid) until pct(ATR) < 50,
    when the premium is spent. docs/validation.md has the evidence."""
    m, cur = view.market, view.current
    rank = m.atr_rank
    if not math.isfinite(rank):
        return cur
    if cur is None:
        return range_grid(view) if rank >= PREMIUM_START_RANK else None
    if rank < PREMIUM_EXIT_RANK:
        return None
    if cur.contains(m.price):
        return cur
    fresh = range_grid(view)
    return cur if fresh is None else fresh


def supervisor_grid(row: Mapping[str, Any] | None) -> GridSpec | None:
    """The grid a supervisor row says is running (None while disabled or absent)."""
    if not row or not row.get("grid_enabled"):
        return None
    return GridSpec(lower=float(row["grid_lower"]), upper=float(row["grid_upper"]), levels=int(row["grid_levels"]),
                    allocation=float(row["grid_allocation"]), spacing_mode=str(row["grid_spacing_mode"]),
                    mode=str(row["grid_mode"]))


def _supervisor(view: HourView) -> GridSpec | None:
    return supervisor_grid(view.supervisor)


BUILTIN: dict[str, NamedPolicy] = {
    "ALWAYS": NamedPolicy("ALWAYS", _always),
    "VERDICT": NamedPolicy("VERDICT", _verdict),
    "STICKY": NamedPolicy("STICKY", _sticky),
    "ADX_FILTER": NamedPolicy("ADX_FILTER", _adx_filter),
    "SUPERVISOR": NamedPolicy("SUPERVISOR", _supervisor),
    "VOL_PREMIUM": NamedPolicy("VOL_PREMIUM", _vol_premium),
}


def random_mask(n_hours: int, exposure: int, starts: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean on/off mask over ``n_hours`` decision hours with ``exposure`` on-hours in ``starts``
    separate on-runs, placed uniformly at random (runs of at least one hour, separated by at least
    one off-hour). The counts are clipped to what fits."""
    mask = np.zeros(n_hours, dtype=bool)
    exposure = max(0, min(int(exposure), n_hours))
    starts = max(0, min(int(starts), exposure, (n_hours - exposure) + 1))
    if starts == 0 or exposure == 0:
        return mask
    # on-run lengths: a random composition of `exposure` into `starts` positive parts
    cuts = np.sort(rng.choice(np.arange(1, exposure), size=starts - 1, replace=False)) if starts > 1 else []
    on = np.diff(np.r_[0, cuts, exposure]).astype(np.int64)
    # off gaps: starts + 1 gaps, the inner ones >= 1, summing to n_hours - exposure
    free = n_hours - exposure - (starts - 1)
    weights = rng.multinomial(free, np.full(starts + 1, 1.0 / (starts + 1)))
    gaps = weights.astype(np.int64)
    gaps[1:-1] += 1
    pos = 0
    for k in range(starts):
        pos += int(gaps[k])
        mask[pos:pos + int(on[k])] = True
        pos += int(on[k])
    return mask


def random_policy(mask: np.ndarray, name: str = "RANDOM") -> NamedPolicy:
    """The ALWAYS grid on the hours where ``mask`` is True (by ``view.index``), no grid otherwise."""
    def fn(view: HourView) -> GridSpec | None:
        return follow_range(view) if mask[view.index] else None
    return NamedPolicy(name, fn)


def as_policies(policies: Mapping[str, Any] | None) -> dict[str, NamedPolicy]:
    """User policies ``{name: callable}`` checked and wrapped; names must not shadow the built-ins."""
    out: dict[str, NamedPolicy] = {}
    for name, fn in (policies or {}).items():
        if not isinstance(name, str) or not name or name in ALL_POLICIES:
            raise InvalidParameterError(
                f"policies: expected new policy names (not {', '.join(ALL_POLICIES)}), got {name!r}")
        if not callable(fn):
            raise InvalidParameterError(f"policies[{name!r}]: expected a callable(view) -> GridSpec | None")
        out[name] = fn if isinstance(fn, NamedPolicy) else NamedPolicy(name, fn)
    return out
