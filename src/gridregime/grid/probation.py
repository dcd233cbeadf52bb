"""Fresh grids from a discovered range, the probationary grid, promotion and quick stops (SPEC §6).

A *normal* fresh grid spans the discovered range with the §5 spacing. A *probationary* grid (run
after a restart) is deliberately small: ``allocation_fraction`` (50–60 %) of the normal
allocation, ``min_levels``–``max_levels`` (4–6) levels ``spacing_atr`` (0.45–0.55) ATR apart,
centred on the price and shifted to lie inside the discovered range.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gridregime.errors import InvalidParameterError
from gridregime.grid.config import GridConfig, GridMode, SpacingMode
from gridregime.grid.inputs import TREND, MarketState
from gridregime.grid.settings import GridPolicy
from gridregime.timeutil import HOUR


class GridBuildError(InvalidParameterError):
    """No fresh grid can be built from this hour's market state; the message says why."""


def _require_range(market: MarketState) -> None:
    if not market.has_range:
        raise GridBuildError(f"range: {market.symbol} at {market.hour.isoformat()} has no discovered range")
    if not (math.isfinite(market.atr) and market.atr > 0):
        raise GridBuildError(f"atr: expected a finite ATR > 0, got {market.atr!r}")
    if not (math.isfinite(market.price) and market.price > 0):
        raise GridBuildError(f"price: expected a finite price > 0, got {market.price!r}")


def decision_time(market: MarketState) -> datetime:
    """A grid decided on hour H is created at the close of H."""
    return market.hour + HOUR


def probation_grid(market: MarketState, policy: GridPolicy = GridPolicy(), *, reason: str = "probationary restart",
                   extend_to_price: bool = False) -> GridConfig:
    """A probationary grid from this hour's discovered range and ATR.

    The price must be inside the discovered range. Level count is the largest in
    ``[min_levels, max_levels]`` whose span ``(levels - 1) * spacing`` fits the range, trying
    ``spacing_atr`` first and the 0.45 ATR minimum second. The span is centred on the price, then
    shifted just enough to stay inside the range, so the grid always contains the price.

    With ``extend_to_price`` (repositioning), a price outside the range first widens the range
    to one probation span beyond the price instead of being refused.

    Raises
    ------
    GridBuildError
        No range, price outside it (unless ``extend_to_price``), or the range too narrow for ``min_levels`` at 0.45 ATR.
    """
    _require_range(market)
    range_lower, range_upper = market.range_lower, market.range_upper
    if not market.price_in_range:
        if not extend_to_price:
            raise GridBuildError(
                f"price: {market.price!r} is outside the discovered range [{range_lower!r}, {range_upper!r}]"
            )
        reach = (policy.max_levels - 1) * policy.spacing_atr * market.atr
        range_lower = max(min(range_lower, market.price - reach), market.price / 2)
        range_upper = max(range_upper, market.price + reach)
    width = range_upper - range_lower
    for spacing_atr in (policy.spacing_atr, 0.45):
        spacing = spacing_atr * market.atr
        levels = min(policy.max_levels, math.floor(width / spacing * (1 + 1e-12)) + 1)
        if levels >= policy.min_levels:
            break
    else:
        raise GridBuildError(
            f"range: width {width / market.atr:.3f} ATR is too narrow for {policy.min_levels} levels at 0.45 ATR"
        )
    span = (levels - 1) * spacing
    lower = market.price - span / 2
    lower = min(max(lower, range_lower), range_upper - span)
    lower = max(lower, range_lower)
    upper = lower + span
    upper = min(upper, range_upper)  # rounding only
    return GridConfig(
        symbol=market.symbol, lower=lower, upper=upper, levels=levels, allocation=policy.normal_allocation
        * policy.allocation_fraction, spacing_mode=SpacingMode.ARITHMETIC, enabled=True, mode=GridMode.PROBATION,
        version=0, created_at=decision_time(market), reason=reason,
    )


