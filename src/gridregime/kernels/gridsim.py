"""Grid PnL simulator: one account running a sequence of limit-order grids over OHLC bars.

:func:`grid_slots` turns a grid (bounds, levels, spacing, allocation) into level prices and
per-slot quantities; :func:`simulate_grids` runs an account through a list of
:class:`Segment` (bar range + grid) and returns equity per bar and per-segment figures.
The wrapper validates everything once; the compiled kernel
(:mod:`gridregime._libs.gridsim`, over ``csrc/gridregime/gridsim.h``) validates nothing.

Rules
-----
Units: prices and cash in quote currency, quantities in base currency, ``fee`` a fraction of
the traded notional, paid in quote from cash.

*Grid.* ``L`` ascending level prices ``P[0..L)`` make ``L - 1`` slots; slot ``j`` owns the base
quantity ``qty[j]`` (0 = inactive: it never trades) and is either WAITING (a limit buy of
``qty[j]`` at ``P[j]``) or HOLDING (a limit sell of ``qty[j]`` at ``P[j + 1]``).

*Account.* One account starts with ``budget`` cash and no base. Before the first segment,
between segments and after the last one, equity is ``cash + base * close`` (base is 0 there:
a segment that carries its inventory is followed at once by the next one). Cash is not
constrained: a grid whose allocation exceeds the cash runs on negative cash (no margin model).

*Opening a segment* at bar ``s``, price ``p = open[s]``: every active slot with
``P[j] >= p`` starts HOLDING, every other active slot starts WAITING. The neutral target
inventory is the sum of ``qty`` over the HOLDING slots. The account rebalances from its
current base to it with one market order at ``p``: ``delta = target - base``; when
``delta != 0`` and ``|delta| * p >= min_notional`` it trades (``cash -= delta * p``, fee
``|delta| * p * fee``) and base becomes exactly ``target``; otherwise nothing trades and the
difference stays as base (base can then go slightly negative when the slots sell more than
was bought). A fresh start buys the neutral inventory at the open; a re-centre after a
carried segment trades only the difference. ``seg_traded`` is ``delta`` (0 without a trade).

*Fills* are at the limit price, with fee ``fee * qty * price``: a WAITING slot buys when the
price reaches ``P[j]`` from above, a HOLDING slot sells when it reaches ``P[j + 1]`` from below.
Inside one bar, slots are filled in ascending slot order.

``path="pessimistic"``
    Each slot changes state at most once per bar, adverse fill first: every WAITING slot with
    ``low <= P[j]`` buys; then every slot that was HOLDING when the bar opened (not one that
    just bought) with ``high >= P[j + 1]`` sells. A WAITING slot above the bar (left there by
    a sell on an earlier bar) also buys, at its limit.
``path="ohlc"``
    The bar is walked O→H→L→C when ``close < open`` and O→L→H→C otherwise (as jesse does).
    The legs to H and to L are rising and falling legs by definition; the last leg rises in a
    red bar and falls in a green one. A falling leg to ``b`` fills every WAITING slot with
    ``P[j] >= b``; a rising leg to ``b`` fills every HOLDING slot with ``P[j + 1] <= b``. A slot
    can flip on each leg, so up to three times per bar. The walk starts at the open: a level
    between the previous close and the open fills at its limit on the first leg of the right
    direction that reaches it.

*Closing a segment* with ``close_at_end=True``: the whole base is sold (bought back when
negative) at ``close[end - 1]``, fee on the notional, base becomes 0. This liquidation and
the opening rebalance are not counted as fills but their fees are in ``fees`` / ``seg_fees``.

*Marking.* ``equity[i]`` is ``cash + base * close[i]`` after bar ``i``'s fills and after a
liquidation at its close; ``base[i]`` is the base then held. ``seg_pnl[k]`` is the equity at the
close of bar ``end - 1`` minus the equity at the close of bar ``start - 1``; for a segment
starting at bar 0 the reference is ``cash + base * open[0]``, which is ``budget`` (no base can
be held before the first bar), so the gap from the previous close to the open belongs to the
segment.

*Sizing* (``size_to_equity=True``): at a segment's open, when its active slots are worth more
(``sum(Q[j] * P[j])``) than the equity ``cash + base * open[start]``, every quantity is scaled by
equity / worth, rounded down to the ``lot`` step, and slots then below ``min_notional`` go
inactive, so that an account that lost money never trades on borrowed funds.

Complexity: O(n + total levels); a bar without fills costs O(1) whatever the number of
levels, a bar with fills O(log L + L / 64 + fills) (bit sets of WAITING and HOLDING slots).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridregime._libs import gridsim as _gridsim
from gridregime.errors import InvalidParameterError
from gridregime.kernels._validate import as_1d_numeric
from gridregime.levels import grid_levels

__all__ = [
    "PATH_MODES",
    "GridSlots",
    "Segment",
    "SimulationResult",
    "grid_slots",
    "simulate_grids",
    "simulate_windows",
]

PATH_MODES = ("pessimistic", "ohlc")
_PATH_CODES = {"pessimistic": _gridsim.PESSIMISTIC, "ohlc": _gridsim.OHLC}
# Prices and quantities are numbers; unlike the indicator inputs, booleans are refused.
_NUMBER_KINDS = "fiu"
# Tolerance of the round-down to a lot: a quantity that is a whole number of lots up to the
# representation error of the division (0.3 / 0.1 = 2.9999999999999996) keeps that lot.
_LOT_EPS = 1e-9


def _number(name: str, value: Any, positive: bool) -> float:
    expected = "a finite number > 0" if positive else "a finite number >= 0"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name}: expected {expected}, got {type(value).__name__}")
    out = float(value)
    if not (math.isfinite(out) and (out > 0.0 if positive else out >= 0.0)):
        raise InvalidParameterError(f"{name}: expected {expected}, got {value!r}")
    return out


def _non_negative(name: str, value: Any) -> float:
    return _number(name, value, positive=False)


def _positive(name: str, value: Any) -> float:
    return _number(name, value, positive=True)


def _frozen_float64(values: Any, name: str) -> np.ndarray:
    arr = as_1d_numeric(values, name, kinds=_NUMBER_KINDS)
    out = np.array(arr, dtype=np.float64, order="C")  # a private copy, frozen below
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class GridSlots:
    """Level prices and slot quantities of one grid.

    Attributes
    ----------
    prices : ndarray of float64
        ``L >= 2`` strictly ascending, finite, positive level prices (quote currency).
    qty : ndarray of float64
        ``L - 1`` finite base quantities >= 0, one per slot ``[prices[j], prices[j + 1]]``;
        0 marks an inactive slot.

    Both arrays are private read-only copies, validated on construction.
    """

    prices: np.ndarray
    qty: np.ndarray

    def __post_init__(self) -> None:
        prices = _frozen_float64(self.prices, "prices")
        qty = _frozen_float64(self.qty, "qty")
        if prices.size < 2:
            raise InvalidParameterError(f"prices: expected at least 2 levels, got {prices.size}")
        if not (np.isfinite(prices).all() and prices[0] > 0.0):
            raise InvalidParameterError(f"prices: expected finite prices > 0, got {prices.tolist()!r}")
        if not (np.diff(prices) > 0.0).all():
            raise InvalidParameterError(f"prices: expected strictly ascending prices, got {prices.tolist()!r}")
        if qty.size != prices.size - 1:
            raise InvalidParameterError(
                f"qty: expected {prices.size - 1} quantities (one per slot), got {qty.size}")
        if not (np.isfinite(qty).all() and (qty >= 0.0).all()):
            raise InvalidParameterError(f"qty: expected finite quantities >= 0, got {qty.tolist()!r}")
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "qty", qty)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GridSlots):
            return NotImplemented
        return np.array_equal(self.prices, other.prices) and np.array_equal(self.qty, other.qty)

    def __hash__(self) -> int:
        return hash((self.prices.tobytes(), self.qty.tobytes()))

    @classmethod
    def _built(cls, prices: np.ndarray, qty: np.ndarray) -> GridSlots:
        """Slots :func:`grid_slots` computed from validated inputs: frozen, not checked again."""
        out = object.__new__(cls)
        for name, arr in (("prices", prices), ("qty", qty)):
            arr = np.ascontiguousarray(arr, dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(out, name, arr)
        return out

    @property
    def active(self) -> np.ndarray:
        """Boolean mask of the slots that trade (``qty > 0``)."""
        return self.qty > 0.0


def grid_slots(
    lower: float,
    upper: float,
    levels: int,
    spacing_mode: str = "ARITHMETIC",
    allocation: float = 1000.0,
    *,
    tick: float = 0.0,
    lot: float = 0.0,
    min_notional: float = 5.0,
) -> GridSlots:
    """Level prices and slot quantities of a grid.

    The raw levels are :func:`gridregime.levels.grid_levels` (``levels`` prices including
    both bounds, constant step or constant ratio). With ``tick > 0`` each price is rounded to
    the nearest multiple of ``tick`` (halves to even) and levels that then coincide are merged,
    so the result can have fewer levels. Each of the ``L - 1`` slots gets ``allocation / (L -
    1)`` quote: ``qty[j] = allocation / (L - 1) / prices[j]``, rounded down to a multiple of
    ``lot`` when ``lot > 0`` (up to a relative 1e-9, so that a whole number of lots is not lost
    to the division's rounding); a slot with ``qty[j] * prices[j] < min_notional`` gets qty 0.

    Raises
    ------
    InvalidParameterError
        Naming the parameter: bounds, levels, spacing mode (see ``grid_levels``), allocation
        (finite > 0), tick, lot, min_notional (finite >= 0), or a tick so coarse that a level
        rounds to 0 or fewer than 2 levels remain.
    """
    # imported here, not at module import: the grid package is a consumer of the kernels

    raw = np.array(grid_levels(lower, upper, levels, spacing_mode), dtype=np.float64)
    allocation = _positive("allocation", allocation)
    tick = _non_negative("tick", tick)
    lot = _non_negative("lot", lot)
    min_notional = _non_negative("min_notional", min_notional)
    prices = raw
    if tick > 0.0:
        rounded = np.round(raw / tick) * tick  # non-decreasing, as raw ascends: equal levels are neighbours
        prices = rounded[np.r_[True, rounded[1:] > rounded[:-1]]]
        if prices[0] <= 0.0:
            raise InvalidParameterError(f"tick: expected a tick that keeps lower={lower!r} above 0, got {tick!r}")
        if prices.size < 2:
            raise InvalidParameterError(
                f"tick: expected a tick that leaves at least 2 distinct levels in [{lower!r}, {upper!r}], got {tick!r}")
    if not (prices[1:] > prices[:-1]).all():  # levels so dense that float steps collapse
        raise InvalidParameterError(f"prices: expected strictly ascending prices, got {prices.tolist()!r}")
    per_slot = allocation / (prices.size - 1)
    qty = per_slot / prices[:-1]
    if lot > 0.0:
        qty = np.floor(qty / lot * (1.0 + _LOT_EPS)) * lot
    qty = np.where(qty * prices[:-1] < min_notional, 0.0, qty)
    return GridSlots._built(prices, qty)


@dataclass(frozen=True)
class Segment:
    """A grid run over bars ``[start, end)``.

    ``close_at_end=True`` sells the inventory at ``close[end - 1]`` (fee paid) when the segment
    ends; ``False`` carries it into the next segment, which must start exactly at ``end``, or,
    for a segment ending at the last bar, leaves the grid open: valued at the last close, not sold.
    """

    start: int
    end: int
    slots: GridSlots
    close_at_end: bool = True

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise InvalidParameterError(f"{name}: expected an integer bar index, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.start < 0:
            raise InvalidParameterError(f"start: expected an index >= 0, got {self.start}")
        if self.end <= self.start:
            raise InvalidParameterError(f"end: expected end > start={self.start}, got {self.end}")
        if not isinstance(self.slots, GridSlots):
            raise InvalidParameterError(f"slots: expected GridSlots, got {type(self.slots).__name__}")
        if not isinstance(self.close_at_end, (bool, np.bool_)):
            raise InvalidParameterError(f"close_at_end: expected true or false, got {self.close_at_end!r}")
        object.__setattr__(self, "close_at_end", bool(self.close_at_end))


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Output of :func:`simulate_grids` (quote currency unless stated).

    Attributes
    ----------
    equity : ndarray of float64
        Per bar: ``cash + base * close`` after the bar's fills and any liquidation at its close.
    base : ndarray of float64
        Per bar: base quantity held at the bar's close.
    cash : float
        Final cash.
    fills : int
        Slot fills (limit buys + limit sells) over all segments; rebalances and liquidations
        are not fills.
    fees : float
        Every fee paid: fills, rebalances, liquidations.
    seg_fills : ndarray of int64
        Fills per segment.
    seg_fees : ndarray of float64
        Fees per segment (its rebalance, fills and liquidation).
    seg_pnl : ndarray of float64
        Per segment: equity at the close of bar ``end - 1`` minus equity at the close of bar
        ``start - 1`` (``budget`` for a segment starting at bar 0).
    seg_traded : ndarray of float64
        Per segment: signed base quantity of the opening rebalance (+ bought, - sold, 0 when
        below the minimum notional).
    """

    equity: np.ndarray
    base: np.ndarray
    cash: float
    fills: int
    fees: float
    seg_fills: np.ndarray
    seg_fees: np.ndarray
    seg_pnl: np.ndarray
    seg_traded: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "equity": self.equity.tolist(),
            "base": self.base.tolist(),
            "cash": self.cash,
            "fills": self.fills,
            "fees": self.fees,
            "seg_fills": self.seg_fills.tolist(),
            "seg_fees": self.seg_fees.tolist(),
            "seg_pnl": self.seg_pnl.tolist(),
            "seg_traded": self.seg_traded.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimulationResult:
        """Inverse of :meth:`to_dict`."""
        missing = [f for f in ("equity", "base", "cash", "fills", "fees", "seg_fills", "seg_fees",
                               "seg_pnl", "seg_traded") if f not in data]
        if missing:
            raise InvalidParameterError(f"{missing[0]}: required SimulationResult field is missing")
        return cls(
            equity=np.asarray(data["equity"], dtype=np.float64),
            base=np.asarray(data["base"], dtype=np.float64),
            cash=float(data["cash"]),
            fills=int(data["fills"]),
            fees=float(data["fees"]),
            seg_fills=np.asarray(data["seg_fills"], dtype=np.int64),
            seg_fees=np.asarray(data["seg_fees"], dtype=np.float64),
            seg_pnl=np.asarray(data["seg_pnl"], dtype=np.float64),
            seg_traded=np.asarray(data["seg_traded"], dtype=np.float64),
        )


def _bars(values: Any, name: str) -> np.ndarray:
    """1-D contiguous float64 (no copy when already one), every value finite and > 0."""
    arr = np.ascontiguousarray(as_1d_numeric(values, name, kinds=_NUMBER_KINDS), dtype=np.float64)
    # min() is NaN when a NaN is present, max() is inf when an inf is: two cheap reductions
    if arr.size and not (arr.min() > 0.0 and arr.max() < math.inf):
        bad = int(np.flatnonzero(~(np.isfinite(arr) & (arr > 0.0)))[0])
        raise InvalidParameterError(f"{name}: expected finite prices > 0, got {float(arr[bad])!r} at index {bad}")
    return arr


def _flatten(segments: Any, n: int) -> tuple[np.ndarray, ...]:
    if isinstance(segments, (Segment, str, bytes)) or not hasattr(segments, "__iter__"):
        raise InvalidParameterError(f"segments: expected a sequence of Segment, got {type(segments).__name__}")
    segments = list(segments)
    k_count = len(segments)
    seg_start = np.empty(k_count, dtype=np.int64)
    seg_end = np.empty(k_count, dtype=np.int64)
    seg_close = np.empty(k_count, dtype=np.uint8)
    level_off = np.zeros(k_count + 1, dtype=np.int64)
    slot_off = np.zeros(k_count + 1, dtype=np.int64)
    prev_end, prev_carries = 0, False
    for k, seg in enumerate(segments):
        if not isinstance(seg, Segment):
            raise InvalidParameterError(f"segments[{k}]: expected a Segment, got {type(seg).__name__}")
        if seg.end > n:
            raise InvalidParameterError(f"segments[{k}]: expected end <= {n} bars, got end={seg.end}")
        if prev_carries and seg.start != prev_end:
            raise InvalidParameterError(
                f"segments[{k - 1}]: close_at_end=False carries the inventory, so the next segment must "
                f"start at its end {prev_end}, got start={seg.start}")
        if seg.start < prev_end:
            raise InvalidParameterError(
                f"segments[{k}]: expected start >= {prev_end} (segments in order, not overlapping), "
                f"got start={seg.start}")
        seg_start[k], seg_end[k], seg_close[k] = seg.start, seg.end, seg.close_at_end
        level_off[k + 1] = level_off[k] + seg.slots.prices.size
        slot_off[k + 1] = slot_off[k] + seg.slots.qty.size
        prev_end, prev_carries = seg.end, not seg.close_at_end
    if prev_carries and prev_end != n:
        raise InvalidParameterError(
            f"segments[{k_count - 1}]: close_at_end=False carries the inventory, but no segment follows "
            f"(only a segment ending at the last bar, {n}, may stay open)")
    if k_count:
        prices = np.concatenate([s.slots.prices for s in segments])
        qty = np.concatenate([s.slots.qty for s in segments])
    else:
        prices = qty = np.empty(0, dtype=np.float64)
    return seg_start, seg_end, seg_close, level_off, slot_off, prices, qty


def _checked_run(open: Any, high: Any, low: Any, close: Any, fee: Any, path: Any, min_notional: Any, lot: Any,
                 size_to_equity: Any) -> tuple:
    """The bars and the run settings checked once: (open, high, low, close, fee, path code,
    min_notional, lot)."""
    o = _bars(open, "open")
    h = _bars(high, "high")
    lo = _bars(low, "low")
    c = _bars(close, "close")
    n = o.size
    if not h.size == lo.size == c.size == n:
        raise InvalidParameterError(
            f"open, high, low, close: expected equal lengths, got open={n}, high={h.size}, "
            f"low={lo.size}, close={c.size}")
    fee = _non_negative("fee", fee)
    if fee >= 0.1:
        raise InvalidParameterError(f"fee: expected a rate in [0, 0.1), got {fee!r}")
    if not isinstance(path, str) or path not in _PATH_CODES:
        raise InvalidParameterError(f"path: expected one of {PATH_MODES}, got {path!r}")
    min_notional = _non_negative("min_notional", min_notional)
    lot = _non_negative("lot", lot)
    if not isinstance(size_to_equity, (bool, np.bool_)):
        raise InvalidParameterError(f"size_to_equity: expected true or false, got {size_to_equity!r}")
    return o, h, lo, c, fee, _PATH_CODES[path], min_notional, lot


def simulate_grids(
    open: Any,
    high: Any,
    low: Any,
    close: Any,
    segments: Any,
    *,
    budget: float = 1000.0,
    fee: float = 0.00075,
    path: str = "pessimistic",
    min_notional: float = 5.0,
    size_to_equity: bool = False,
    lot: float = 0.0,
) -> SimulationResult:
    """Run one account through ``segments`` of grid trading over OHLC bars.

    Parameters
    ----------
    open, high, low, close : array_like
        Bar prices (quote currency), equal lengths ``n``, finite and > 0. The order
        ``low <= open, close <= high`` is not checked; the rules are applied as stated.
    segments : sequence of Segment
        In bar order, not overlapping, each within ``[0, n)``; a segment with
        ``close_at_end=False`` must be followed by one starting exactly at its end, unless it
        ends at bar ``n`` (left open).
    budget : float
        Starting cash (> 0).
    fee : float
        Fee rate in [0, 0.1), a fraction of each traded notional.
    path : {"pessimistic", "ohlc"}
        Intra-bar path (see the module docstring).
    min_notional : float
        Smallest notional (>= 0) of an opening rebalance; smaller differences are not traded.
    size_to_equity : bool
        A grid never commits more than the account has: when a segment's slots are worth more
        (quantity times buy price, summed) than the equity at its open, every quantity is scaled
        by equity / worth, rounded down to ``lot``, and slots below ``min_notional`` go inactive
        (none trade once equity is gone). Without it grids keep their size whatever was lost,
        which over long runs means borrowing.
    lot : float
        Quantity step (>= 0; 0: none) of the scaled quantities.

    Returns
    -------
    SimulationResult

    The rules are in the module docstring. The slow twin ``tests/reference/gridsim.py``
    implements them per bar and per slot; the compiled kernel equals it (same fills, values
    to rounding). O(n + levels) plus O(log L + L / 64 + fills) per bar with fills.
    """
    o, h, lo, c, fee, code, min_notional, lot = _checked_run(open, high, low, close, fee, path, min_notional, lot,
                                                             size_to_equity)
    budget = _positive("budget", budget)
    seg_start, seg_end, seg_close, level_off, slot_off, prices, qty = _flatten(segments, o.size)
    equity, base, cash, fills, fees, seg_fills, seg_fees, seg_pnl, seg_traded = _gridsim.simulate_grids(
        o, h, lo, c, seg_start, seg_end, seg_close, level_off, slot_off, prices, qty,
        budget, fee, code, min_notional, bool(size_to_equity), lot)
    return SimulationResult(
        equity=equity, base=base, cash=float(cash), fills=int(fills), fees=float(fees),
        seg_fills=seg_fills, seg_fees=seg_fees, seg_pnl=seg_pnl, seg_traded=seg_traded,
    )


def simulate_windows(
    open: Any,
    high: Any,
    low: Any,
    close: Any,
    windows: Any,
    budgets: Any,
    *,
    fee: float = 0.00075,
    path: str = "pessimistic",
    min_notional: float = 5.0,
    size_to_equity: bool = False,
    lot: float = 0.0,
) -> np.ndarray:
    """Many independent accounts over windows of the same bars, validated once.

    ``windows`` is a sequence of ``(start, end, slots)``: account ``k`` starts with
    ``budgets[k]`` cash, runs the grid ``slots`` (a :class:`GridSlots`) over bars
    ``[start, end)`` and sells its inventory at ``close[end - 1]``. Windows may overlap. Returns
    each account's final equity: window by window, exactly
    ``simulate_grids(open[start:end], ..., [Segment(0, end - start, slots)], budget=budgets[k],
    ...).equity[-1]``, without validating the bars and settings again for every window.
    """
    o, h, lo, c, fee, code, min_notional, lot = _checked_run(open, high, low, close, fee, path, min_notional, lot,
                                                             size_to_equity)
    n = o.size
    if isinstance(windows, (str, bytes)) or not hasattr(windows, "__len__"):
        raise InvalidParameterError(f"windows: expected a sequence of (start, end, slots), got {type(windows).__name__}")
    budgets = np.asarray(as_1d_numeric(budgets, "budgets", kinds=_NUMBER_KINDS), dtype=np.float64)
    if budgets.size != len(windows):
        raise InvalidParameterError(f"budgets: expected {len(windows)} values (one per window), got {budgets.size}")
    if budgets.size and not (np.isfinite(budgets).all() and (budgets > 0.0).all()):
        raise InvalidParameterError("budgets: expected finite numbers > 0")
    out = np.empty(len(windows), dtype=np.float64)
    # one segment per call; its arrays are made once and only their ends change
    seg_start = np.zeros(1, dtype=np.int64)
    seg_end = np.zeros(1, dtype=np.int64)
    close_at_end = np.ones(1, dtype=np.uint8)
    level_off = np.zeros(2, dtype=np.int64)
    slot_off = np.zeros(2, dtype=np.int64)
    for k, window in enumerate(windows):
        try:
            start, end, slots = window
        except (TypeError, ValueError):
            raise InvalidParameterError(f"windows[{k}]: expected (start, end, slots), got {window!r}") from None
        if not isinstance(slots, GridSlots):
            raise InvalidParameterError(f"windows[{k}]: expected GridSlots, got {type(slots).__name__}")
        if (isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, (int, np.integer))
                or not isinstance(end, (int, np.integer)) or not 0 <= start < end <= n):
            raise InvalidParameterError(f"windows[{k}]: expected 0 <= start < end <= {n}, got ({start!r}, {end!r})")
        a, b = int(start), int(end)
        seg_end[0], level_off[1], slot_off[1] = b - a, slots.prices.size, slots.qty.size
        equity = _gridsim.simulate_grids(
            o[a:b], h[a:b], lo[a:b], c[a:b], seg_start, seg_end, close_at_end, level_off, slot_off, slots.prices, slots.qty, float(budgets[k]), fee, code, min_notional,
            bool(size_to_equity), lot)[0]
        out[k] = equity[-1]
    return out
