# cython: cdivision=True
"""OHLC indicator kernels: true range, ATR, and ADX with +DI and -DI.

Kernels validate nothing (see :mod:`gridregime.kernels.rolling` for the checked wrappers);
they allocate the output with the GIL held and run their loop without it. NaN marks warm-up
and missing values.

A bar with a NaN or +/-inf field is missing (the kernels test this themselves, sparing the
wrappers a scan per array). The recursive filters (ATR, ADX) restart after a missing bar:
each maximal run of valid bars is smoothed as if it were a series of its own, its own
warm-up included. The steady state of ADX runs in ``csrc/gridregime/adx.h``.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, fabs

from gridregime._libs._float_ops cimport fast_max, fast_min
from gridregime._libs._types cimport f8, idx_t

cnp.import_array()

cdef extern from "gridregime/adx.h" nogil:
    const f8 TA_EPSILON "GR_TA_EPSILON"

    ctypedef struct gr_adx_sums:
        f8 t
    ctypedef struct gr_adx_avg:
        f8 a
    void gr_adx_sums_init(gr_adx_sums* w, f8 sp, f8 sm, f8 st, f8 keep) noexcept
    void gr_adx_avg_init(gr_adx_avg* v, f8 a, f8 keep, f8 inv) noexcept
    void gr_adx_smooth(gr_adx_avg* v, const f8* dx, idx_t m, f8* out) noexcept
    void gr_adx_block(gr_adx_sums* w, const f8* h, const f8* l, const f8* c, idx_t m,
                      f8* bp, f8* bm, f8* bt, gr_adx_avg* v, const f8* pdx, idx_t k,
                      f8* pout) noexcept
    void gr_adx_di_dx(const f8* bp, const f8* bm, f8* bt, idx_t m, f8* pdi, f8* mdi,
                      f8 eps) noexcept


cdef enum:
    ADX_BLOCK = 128  # bars per block of the ADX steady state (buffers on the stack; timed
                     # faster than 256)


cdef inline bint _is_zero(f8 v) noexcept nogil:
    return -TA_EPSILON < v < TA_EPSILON


cdef inline bint _read_bar(const f8* high, const f8* low, const f8* close, idx_t i, f8* hi,
                           f8* lo, f8* cl) noexcept nogil:
    """Bar i into hi, lo, cl; whether its three fields are finite (x - x is 0 for finite x,
    NaN for NaN and +/-inf)."""
    hi[0] = high[i]
    lo[0] = low[i]
    cl[0] = close[i]
    return (hi[0] - hi[0]) + (lo[0] - lo[0]) + (cl[0] - cl[0]) == 0.0


def true_range(const f8[::1] high, const f8[::1] low, const f8[::1] close):
    """TR[i] = max(high, close[i-1]) - min(low, close[i-1]); ``high - low`` when there is
    no previous close (first bar, or previous close missing); NaN if high or low is missing.
    Infinite values count as missing."""
    cdef idx_t n = high.shape[0], i
    cdef f8 pc, hi, lo
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        for i in range(n):
            hi = high[i]
            lo = low[i]
            if (hi - hi) + (lo - lo) != 0.0:
                o[i] = NAN
                continue
            pc = close[i - 1] if i > 0 else NAN
            if pc - pc != 0.0:
                o[i] = hi - lo
            else:
                o[i] = fast_max(hi, pc) - fast_min(lo, pc)
    return out


def atr(const f8[::1] high, const f8[::1] low, const f8[::1] close, idx_t period):
    """Wilder ATR with TA-Lib seeding, restarted after every bar with a NaN field.

    In a run of valid bars starting at ``s`` the first value (index ``s + period``) is the
    mean of TR[s+1 .. s+period]; then ATR = ATR_prev * (1 - 1/period) + TR / period.
    """
    cdef idx_t n = high.shape[0], i = 0, run = 0
    cdef f8 acc = 0.0, pc = 0.0, tr, tr2, a = 0.0, hi, lo, cl, inv = 1.0 / period
    cdef f8 keep = 1.0 - inv, keep2 = keep * keep, keep_inv = keep * inv
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    cdef f8[::1] o = out
    cdef const f8* hp = &high[0]
    cdef const f8* lp = &low[0]
    cdef const f8* cp = &close[0]
    with nogil:
        while i < n:
            if not _read_bar(hp, lp, cp, i, &hi, &lo, &cl):
                run = 0
                o[i] = NAN
                i += 1
                continue
            run += 1
            if run == 1:
                acc = 0.0
                pc = cl
                o[i] = NAN
                i += 1
                continue
            tr = fast_max(hi, pc) - fast_min(lo, pc)
            pc = cl
            if run > period + 1:
                a = a * keep + tr * inv
                o[i] = a
            elif run == period + 1:
                a = (acc + tr) / period
                o[i] = a
            else:
                acc += tr
                o[i] = NAN
            i += 1
            if run <= period:
                continue
            # Steady state: two bars per step, so the recursion's dependency chain (one
            # multiply and one add) is paid once per two bars.
            while i + 1 < n:
                if not _read_bar(hp, lp, cp, i, &hi, &lo, &cl):
                    break
                tr = fast_max(hi, pc) - fast_min(lo, pc)
                pc = cl
                if not _read_bar(hp, lp, cp, i + 1, &hi, &lo, &cl):
                    pc = close[i - 1]  # undo: the generic loop redoes bar i
                    break
                tr2 = fast_max(hi, pc) - fast_min(lo, pc)
                pc = cl
                o[i] = a * keep + tr * inv
                a = a * keep2 + (tr * keep_inv + tr2 * inv)
                o[i + 1] = a
                run += 2
                i += 2
    return out


cdef inline void _no_output(f8* adx, f8* plus_di, f8* minus_di, idx_t i) noexcept nogil:
    """NaN at bar i in the three ADX outputs (missing bar, or warm-up)."""
    adx[i] = NAN
    plus_di[i] = NAN
    minus_di[i] = NAN


cdef inline f8 _plus_dm(f8 up, f8 dn) noexcept nogil:
    # branch-free: these comparisons are coin flips on real data
    return up * ((up > 0.0) & (up > dn))


def adx(const f8[::1] high, const f8[::1] low, const f8[::1] close, idx_t period):
    """ADX, +DI and -DI with TA-Lib's conventions, restarted after every bar with a NaN field.

    In a run of valid bars starting at ``s``: directional movement and TR are summed over bars
    s+1 .. s+period-1, then Wilder-smoothed (``S = S - S/period + value``); +DI/-DI start at
    ``s + period`` (0 when the smoothed TR is zero), DX = 100 |+DI - -DI| / (+DI + -DI), and
    ADX starts at ``s + 2*period - 1`` as the mean of the first ``period`` DX values, then
    ``ADX = (ADX * (period - 1) + DX) / period``. A zero DI sum leaves ADX unchanged.
    """
    cdef idx_t n = high.shape[0], i = 0, run = 0
    cdef f8 hi, lo, cl, ph = 0.0, pl = 0.0, pc = 0.0, up, dn, pdm, mdm, tr
    cdef f8 sp = 0.0, sm = 0.0, st = 0.0, sdx = 0.0, a = 0.0, pdi, mdi, dsum, dx, rt
    cdef f8 keep = 1.0 - 1.0 / period, inv = 1.0 / period
    # the three outputs are rows of one (3, n) block: one allocation instead of three
    out = np.empty((3, n), dtype=np.float64)
    out_adx, out_pdi, out_mdi = out
    cdef f8[::1] oa = out_adx, op = out_pdi, om = out_mdi
    cdef f8 bp[ADX_BLOCK]
    cdef f8 bm[ADX_BLOCK]
    cdef f8 bt[2 * ADX_BLOCK]  # TR, then DX, of two blocks: ADX smooths the previous one
    cdef f8* cur
    cdef f8* prev
    cdef gr_adx_sums ws
    cdef gr_adx_avg av
    cdef idx_t e, m, mprev, iprev
    cdef const f8* hp
    cdef const f8* lp
    cdef const f8* cp
    cdef f8* pa
    cdef f8* pp
    cdef f8* pm
    if n == 0:
        return out_adx, out_pdi, out_mdi
    hp = &high[0]
    lp = &low[0]
    cp = &close[0]
    pa = &oa[0]
    pp = &op[0]
    pm = &om[0]
    with nogil:
        while i < n:
            if not _read_bar(hp, lp, cp, i, &hi, &lo, &cl):
                run = 0
                _no_output(pa, pp, pm, i)
                i += 1
                continue
            run += 1
            if run == 1:
                ph = hi
                pl = lo
                pc = cl
                sp = 0.0
                sm = 0.0
                st = 0.0
                sdx = 0.0
                _no_output(pa, pp, pm, i)
                i += 1
                continue
            up = hi - ph
            dn = pl - lo
            pdm = _plus_dm(up, dn)
            mdm = _plus_dm(dn, up)
            tr = fast_max(hi, pc) - fast_min(lo, pc)
            ph = hi
            pl = lo
            pc = cl
            if run <= period:
                sp += pdm
                sm += mdm
                st += tr
                _no_output(pa, pp, pm, i)
                i += 1
                continue
            sp = sp * keep + pdm
            sm = sm * keep + mdm
            st = st * keep + tr
            dx = _di_dx(sp, sm, st, &pdi, &mdi)
            op[i] = pdi
            om[i] = mdi
            if run < 2 * period:
                if dx == dx:
                    sdx += dx
                oa[i] = NAN
            elif run == 2 * period:
                if dx == dx:
                    sdx += dx
                a = sdx * inv
                oa[i] = a
            else:
                if dx == dx:
                    a = a * keep + dx * inv
                oa[i] = a
            i += 1
            if run < 2 * period:
                continue
            # Steady state (ADX seeded): blocks of bars until the next missing bar, two passes
            # each: movements and Wilder sums (with the ADX of the block before: independent
            # chains in one loop), then DI and DX (no dependency between bars). The ADX of
            # the last block is computed after the loop.
            gr_adx_sums_init(&ws, sp, sm, st, keep)
            gr_adx_avg_init(&av, a, keep, inv)
            cur = bt
            prev = bt + ADX_BLOCK
            mprev = 0
            iprev = i
            while i < n:
                m = ADX_BLOCK if n - i > ADX_BLOCK else n - i
                gr_adx_block(&ws, hp + i, lp + i, cp + i, m, bp, bm, cur, &av, prev, mprev,
                             pa + iprev)
                e = m
                if cur[m - 1] != cur[m - 1]:  # a missing bar: the smoothed TR is NaN from it on
                    m = 0
                    while cur[m] == cur[m]:
                        m += 1
                gr_adx_di_dx(bp, bm, cur, m, pp + i, pm + i, TA_EPSILON)
                prev, cur = cur, prev
                mprev = m
                iprev = i
                run += m
                i += m
                if m < e:  # stopped at the missing bar: the generic loop restarts there
                    break
            gr_adx_smooth(&av, prev, mprev, pa + iprev)
    return out_adx, out_pdi, out_mdi


cdef inline f8 _di_dx(f8 sp, f8 sm, f8 st, f8* pdi, f8* mdi) noexcept nogil:
    """+DI and -DI from the smoothed sums, and DX (NaN where TA-Lib computes none)."""
    cdef f8 dsum = sp + sm, rt, u
    if _is_zero(st):
        pdi[0] = 0.0
        mdi[0] = 0.0
        return NAN
    if dsum >= 1e-16 * st:  # i.e. +DI + -DI is not TA-Lib's zero
        # one division gives both 100 / st and 1 / (sp + sm)
        rt = 100.0 / (st * dsum)
        u = dsum * rt
        pdi[0] = sp * u
        mdi[0] = sm * u
        return fabs(sp - sm) * st * rt  # = 100 |+DI - -DI| / (+DI + -DI)
    rt = 100.0 / st
    pdi[0] = sp * rt
    mdi[0] = sm * rt
    return NAN
