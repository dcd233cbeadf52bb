# cython: boundscheck=False, wraparound=False, cdivision=True
"""Rolling and recursive indicator kernels over contiguous float64 arrays.

Kernels validate nothing (see :mod:`gridregime.kernels.rolling` for the checked wrappers);
they allocate the output with the GIL held and run their loop without it. NaN marks warm-up
and missing values.

Two NaN policies are used, and the wrappers document which applies:

* recursive filters (EMA, Wilder, ATR, ADX) restart after a missing bar: each maximal run of
  valid bars is smoothed as if it were a series of its own (its own warm-up included);
* window statistics are NaN when their window holds a NaN, except ``rolling_mean`` and
  ``rolling_std``, which skip NaN and need ``min_periods`` valid values (pandas semantics).

Sliding sums are kept on values shifted by a reference ``K`` (a recent window mean), so a
large common offset (prices near 1e9) costs no precision; the sums are recomputed exactly
from the window when cancellation would lose more than four digits, and periodically.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, fabs, log, sqrt

from gridregime._libs._types cimport f8, idx_t

cnp.import_array()

# Recompute the sliding sums exactly when the centred sum of squares falls below this share of
# the largest raw (shifted) sum of squares seen since the last recomputation.
cdef f8 CANCEL_RATIO = 1e-2
# ... and at least every max(window, RECOMPUTE_EVERY) steps, to bound error accumulation.
cdef idx_t RECOMPUTE_EVERY = 256
# TA-Lib's TA_IS_ZERO threshold, kept so ADX/DI agree with TA-Lib on flat stretches.
cdef f8 TA_EPSILON = 1e-14


cdef inline bint _is_zero(f8 v) noexcept nogil:
    return -TA_EPSILON < v < TA_EPSILON


cdef inline bint _bar_ok(f8 hi, f8 lo, f8 cl) noexcept nogil:
    """All three fields finite (x - x is 0 for finite x, NaN for NaN and +/-inf): the OHLC
    kernels treat infinities as missing themselves, sparing the wrappers a scan per array."""
    return (hi - hi) + (lo - lo) + (cl - cl) == 0.0


cdef inline bint _finite(f8 v) noexcept nogil:
    return v - v == 0.0


cdef inline idx_t _imax(idx_t a, idx_t b) noexcept nogil:
    return a if a > b else b


# libm's fmax/fmin are function calls; these inline to one instruction. A NaN in ``a``
# propagates (the comparison is false), which is what the kernels rely on.
cdef inline f8 _max(f8 a, f8 b) noexcept nogil:
    return b if b > a else a


cdef inline f8 _min(f8 a, f8 b) noexcept nogil:
    return b if b < a else a


# ----------------------------------------------------------------------------------------
# True range, ATR, ADX
# ----------------------------------------------------------------------------------------

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
                o[i] = _max(hi, pc) - _min(lo, pc)
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
    cdef f8[::1] o = out
    with nogil:
        while i < n:
            hi = high[i]
            lo = low[i]
            cl = close[i]
            if not _bar_ok(hi, lo, cl):
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
            tr = _max(hi, pc) - _min(lo, pc)
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
                hi = high[i]
                lo = low[i]
                cl = close[i]
                if not _bar_ok(hi, lo, cl):
                    break
                tr = _max(hi, pc) - _min(lo, pc)
                pc = cl
                hi = high[i + 1]
                lo = low[i + 1]
                cl = close[i + 1]
                if not _bar_ok(hi, lo, cl):
                    pc = close[i - 1]  # undo: the generic loop redoes bar i
                    break
                tr2 = _max(hi, pc) - _min(lo, pc)
                pc = cl
                o[i] = a * keep + tr * inv
                a = a * keep2 + (tr * keep_inv + tr2 * inv)
                o[i + 1] = a
                run += 2
                i += 2
    return out


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
    out_adx = np.empty(n, dtype=np.float64)
    out_pdi = np.empty(n, dtype=np.float64)
    out_mdi = np.empty(n, dtype=np.float64)
    cdef f8[::1] oa = out_adx, op = out_pdi, om = out_mdi
    with nogil:
        while i < n:
            hi = high[i]
            lo = low[i]
            cl = close[i]
            if not _bar_ok(hi, lo, cl):
                run = 0
                oa[i] = NAN
                op[i] = NAN
                om[i] = NAN
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
                oa[i] = NAN
                op[i] = NAN
                om[i] = NAN
                i += 1
                continue
            up = hi - ph
            dn = pl - lo
            pdm = _plus_dm(up, dn)
            mdm = _plus_dm(dn, up)
            tr = _max(hi, pc) - _min(lo, pc)
            ph = hi
            pl = lo
            pc = cl
            if run <= period:
                sp += pdm
                sm += mdm
                st += tr
                oa[i] = NAN
                op[i] = NAN
                om[i] = NAN
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
            # Steady state (ADX seeded): a lean loop until the next missing bar.
            while i < n:
                hi = high[i]
                lo = low[i]
                cl = close[i]
                if not _bar_ok(hi, lo, cl):
                    break
                up = hi - ph
                dn = pl - lo
                tr = _max(hi, pc) - _min(lo, pc)
                ph = hi
                pl = lo
                pc = cl
                sp = sp * keep + _plus_dm(up, dn)
                sm = sm * keep + _plus_dm(dn, up)
                st = st * keep + tr
                dx = _di_dx(sp, sm, st, &pdi, &mdi)
                if dx == dx:
                    a = a * keep + dx * inv
                op[i] = pdi
                om[i] = mdi
                oa[i] = a
                run += 1
                i += 1
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


# ----------------------------------------------------------------------------------------
# Exponential smoothing
# ----------------------------------------------------------------------------------------

def ema(const f8[::1] x, idx_t period, f8 alpha, bint seed_first):
    """Exponential smoothing ``s = s + alpha (x - s)``, restarted after every NaN.

    ``seed_first``: the first value of a run of valid values seeds the filter (no warm-up).
    Otherwise the seed is the mean of the run's first ``period`` values, placed at its
    ``period``-th value (earlier outputs NaN).
    """
    cdef idx_t n = x.shape[0], i, run = 0
    cdef f8 v, acc = 0.0, s = 0.0, keep = 1.0 - alpha
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        for i in range(n):
            v = x[i]
            if v != v:
                run = 0
                acc = 0.0
                o[i] = NAN
                continue
            run += 1
            if seed_first:
                if run == 1:
                    s = v
                else:
                    s = s * keep + alpha * v
                o[i] = s
            elif run > period:
                s = s * keep + alpha * v
                o[i] = s
            elif run == period:
                s = (acc + v) / period
                o[i] = s
            else:
                acc += v
                o[i] = NAN
    return out


# ----------------------------------------------------------------------------------------
# Moments: rolling mean / variance with NaN skipping
# ----------------------------------------------------------------------------------------

cdef inline void _recentre(const f8* x, idx_t lo, idx_t hi, f8 ref, f8 inv_cnt,
                           f8* k, f8* s1, f8* s2) noexcept nogil:
    """Exact two-pass sums of the valid x[lo..hi], re-centred on their mean (``ref`` is any
    value near them, ``inv_cnt`` 1 / their count)."""
    cdef idx_t j
    cdef f8 d = 0.0, y, a = 0.0, b = 0.0
    for j in range(lo, hi + 1):
        if _finite(x[j]):
            d += x[j] - ref
    k[0] = ref + d * inv_cnt
    for j in range(lo, hi + 1):
        if _finite(x[j]):
            y = x[j] - k[0]
            a += y
            b += y * y
    s1[0] = a
    s2[0] = b


cdef inline void _moments(const f8* x, idx_t n, idx_t w, idx_t minp, idx_t ddof,
                          f8* mean_out, f8* var_out, bint take_sqrt) noexcept nogil:
    """Rolling mean and/or variance over the last ``w`` positions, NaN skipped.

    Missing values are NaN and +/-inf (so the wrappers need no scan for infinities).
    Output is NaN when fewer than ``minp`` values are valid (variance: also when the count
    is <= ddof). A window whose valid values are all equal gets exactly that value as mean
    and exactly 0 as variance. Either output pointer may be NULL; ``take_sqrt`` turns the
    variance into a standard deviation. Inline so that each caller's constant arguments
    (NULL outputs, take_sqrt) are folded away by the C compiler.
    """
    cdef idx_t i = 0, cnt = 0, since = 0, run = 0, every = _imax(w, RECOMPUTE_EVERY)
    cdef idx_t inv_for = -1
    cdef bint add, rem
    cdef f8 v, vo, yn, yo, k = 0.0, s1 = 0.0, s2 = 0.0, s2max = 0.0, ssq, prev = NAN, var
    cdef f8 inv_cnt = 0.0, inv_dof = 0.0, inv_w = 1.0 / w
    cdef f8 inv_dof_w = 1.0 / (w - ddof) if w > ddof else NAN
    while i < n:
        # --- general step: NaN entering or leaving, partial windows -------------------
        v = x[i]
        add = _finite(v)
        yn = 0.0
        if add:
            yn = v - k
            if v == prev:
                run += 1
            else:
                run = 1
                prev = v
        rem = False
        yo = 0.0
        if i >= w:
            vo = x[i - w]
            rem = _finite(vo)
            if rem:
                yo = vo - k
        # one add per sum on the dependency chain
        s1 += yn - yo
        if var_out != NULL:  # (folded away for the mean alone)
            s2 += yn * yn - yo * yo
        cnt += add - rem
        if cnt < minp or cnt == 0:
            if cnt == 0:
                s1 = 0.0
                s2 = 0.0
            if mean_out != NULL:
                mean_out[i] = NAN
            if var_out != NULL:
                var_out[i] = NAN
            i += 1
            continue
        if s2 > s2max:
            s2max = s2
        since += 1
        if run >= cnt:  # every valid value in the window is the same
            if mean_out != NULL:
                mean_out[i] = prev
            if var_out != NULL:
                var_out[i] = 0.0 if cnt > ddof else NAN
        else:
            if cnt != inv_for:  # divisions only when the count changes
                inv_for = cnt
                inv_cnt = 1.0 / cnt
                inv_dof = 1.0 / (cnt - ddof) if cnt > ddof else NAN
            ssq = s2 - s1 * s1 * inv_cnt
            if (var_out != NULL and ssq < CANCEL_RATIO * s2max) or since >= every:
                _recentre(x, i - w + 1 if i >= w else 0, i, prev, inv_cnt, &k, &s1, &s2)
                s2max = s2
                since = 0
                ssq = s2 - s1 * s1 * inv_cnt
            if mean_out != NULL:
                mean_out[i] = k + s1 * inv_cnt
            if var_out != NULL:
                if cnt > ddof:
                    var = ssq * inv_dof if ssq > 0.0 else 0.0
                    var_out[i] = sqrt(var) if take_sqrt else var
                else:
                    var_out[i] = NAN
        i += 1
        if cnt != w:
            continue
        # --- steady state: full window, valid values entering and leaving -------------
        while i < n:
            v = x[i]
            vo = x[i - w]
            if (v - v) + (vo - vo) != 0.0:  # either is NaN or infinite
                break
            yn = v - k
            yo = vo - k
            s1 += yn - yo
            if var_out != NULL:
                s2 += yn * yn - yo * yo
            if v == prev:
                run += 1
            else:
                run = 1
                prev = v
            if s2 > s2max:
                s2max = s2
            since += 1
            if run >= w:
                if mean_out != NULL:
                    mean_out[i] = prev
                if var_out != NULL:
                    var_out[i] = 0.0
                i += 1
                continue
            ssq = s2 - s1 * s1 * inv_w
            if (var_out != NULL and ssq < CANCEL_RATIO * s2max) or since >= every:
                _recentre(x, i - w + 1, i, prev, inv_w, &k, &s1, &s2)
                s2max = s2
                since = 0
                ssq = s2 - s1 * s1 * inv_w
            if mean_out != NULL:
                mean_out[i] = k + s1 * inv_w
            if var_out != NULL:
                var = ssq * inv_dof_w if ssq > 0.0 else 0.0
                var_out[i] = sqrt(var) if take_sqrt else var
            i += 1


def rolling_mean(const f8[::1] x, idx_t window, idx_t min_periods):
    """Mean of the valid values among the last ``window``; NaN below ``min_periods``."""
    cdef idx_t n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    if n:
        with nogil:
            _moments(&x[0], n, window, min_periods, 0, &o[0], NULL, False)
    return out


def rolling_var(const f8[::1] x, idx_t window, idx_t min_periods, idx_t ddof):
    """Variance (``ddof``) of the valid values among the last ``window``."""
    cdef idx_t n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    if n:
        with nogil:
            _moments(&x[0], n, window, min_periods, ddof, NULL, &o[0], False)
    return out


def rolling_std(const f8[::1] x, idx_t window, idx_t min_periods, idx_t ddof):
    """Standard deviation (``ddof``) of the valid values among the last ``window``."""
    cdef idx_t n = x.shape[0], i
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    if n:
        with nogil:
            _moments(&x[0], n, window, min_periods, ddof, NULL, &o[0], True)
    return out


def bollinger_bandwidth(const f8[::1] x, idx_t window, f8 k):
    """(upper - lower) / middle = 2 k std0 / mean over full windows (population std)."""
    cdef idx_t n = x.shape[0], i
    out = np.empty(n, dtype=np.float64)
    var = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out, vv = var
    cdef f8 m
    if n:
        with nogil:
            _moments(&x[0], n, window, window, 0, &o[0], &vv[0], True)
            for i in range(n):
                m = o[i]
                if m == m and m != 0.0:
                    o[i] = 2.0 * k * vv[i] / m
                else:
                    o[i] = NAN
    return out


# ----------------------------------------------------------------------------------------
# Returns, regression, efficiency, autocorrelation, variance ratio
# ----------------------------------------------------------------------------------------

def log_returns(const f8[::1] x):
    """r[i] = log(x[i] / x[i-1]); r[0] = NaN; NaN where either price is NaN or <= 0."""
    cdef idx_t n = x.shape[0], i
    cdef f8 a, b
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        if n:
            o[0] = NAN
        for i in range(1, n):
            a = x[i - 1]
            b = x[i]
            if a > 0.0 and b > 0.0:  # False for NaN too
                o[i] = log(b / a)
            else:
                o[i] = NAN
    return out


def rolling_linreg(const f8[::1] y, idx_t window):
    """OLS of y on 0..window-1 over each full, NaN-free window: (slope, intercept, r2)."""
    cdef idx_t n = y.shape[0], w = window, i, j, run = 0, eq = 0, since = 0
    cdef idx_t every = _imax(w, RECOMPUTE_EVERY)
    cdef f8 v, yo, yn, k = 0.0, s1 = 0.0, s2 = 0.0, sxy = 0.0, s2max = 0.0, prev = NAN
    cdef f8 half = (w - 1) * 0.5, sxx = w * (w * w - 1.0) / 12.0, ssq, sxc, slope, r2, d
    cdef f8 inv_w = 1.0 / w, inv_sxx = 1.0 / sxx
    out_s = np.empty(n, dtype=np.float64)
    out_i = np.empty(n, dtype=np.float64)
    out_r = np.empty(n, dtype=np.float64)
    cdef f8[::1] os = out_s, oi = out_i, orr = out_r
    with nogil:
        for i in range(n):
            v = y[i]
            if v != v:
                run = 0
                eq = 0
                prev = NAN
                os[i] = NAN
                oi[i] = NAN
                orr[i] = NAN
                continue
            run += 1
            if v == prev:
                eq += 1
            else:
                eq = 1
                prev = v
            if run == 1:
                k = v
                s1 = 0.0
                s2 = 0.0
                sxy = 0.0
                s2max = 0.0
                since = 0
            yn = v - k
            if run <= w:
                sxy += (run - 1) * yn
                s1 += yn
                s2 += yn * yn
            else:
                yo = y[i - w] - k
                sxy += yo - s1 + (w - 1) * yn
                s1 += yn - yo
                s2 += yn * yn - yo * yo
            if s2 > s2max:
                s2max = s2
            since += 1
            if run < w:
                os[i] = NAN
                oi[i] = NAN
                orr[i] = NAN
                continue
            if eq >= w:
                os[i] = 0.0
                oi[i] = v
                orr[i] = 0.0
                continue
            ssq = s2 - s1 * s1 * inv_w
            if ssq < CANCEL_RATIO * s2max or since >= every:
                d = 0.0
                for j in range(w):
                    d += y[i - w + 1 + j] - v
                k = v + d * inv_w
                s1 = 0.0
                s2 = 0.0
                sxy = 0.0
                for j in range(w):
                    yn = y[i - w + 1 + j] - k
                    s1 += yn
                    s2 += yn * yn
                    sxy += j * yn
                s2max = s2
                since = 0
                ssq = s2 - s1 * s1 * inv_w
            sxc = sxy - half * s1
            slope = sxc * inv_sxx
            os[i] = slope
            oi[i] = (k + s1 * inv_w) - slope * half
            if ssq > 0.0:
                r2 = slope * sxc / ssq
                orr[i] = r2 if r2 < 1.0 else 1.0
            else:
                orr[i] = 0.0
    return out_s, out_i, out_r


def efficiency_ratio(const f8[::1] x, idx_t window):
    """|x[t] - x[t-window]| / sum |x[j] - x[j-1]| over j in (t-window, t]; 0 when flat."""
    cdef idx_t n = x.shape[0], w = window, i, j, run = 0, moving = 0, since = 0
    cdef idx_t every = _imax(w, RECOMPUTE_EVERY)
    cdef f8 v, d, vol = 0.0, volmax = 0.0, e
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        for i in range(n):
            v = x[i]
            if v != v:
                run = 0
                o[i] = NAN
                continue
            run += 1
            if run == 1:
                vol = 0.0
                volmax = 0.0
                moving = 0
                since = 0
                o[i] = NAN
                continue
            d = fabs(v - x[i - 1])
            vol += d
            moving += d != 0.0
            if run > w + 1:
                d = fabs(x[i - w] - x[i - w - 1])
                vol -= d
                moving -= d != 0.0
            if vol > volmax:
                volmax = vol
            since += 1
            if run <= w:
                o[i] = NAN
                continue
            if moving == 0:
                o[i] = 0.0
                continue
            if vol < CANCEL_RATIO * volmax or since >= every:
                vol = 0.0
                for j in range(i - w + 1, i + 1):
                    vol += fabs(x[j] - x[j - 1])
                volmax = vol
                since = 0
            e = fabs(v - x[i - w]) / vol
            o[i] = e if e < 1.0 else 1.0
    return out


def rolling_autocorr(const f8[::1] x, idx_t window, idx_t lag):
    """Pearson correlation of x[t-window+1..t] with x[t-window+1-lag..t-lag]; NaN when a
    window holds a NaN or either side is constant."""
    cdef idx_t n = x.shape[0], w = window, i, j, run = 0, since = 0, span = window + lag
    cdef idx_t every = _imax(w, RECOMPUTE_EVERY), eq = 0, eq_lag, slot = 0
    cdef f8 inv_w = 1.0 / w
    cdef f8 v, a, b, ka = 0.0, kb = 0.0, sa = 0.0, sb = 0.0, saa = 0.0, sbb = 0.0, sab = 0.0, prev = NAN
    cdef f8 amax = 0.0, bmax = 0.0, va, vb, cov, d, r
    out = np.empty(n, dtype=np.float64)
    eqbuf = np.zeros(lag + 1, dtype=np.intp)
    cdef f8[::1] o = out
    cdef idx_t[::1] eqr = eqbuf
    with nogil:
        for i in range(n):
            v = x[i]
            # slot = i % (lag + 1): this bar's entry in the ring of equal-run lengths; the
            # next slot holds bar i - lag
            slot = slot + 1 if slot < lag else 0
            if v != v:
                run = 0
                eq = 0
                prev = NAN
                eqr[slot] = 0
                o[i] = NAN
                continue
            run += 1
            if v == prev:
                eq += 1
            else:
                eq = 1
                prev = v
            eqr[slot] = eq
            if run == 1:
                ka = v
                kb = v
                sa = 0.0
                sb = 0.0
                saa = 0.0
                sbb = 0.0
                sab = 0.0
                amax = 0.0
                bmax = 0.0
                since = 0
            if run <= lag:
                o[i] = NAN
                continue
            a = v - ka
            b = x[i - lag] - kb
            sa += a
            sb += b
            saa += a * a
            sbb += b * b
            sab += a * b
            if run > span:
                a = x[i - w] - ka
                b = x[i - w - lag] - kb
                sa -= a
                sb -= b
                saa -= a * a
                sbb -= b * b
                sab -= a * b
            if saa > amax:
                amax = saa
            if sbb > bmax:
                bmax = sbb
            since += 1
            if run < span:
                o[i] = NAN
                continue
            eq_lag = eqr[slot + 1 if slot < lag else 0]
            if eq >= w or eq_lag >= w:
                o[i] = NAN
                continue
            va = saa - sa * sa * inv_w
            vb = sbb - sb * sb * inv_w
            if va < CANCEL_RATIO * amax or vb < CANCEL_RATIO * bmax or since >= every:
                # re-centre each side on its own window mean
                ka = 0.0
                kb = 0.0
                for j in range(i - w + 1, i + 1):
                    ka += x[j] - v
                    kb += x[j - lag] - v
                ka = v + ka * inv_w
                kb = v + kb * inv_w
                sa = 0.0
                sb = 0.0
                saa = 0.0
                sbb = 0.0
                sab = 0.0
                for j in range(i - w + 1, i + 1):
                    a = x[j] - ka
                    b = x[j - lag] - kb
                    sa += a
                    sb += b
                    saa += a * a
                    sbb += b * b
                    sab += a * b
                amax = saa
                bmax = sbb
                since = 0
                va = saa - sa * sa * inv_w
                vb = sbb - sb * sb * inv_w
            if va <= 0.0 or vb <= 0.0:
                o[i] = NAN
                continue
            cov = sab - sa * sb * inv_w
            r = cov / sqrt(va * vb)
            o[i] = _max(-1.0, _min(1.0, r))
    return out


def variance_ratio(const f8[::1] r, idx_t q, idx_t window):
    """var(q-bar sums of r) / (q var(r)) over each full, NaN-free window of r (ddof=1).

    The q-bar sums are the window - q + 1 overlapping sums that lie inside the window.
    NaN when the window's returns are all equal. One pass: two sliding moment trackers
    (returns over ``window``, q-sums over ``window - q + 1``), each re-centred exactly when
    cancellation threatens.
    """
    cdef idx_t n = r.shape[0], w = window, m = window - q + 1, i, j, run = 0, eq = 0
    cdef idx_t since1 = 0, since2 = 0, every = _imax(w, RECOMPUTE_EVERY)
    cdef f8 c = NAN, v, y, yo, sq, sn, so, prev = NAN, ss1, ss2
    cdef f8 k1 = 0.0, a1 = 0.0, b1 = 0.0, top1 = 0.0, k2 = 0.0, a2 = 0.0, b2 = 0.0, top2 = 0.0
    cdef f8 inv_w = 1.0 / w, inv_m = 1.0 / m, factor = (w - 1.0) / ((m - 1.0) * q)
    out = np.empty(n, dtype=np.float64)
    qsums = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out, qs = qsums
    with nogil:
        # VR is invariant to a constant added to r: values are taken relative to the first
        # valid return, which keeps the q-sums exact on offset data.
        for i in range(n):
            if r[i] == r[i]:
                c = r[i]
                break
        for i in range(n):
            v = r[i]
            if v != v:
                run = 0
                eq = 0
                prev = NAN
                o[i] = NAN
                continue
            run += 1
            if v == prev:
                eq += 1
            else:
                eq = 1
                prev = v
            y = v - c
            if run == 1:
                k1 = y
                a1 = 0.0
                b1 = 0.0
                top1 = 0.0
                since1 = 0
            # returns over the last w bars
            yo = y - k1
            a1 += yo
            b1 += yo * yo
            if run > w:
                yo = (r[i - w] - c) - k1
                a1 -= yo
                b1 -= yo * yo
            if b1 > top1:
                top1 = b1
            # q-sums over the last m bars
            if run >= q:
                sq = 0.0
                for j in range(i - q + 1, i + 1):
                    sq += r[j] - c
                qs[i] = sq
                if run == q:
                    k2 = sq
                    a2 = 0.0
                    b2 = 0.0
                    top2 = 0.0
                    since2 = 0
                sn = sq - k2
                a2 += sn
                b2 += sn * sn
                if run > w:
                    so = qs[i - m] - k2
                    a2 -= so
                    b2 -= so * so
                if b2 > top2:
                    top2 = b2
            if run < w:
                o[i] = NAN
                continue
            since1 += 1
            since2 += 1
            if eq >= w:  # constant returns: no variance to compare with
                o[i] = NAN
                continue
            ss1 = b1 - a1 * a1 * inv_w
            if ss1 < CANCEL_RATIO * top1 or since1 >= every:
                sn = 0.0
                for j in range(i - w + 1, i + 1):
                    sn += r[j] - v
                k1 = (v - c) + sn * inv_w
                a1 = 0.0
                b1 = 0.0
                for j in range(i - w + 1, i + 1):
                    yo = (r[j] - c) - k1
                    a1 += yo
                    b1 += yo * yo
                top1 = b1
                since1 = 0
                ss1 = b1 - a1 * a1 * inv_w
            ss2 = b2 - a2 * a2 * inv_m
            if ss2 < CANCEL_RATIO * top2 or since2 >= every:
                sn = 0.0
                for j in range(i - m + 1, i + 1):
                    sn += qs[j] - sq
                k2 = sq + sn * inv_m
                a2 = 0.0
                b2 = 0.0
                for j in range(i - m + 1, i + 1):
                    so = qs[j] - k2
                    a2 += so
                    b2 += so * so
                top2 = b2
                since2 = 0
                ss2 = b2 - a2 * a2 * inv_m
            if ss1 <= 0.0:
                o[i] = NAN
            else:
                o[i] = (ss2 if ss2 > 0.0 else 0.0) * factor / ss1
    return out


def rolling_mean_crossings(const f8[::1] x, idx_t window):
    """Number of sign changes of x - mean within each full, NaN-free window.

    The mean is the window's left-to-right sum divided by ``window``; values equal to the
    mean are skipped (a touch is a crossing only when the sign differs on the other side).
    O(n * window).
    """
    cdef idx_t n = x.shape[0], w = window, i, j, run = 0, count
    cdef f8 v, m, d
    cdef int sign, last
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        for i in range(n):
            v = x[i]
            if v != v:
                run = 0
                o[i] = NAN
                continue
            run += 1
            if run < w:
                o[i] = NAN
                continue
            m = 0.0
            for j in range(i - w + 1, i + 1):
                m += x[j]
            m = m / w
            count = 0
            last = 0
            for j in range(i - w + 1, i + 1):
                d = x[j] - m
                sign = (d > 0.0) - (d < 0.0)
                if sign != 0:
                    if last != 0 and sign != last:
                        count += 1
                    last = sign
            o[i] = count
    return out


# ----------------------------------------------------------------------------------------
# Rolling extremes (monotonic deque of indices, ring buffer of capacity ``window``)
# ----------------------------------------------------------------------------------------

cdef void _extreme(const f8* x, idx_t n, idx_t w, bint want_max, idx_t* dq, f8* out) noexcept nogil:
    cdef idx_t i, head = 0, size = 0, last_nan = -1 - w, back
    cdef f8 v
    for i in range(n):
        v = x[i]
        if v != v:
            last_nan = i
            size = 0
        else:
            # drop the front when it leaves the window
            if size and dq[head] <= i - w:
                head = (head + 1) % w
                size -= 1
            while size:
                back = dq[(head + size - 1) % w]
                if (x[back] <= v) if want_max else (x[back] >= v):
                    size -= 1
                else:
                    break
            dq[(head + size) % w] = i
            size += 1
        if i - last_nan < w or i < w - 1:
            out[i] = NAN
        else:
            out[i] = x[dq[head]]


def rolling_max(const f8[::1] x, idx_t window):
    """Maximum of each full, NaN-free window. O(n) amortised."""
    cdef idx_t n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    buf = np.empty(window, dtype=np.intp)
    cdef f8[::1] o = out
    cdef idx_t[::1] dq = buf
    if n:
        with nogil:
            _extreme(&x[0], n, window, True, &dq[0], &o[0])
    return out


def rolling_min(const f8[::1] x, idx_t window):
    """Minimum of each full, NaN-free window. O(n) amortised."""
    cdef idx_t n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    buf = np.empty(window, dtype=np.intp)
    cdef f8[::1] o = out
    cdef idx_t[::1] dq = buf
    if n:
        with nogil:
            _extreme(&x[0], n, window, False, &dq[0], &o[0])
    return out