def normal_grid(market: MarketState, policy: GridPolicy = GridPolicy(), *, reason: str = "fresh grid from discovered range") -> GridConfig:
    """A normal grid spanning the discovered range (widened to include the price if needed).

    The step is the §5 spacing (``market.spacing``, else 0.5 ATR); the level count is
    ``floor(width / step) + 1``, capped by ``max_normal_levels`` and at least 2.
    """
    _require_range(market)
    step = market.spacing if math.isfinite(market.spacing) and market.spacing > 0 else 0.5 * market.atr
    lower, upper = market.range_lower, market.range_upper
    if not market.price_in_range:
        # The range has not caught up with the price yet: extend it by one step past the price.
        lower = min(lower, market.price - step)
        upper = max(upper, market.price + step)
        if lower <= 0:
            lower = market.price / 2
    levels = max(2, min(policy.max_normal_levels, math.floor((upper - lower) / step) + 1))
    return GridConfig(
        symbol=market.symbol, lower=lower, upper=upper, levels=levels, allocation=policy.normal_allocation,
        spacing_mode=SpacingMode.ARITHMETIC, enabled=True, mode=GridMode.NORMAL, version=0,
        created_at=decision_time(market), reason=reason,
    )


def quick_stop_triggers(grid: GridConfig, market: MarketState, policy: GridPolicy = GridPolicy(), *,
                        pnl: float | None = None) -> tuple[str, ...]:
    """Names of the quick-stop conditions that fire this hour (empty when none).

    ``close_beyond_bound`` (close beyond a bound by more than ``quick_stop_atr`` ATR), ``trend``
    (verdict TREND), ``vol_change`` (VolChangeScore > ``quick_stop_vol_change``), ``drawdown``
    (``pnl`` < ``-quick_stop_drawdown * allocation``; only when ``pnl`` is given).
    """
    out = []
    margin = policy.quick_stop_atr * market.atr
    if math.isfinite(margin) and (market.price > grid.upper + margin or market.price < grid.lower - margin):
        out.append("close_beyond_bound")
    if market.verdict == TREND:
        out.append("trend")
    if market.vol_change_score > policy.quick_stop_vol_change:
        out.append("vol_change")
    if pnl is not None and float(pnl) < -policy.quick_stop_drawdown * grid.allocation:
        out.append("drawdown")
    return tuple(out)


@dataclass(frozen=True)
class ProbationStatus:
    """Where a probationary grid stands after the hours seen so far."""

    hours: int
    inside_hours: int
    inside_fraction: float
    quick_stops: tuple[tuple[datetime, tuple[str, ...]], ...]
    promote: bool
    reason: str


def probation_status(grid: GridConfig, markets: Sequence[MarketState] | Iterable[MarketState],
                     policy: GridPolicy = GridPolicy(), *, pnl: Sequence[float | None] | None = None) -> ProbationStatus:
    """Promotion check over the hours the probationary ``grid`` has run (oldest first).

    Promotion needs at least ``probation_hours`` hours, no quick stop in any of them and the close
    inside the grid in at least ``min_inside_fraction`` of them.
    """
    if grid.mode is not GridMode.PROBATION:
        raise InvalidParameterError(f"grid.mode: expected PROBATION, got {grid.mode.value}")
    markets = list(markets)
    if pnl is not None and len(pnl) != len(markets):
        raise InvalidParameterError(f"pnl: expected {len(markets)} values (one per hour), got {len(pnl)}")
    stops = []
    inside = 0
    for i, market in enumerate(markets):
        triggers = quick_stop_triggers(grid, market, policy, pnl=None if pnl is None else pnl[i])
        if triggers:
            stops.append((market.hour, triggers))
        inside += grid.contains(market.price)
    hours = len(markets)
    fraction = inside / hours if hours else 0.0
    if stops:
        promote, reason = False, f"quick stop at {stops[0][0].isoformat()}: {', '.join(stops[0][1])}"
    elif hours < policy.probation_hours:
        promote, reason = False, f"{policy.probation_hours - hours} probation hours left"
    elif fraction < policy.min_inside_fraction:
        promote, reason = False, f"price inside {fraction:.0%} of hours, needs {policy.min_inside_fraction:.0%}"
    else:
        promote, reason = True, f"{hours} hours without quick stop, price inside {fraction:.0%}"
    return ProbationStatus(hours, inside, fraction, tuple(stops), promote, reason)


def promoted(grid: GridConfig, policy: GridPolicy = GridPolicy()) -> GridConfig:
    """The NORMAL version of a probationary grid (same bounds and levels, normal allocation)."""
    return grid.with_changes(mode=GridMode.NORMAL, allocation=policy.normal_allocation, version=0,
                             reason="promoted after probation")
