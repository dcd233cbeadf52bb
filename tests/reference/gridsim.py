"""Slow, obviously-correct twin of gridregime.kernels.gridsim.simulate_grids.

Plain Python over lists: per bar, per slot, one state per slot ("wait" or "hold"). It reads
the segments' attributes (start, end, slots.prices, slots.qty, close_at_end) and nothing
else of the package. The rules are those of the module docstring of
gridregime.kernels.gridsim; slots are visited in ascending order within a bar or leg, like
the kernel, so that sums are formed in the same order.
"""
from __future__ import annotations

import math

import numpy as np

WAIT, HOLD = "wait", "hold"


class _Account:
    def __init__(self, budget: float, fee: float) -> None:
        self.cash = budget
        self.base = 0.0
        self.fee = fee
        self.fees_total = 0.0
        self.fees_segment = 0.0
        self.fills = 0

    def pay_fee(self, notional: float) -> None:
        f = abs(notional) * self.fee
        self.cash -= f
        self.fees_total += f
        self.fees_segment += f

    def buy(self, qty: float, price: float) -> None:
        notional = qty * price
        self.cash -= notional
        self.pay_fee(notional)
        self.base += qty
        self.fills += 1

    def sell(self, qty: float, price: float) -> None:
        notional = qty * price
        self.cash += notional
        self.pay_fee(notional)
        self.base -= qty
        self.fills += 1


def _falling_leg(acct, state, prices, qty, to):
    for j in range(len(state)):
        if state[j] == WAIT and prices[j] >= to:
            acct.buy(qty[j], prices[j])
            state[j] = HOLD


def _rising_leg(acct, state, prices, qty, to):
    for j in range(len(state)):
        if state[j] == HOLD and prices[j + 1] <= to:
            acct.sell(qty[j], prices[j + 1])
            state[j] = WAIT


def simulate_grids(open, high, low, close, segments, *, budget=1000.0, fee=0.00075,
                   path="pessimistic", min_notional=5.0, size_to_equity=False, lot=0.0) -> dict:
    o = [float(v) for v in open]
    h = [float(v) for v in high]
    lo = [float(v) for v in low]
    c = [float(v) for v in close]
    n = len(o)
    acct = _Account(float(budget), float(fee))
    equity = [0.0] * n
    base = [0.0] * n
    seg_fills, seg_fees, seg_pnl, seg_traded = [], [], [], []

    def mark(i):
        equity[i] = acct.cash + acct.base * c[i]
        base[i] = acct.base

    i = 0
    for seg in segments:
        while i < seg.start:
            mark(i)
            i += 1
        reference = equity[seg.start - 1] if seg.start > 0 else acct.cash + acct.base * o[0]
        fills_before = acct.fills
        acct.fees_segment = 0.0
        prices = [float(p) for p in seg.slots.prices]
        qty = [float(q) for q in seg.slots.qty]
        if size_to_equity:
            equity_now = acct.cash + acct.base * o[seg.start]
            alloc = 0.0
            for j in range(len(qty)):
                if qty[j] > 0.0:
                    alloc += qty[j] * prices[j]
            if alloc > 0.0 and equity_now < alloc:
                f = equity_now / alloc if equity_now > 0.0 else 0.0
                scaled = []
                for j in range(len(qty)):
                    q = qty[j] * f
                    if lot > 0.0:
                        q = math.floor(q / lot + 1e-9) * lot
                    scaled.append(q if q > 0.0 and q * prices[j] >= min_notional else 0.0)
                qty = scaled
        # state[j] is None for an inactive slot
        state = [None] * len(qty)
        p = o[seg.start]
        target = 0.0
        for j in range(len(qty)):
            if qty[j] > 0.0:
                if prices[j] >= p:
                    state[j] = HOLD
                    target += qty[j]
                else:
                    state[j] = WAIT
        delta = target - acct.base
        traded = 0.0
        if delta != 0.0 and abs(delta) * p >= min_notional:
            acct.cash -= delta * p
            acct.pay_fee(delta * p)
            acct.base = target
            traded = delta

        for i in range(seg.start, seg.end):
            if path == "pessimistic":
                held_at_open = [s == HOLD for s in state]
                for j in range(len(state)):
                    if state[j] == WAIT and lo[i] <= prices[j]:
                        acct.buy(qty[j], prices[j])
                        state[j] = HOLD
                for j in range(len(state)):
                    if held_at_open[j] and h[i] >= prices[j + 1]:
                        acct.sell(qty[j], prices[j + 1])
                        state[j] = WAIT
            elif c[i] < o[i]:  # red bar: O -> H -> L -> C
                _rising_leg(acct, state, prices, qty, h[i])
                _falling_leg(acct, state, prices, qty, lo[i])
                _rising_leg(acct, state, prices, qty, c[i])
            else:  # green bar: O -> L -> H -> C
                _falling_leg(acct, state, prices, qty, lo[i])
                _rising_leg(acct, state, prices, qty, h[i])
                _falling_leg(acct, state, prices, qty, c[i])
            if i == seg.end - 1 and seg.close_at_end and acct.base != 0.0:
                notional = acct.base * c[i]
                acct.cash += notional
                acct.pay_fee(notional)
                acct.base = 0.0
            mark(i)
        i = seg.end
        seg_fills.append(acct.fills - fills_before)
        seg_fees.append(acct.fees_segment)
        seg_pnl.append(equity[seg.end - 1] - reference)
        seg_traded.append(traded)
    while i < n:
        mark(i)
        i += 1
    return {
        "equity": np.array(equity, dtype=np.float64),
        "base": np.array(base, dtype=np.float64),
        "cash": acct.cash,
        "fills": acct.fills,
        "fees": acct.fees_total,
        "seg_fills": np.array(seg_fills, dtype=np.int64),
        "seg_fees": np.array(seg_fees, dtype=np.float64),
        "seg_pnl": np.array(seg_pnl, dtype=np.float64),
        "seg_traded": np.array(seg_traded, dtype=np.float64),
    }
