# cython: cdivision=True
"""Grid PnL simulator: one account running a sequence of limit-order grids over OHLC bars.

The simulation itself is ``csrc/gridregime/gridsim.h`` (bit sets of WAITING and HOLDING slots,
O(1) per bar without fills). Kernels validate nothing: see :mod:`gridregime.kernels.gridsim`
for the checked wrapper and the rules.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint64_t

from gridregime._libs._types cimport f8, idx_t

cnp.import_array()

PESSIMISTIC = 0
OHLC = 1


cdef extern from "gridregime/gridsim.h" nogil:
    ctypedef struct gr_gridsim:
        const double *open
        const double *high
        const double *low
        const double *close
        int64_t n
        int64_t nseg
        const int64_t *seg_start
        const int64_t *seg_end
        const int64_t *level_off
        const int64_t *slot_off
        const uint8_t *seg_close
        const double *prices
        const double *qty
        double budget
        double fee
        double min_notional
        int path
        int size_to_equity
        double lot
        double *qwork
        uint64_t *work
        double *equity
        double *base
        int64_t *seg_fills
        double *seg_fees
        double *seg_pnl
        double *seg_traded
        double cash
        double fees
        int64_t fills
    int64_t gr_bits_words(int64_t n)
    void gr_gridsim_run(gr_gridsim *sim)


def simulate_grids(const f8[::1] open, const f8[::1] high, const f8[::1] low, const f8[::1] close,
                   const int64_t[::1] seg_start, const int64_t[::1] seg_end, const uint8_t[::1] seg_close,
                   const int64_t[::1] level_off, const int64_t[::1] slot_off,
                   const f8[::1] prices, const f8[::1] qty,
                   f8 budget, f8 fee, int path, f8 min_notional, bint size_to_equity=False, f8 lot=0.0):
    """(equity, base, cash, fills, fees, seg_fills, seg_fees, seg_pnl, seg_traded).

    Segment k runs over bars [seg_start[k], seg_end[k]) with the levels
    ``prices[level_off[k]:level_off[k + 1]]`` and the slot quantities ``qty[slot_off[k]:]``
    (one fewer than its levels); ``seg_close[k]`` liquidates at its last close. ``path`` is
    PESSIMISTIC or OHLC. ``size_to_equity`` scales a segment's quantities down (to ``lot``
    steps) when its notional exceeds the equity at its open. O(n + levels) plus
    O(log L + L / 64) per bar with fills.
    """
    cdef idx_t n = open.shape[0], nseg = seg_start.shape[0], k
    cdef int64_t words = 1, slots = 1
    cdef gr_gridsim sim
    for k in range(nseg):
        words = max(words, gr_bits_words(level_off[k + 1] - level_off[k] - 1))
        slots = max(slots, level_off[k + 1] - level_off[k] - 1)
    qwork = np.zeros(slots, dtype=np.float64)
    cdef f8[::1] qwork_v = qwork
    equity = np.empty(n, dtype=np.float64)
    base = np.empty(n, dtype=np.float64)
    seg_fills = np.zeros(nseg, dtype=np.int64)
    seg_out = np.zeros((3, nseg), dtype=np.float64)
    work = np.zeros(3 * words, dtype=np.uint64)
    cdef f8[::1] eq_v = equity, base_v = base
    cdef int64_t[::1] fills_v = seg_fills
    cdef f8[:, ::1] seg_v = seg_out
    cdef uint64_t[::1] work_v = work
    cdef f8 dummy = 0.0
    cdef int64_t idummy = 0
    cdef uint8_t bdummy = 0

    sim.n = n
    sim.nseg = nseg
    sim.open = &open[0] if n else &dummy
    sim.high = &high[0] if n else &dummy
    sim.low = &low[0] if n else &dummy
    sim.close = &close[0] if n else &dummy
    sim.seg_start = &seg_start[0] if nseg else &idummy
    sim.seg_end = &seg_end[0] if nseg else &idummy
    sim.seg_close = &seg_close[0] if nseg else &bdummy
    sim.level_off = &level_off[0]
    sim.slot_off = &slot_off[0]
    sim.prices = &prices[0] if prices.shape[0] else &dummy
    sim.qty = &qty[0] if qty.shape[0] else &dummy
    sim.budget = budget
    sim.fee = fee
    sim.min_notional = min_notional
    sim.path = path
    sim.size_to_equity = 1 if size_to_equity else 0
    sim.lot = lot
    sim.qwork = &qwork_v[0]
    sim.work = &work_v[0]
    sim.equity = &eq_v[0] if n else &dummy
    sim.base = &base_v[0] if n else &dummy
    sim.seg_fills = &fills_v[0] if nseg else &idummy
    sim.seg_fees = &seg_v[0, 0] if nseg else &dummy
    sim.seg_pnl = &seg_v[1, 0] if nseg else &dummy
    sim.seg_traded = &seg_v[2, 0] if nseg else &dummy
    with nogil:
        gr_gridsim_run(&sim)
    return (equity, base, sim.cash, sim.fills, sim.fees,
            seg_fills, seg_out[0], seg_out[1], seg_out[2])
