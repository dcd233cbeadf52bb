# cython: cdivision=True
"""Rolling and recursive indicator kernels over contiguous float64 arrays.

Kernels validate nothing (see :mod:`gridregime.kernels.rolling` for the checked wrappers);
they allocate the output with the GIL held and run their loop without it. NaN marks warm-up
and missing values.

Two NaN policies are used, and the wrappers document which applies:

* recursive filters (EMA, Wilder, ATR, ADX) restart after a missing bar: each maximal run of
  valid bars is smoothed as if it were a series of its own (its own warm-up included);
* window statistics are NaN when their window holds a NaN, except ``rolling_mean`` and
  ``rolling_std``, which skip NaN and need ``min_periods`` valid values (pandas semantics).
  A window statistic depends on its window only (not on where the series starts).

Sliding sums are kept on values shifted by a reference ``K`` (a recent window mean), so a
large common offset (prices near 1e9) costs no precision; the sums are recomputed exactly
from the window when cancellation would lose more than two digits, and periodically.
Windows whose valid values are all equal are detected exactly (run of equal values), so
their variance is exactly 0 and their mean exactly that value.

The OHLC kernels, the moment kernels, regression, efficiency ratio, autocorrelation and
variance ratio treat +/-inf as missing themselves (their wrappers skip the separate scan for
infinities); the others rely on the wrapper turning inf into NaN.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, fabs, log, sqrt
from libc.string cimport memmove, memset

from gridregime._libs._types cimport f8, idx_t

cnp.import_array()

# CANCEL_RATIO: recompute the sliding sums exactly when the centred sum of squares falls below
# this share of the largest raw (shifted) sum of squares seen since the last recomputation;
# RECOMPUTE_EVERY: ... and at least every max(window, RECOMPUTE_EVERY) steps, to bound error
# accumulation. C macros (sliding.h), so the compiler folds them into the loops.
cdef extern from "gridregime/sliding.h" nogil:
    const f8 CANCEL_RATIO "GR_CANCEL_RATIO"
    const idx_t RECOMPUTE_EVERY "GR_RECOMPUTE_EVERY"

    idx_t gr_finite_end(const f8* x, idx_t i, idx_t n) noexcept

    ctypedef struct gr_var_state:
        f8 k, s1, s2, s2max
        idx_t since
    idx_t gr_var_steps(gr_var_state* st, const f8* x, idx_t i, idx_t i1, idx_t w, f8 inv_w,
                       idx_t every, f8* out) noexcept
    void gr_var_exact(gr_var_state* st, const f8* x, idx_t lo, idx_t w, f8 ref,
                      f8 inv_w) noexcept
    void gr_var_finish(f8* out, idx_t m, f8 inv_dof, int take_sqrt) noexcept

    ctypedef struct gr_ac1_state:
        f8 k, sa, saa, sab, amax, va, pa, po, pv
        idx_t ca, since
    idx_t gr_ac1_steps(gr_ac1_state* st, const f8* x, idx_t i, idx_t i1, idx_t w, f8 inv_w,
                       idx_t every, idx_t i0, f8* bva, f8* bvb, f8* bcv, idx_t* cb) noexcept
    void gr_ac1_exact(gr_ac1_state* st, const f8* x, idx_t t, idx_t w, f8 inv_w, f8* va,
                      f8* vb, f8* cov) noexcept

    ctypedef struct gr_vr_state:
        f8 k1, a1, b1, k2, a2, b2, top1, top2
        idx_t last, since
    idx_t gr_vr_steps(gr_vr_state* st, const f8* r, const f8* qn, idx_t m, idx_t i, idx_t i1,
                      idx_t w, f8 c, f8 inv_w, f8 inv_m, idx_t every, f8* o) noexcept
    void gr_variance_ratio(const f8* v, idx_t m, f8 factor, f8* out) noexcept

# TA-Lib's TA_IS_ZERO threshold, kept so ADX/DI agree with TA-Lib on flat stretches.
cdef extern from *:
    """
    #define GR_TA_EPSILON 1e-14
    """
    const f8 TA_EPSILON "GR_TA_EPSILON"


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


cdef enum:
    ADX_BLOCK = 128  # bars per block of the ADX steady state (buffers on the stack; timed
                     # faster than 256)
    WIN_BLOCK = 256  # outputs per block of the window kernels' steady state


cdef extern from *:
    """
    /* Loops without a dependency between iterations, in C so that gcc vectorises them (their
       selects are only if-converted when FP comparisons may be treated as non-trapping;
       results are unchanged, IEEE arithmetic is not affected). */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    #define GR_VECTOR __attribute__((optimize("no-trapping-math")))

    /* +DM, -DM and TR of the m bars at h, l, c (the bar before them valid). A bar with a
       missing field (NaN or +/-inf) gets TR = NaN, which the Wilder sum carries onwards. */
    GR_VECTOR static void gr_adx_moves(const double *h, const double *l, const double *c,
                                       Py_ssize_t m, double *restrict bp, double *restrict bm,
                                       double *restrict bt)
    {
        for (Py_ssize_t j = 0; j < m; j++) {
            double hi = h[j], lo = l[j], pc = c[j - 1];
            double up = hi - h[j - 1], dn = l[j - 1] - lo;
            double top = hi > pc ? hi : pc, bottom = lo < pc ? lo : pc;
            bp[j] = ((up > 0.0) & (up > dn)) ? up : 0.0;
            bm[j] = ((dn > 0.0) & (dn > up)) ? dn : 0.0;
            bt[j] = (top - bottom) + ((hi - hi) + (lo - lo) + (c[j] - c[j]));
        }
    }

    /* +DI, -DI from the Wilder sums, as _di_dx; DX replaces the smoothed TR in bt (NaN where
       TA-Lib computes none). One division gives both 100 / TR_s and 1 / (+DM_s + -DM_s):
       the divisor is selected, not the quotient (t * 1 = t exactly). some: +DI + -DI is not
       TA-Lib's zero; flat: TR_s is (sums of TR are >= 0, or NaN). SSE2 by hand: gcc's
       if-conversion costs a third more instructions here. */
    static inline void gr_adx_di_dx1(const double *bp, const double *bm, double *bt,
                                     double *pdi, double *mdi, double eps)
    {
        double p = *bp, q = *bm, t = *bt, dsum = p + q;
        int some = dsum >= 1e-16 * t, flat = t < eps;
        double d = some ? dsum : 1.0;
        double rt = 100.0 / (t * d), u = d * rt;
        *pdi = flat ? 0.0 : p * u;
        *mdi = flat ? 0.0 : q * u;
        *bt = (some && t >= eps) ? fabs(p - q) * t * rt : NAN;
    }

    static void gr_adx_di_dx(const double *bp, const double *bm, double *bt, Py_ssize_t m,
                             double *pdi, double *mdi, double eps)
    {
        Py_ssize_t j = 0;
    #if defined(__SSE2__)
        const __m128d tiny = _mm_set1_pd(1e-16), one = _mm_set1_pd(1.0);
        const __m128d hundred = _mm_set1_pd(100.0), e = _mm_set1_pd(eps);
        const __m128d nan = _mm_set1_pd(NAN), sign = _mm_set1_pd(-0.0);
        for (; j + 1 < m; j += 2) {
            __m128d p = _mm_loadu_pd(bp + j), q = _mm_loadu_pd(bm + j), t = _mm_loadu_pd(bt + j);
            __m128d dsum = _mm_add_pd(p, q);
            __m128d some = _mm_cmpge_pd(dsum, _mm_mul_pd(tiny, t));
            __m128d d = _mm_or_pd(_mm_and_pd(some, dsum), _mm_andnot_pd(some, one));
            __m128d rt = _mm_div_pd(hundred, _mm_mul_pd(t, d)), u = _mm_mul_pd(d, rt);
            __m128d flat = _mm_cmplt_pd(t, e);
            _mm_storeu_pd(pdi + j, _mm_andnot_pd(flat, _mm_mul_pd(p, u)));
            _mm_storeu_pd(mdi + j, _mm_andnot_pd(flat, _mm_mul_pd(q, u)));
            __m128d ok = _mm_and_pd(some, _mm_cmpge_pd(t, e));
            __m128d dx = _mm_mul_pd(_mm_mul_pd(_mm_andnot_pd(sign, _mm_sub_pd(p, q)), t), rt);
            _mm_storeu_pd(bt + j, _mm_or_pd(_mm_and_pd(ok, dx), _mm_andnot_pd(ok, nan)));
        }
    #endif
        for (; j < m; j++)
            gr_adx_di_dx1(bp + j, bm + j, bt + j, pdi + j, mdi + j, eps);
    }

    /* Correlations cov / sqrt(va vb) clipped to [-1, 1]; NaN unless va > 0 and vb > 0. (gcc
       does not vectorise sqrt while it may set errno: SSE2 by hand where available.) */
    static double gr_correlation1(double cov, double va, double vb)
    {
        double r = cov / sqrt(va * vb);
        r = r > 1.0 ? 1.0 : r;
        r = r < -1.0 ? -1.0 : r;
        return (va > 0.0 && vb > 0.0) ? r : NAN;
    }

    /* q-bar sums out[j] = (r[j-q+1] - c) + ... + (r[j] - c), added left to right, for
       j = 0 .. m-1 (r[-q+1 ..] readable): each sum rounds the same wherever it starts. */
    static void gr_qsums(const double *r, Py_ssize_t m, Py_ssize_t q, double c,
                         double *restrict out)
    {
        const double *r0 = r - (q - 1);
        Py_ssize_t j = 0;
    #if defined(__SSE2__)
        /* two sums at a time, kept in a register over the q terms */
        const __m128d vc = _mm_set1_pd(c);
        for (; j + 1 < m; j += 2) {
            __m128d acc = _mm_sub_pd(_mm_loadu_pd(r0 + j), vc);
            for (Py_ssize_t k = 1; k < q; k++)
                acc = _mm_add_pd(acc, _mm_sub_pd(_mm_loadu_pd(r0 + k + j), vc));
            _mm_storeu_pd(out + j, acc);
        }
    #endif
        for (; j < m; j++) {
            double acc = r0[j] - c;
            for (Py_ssize_t k = 1; k < q; k++)
                acc += r0[k + j] - c;
            out[j] = acc;
        }
    }

    static void gr_correlation(const double *restrict cov, const double *restrict va,
                               const double *restrict vb, Py_ssize_t m, double *restrict out)
    {
        Py_ssize_t j = 0;
    #if defined(__SSE2__)
        const __m128d one = _mm_set1_pd(1.0), mone = _mm_set1_pd(-1.0);
        const __m128d zero = _mm_setzero_pd(), nan = _mm_set1_pd(NAN);
        for (; j + 1 < m; j += 2) {
            __m128d a = _mm_loadu_pd(va + j), b = _mm_loadu_pd(vb + j);
            __m128d r = _mm_div_pd(_mm_loadu_pd(cov + j), _mm_sqrt_pd(_mm_mul_pd(a, b)));
            r = _mm_max_pd(mone, _mm_min_pd(one, r));  /* NaN stays NaN */
            __m128d ok = _mm_and_pd(_mm_cmpgt_pd(a, zero), _mm_cmpgt_pd(b, zero));
            _mm_storeu_pd(out + j, _mm_or_pd(_mm_and_pd(ok, r), _mm_andnot_pd(ok, nan)));
        }
    #endif
        for (; j < m; j++)
            out[j] = gr_correlation1(cov[j], va[j], vb[j]);
    }


    """
    void gr_correlation(const f8* cov, const f8* va, const f8* vb, idx_t m, f8* out) noexcept nogil
    void gr_qsums(const f8* r, idx_t m, idx_t q, f8 c, f8* out) noexcept nogil
    void gr_adx_moves(const f8* h, const f8* l, const f8* c, idx_t m, f8* bp, f8* bm,
                      f8* bt) noexcept nogil
    void gr_adx_di_dx(const f8* bp, const f8* bm, f8* bt, idx_t m, f8* pdi, f8* mdi,
                      f8 eps) noexcept nogil


cdef extern from *:
    """
    /* The recurrences of ADX, two bars per step (a chain of one multiply and one add is paid
       once per two bars):
       - Wilder sums S = S * keep + value of +DM, -DM and TR. +DM and -DM do the same
         operations: with SSE2 they are the two lanes of one register (each lane rounds as the
         scalar code);
       - ADX = ADX * keep + DX * inv over the DX of a block (a NaN DX leaves it unchanged).
       gr_adx_block computes the movements and Wilder sums of one block and, in the same loop,
       the ADX of the block before: the two chains are independent, so their latencies overlap
       (and the movements fill the gaps) instead of adding up. */
    typedef struct {
    #if defined(__SSE2__)
        __m128d s;  /* (+DM sum, -DM sum) */
    #else
        double p, q;
    #endif
        double t, keep, keep2;
    } gr_adx_sums;

    typedef struct {
        double a, keep, keep2, inv, keep_inv;
    } gr_adx_avg;

    static inline void gr_adx_wilder1(gr_adx_sums *w, double *bp, double *bm, double *bt)
    {
    #if defined(__SSE2__)
        __m128d x = _mm_loadh_pd(_mm_load_sd(bp), bm);
        w->s = _mm_add_pd(_mm_mul_pd(w->s, _mm_set1_pd(w->keep)), x);
        _mm_storel_pd(bp, w->s);
        _mm_storeh_pd(bm, w->s);
    #else
        w->p = w->p * w->keep + *bp;
        w->q = w->q * w->keep + *bm;
        *bp = w->p;
        *bm = w->q;
    #endif
        w->t = w->t * w->keep + *bt;
        *bt = w->t;
    }

    #if defined(__SSE2__)
    /* Movements (as gr_adx_moves) and Wilder sums of two bars; the sums go to bp, bm, bt. */
    static inline void gr_adx_moves_wilder2(gr_adx_sums *w, const double *h, const double *l,
                                            const double *c, double *bp, double *bm,
                                            double *bt)
    {
        const __m128d zero = _mm_setzero_pd();
        const __m128d k1 = _mm_set1_pd(w->keep), k2 = _mm_set1_pd(w->keep2);
        __m128d hi = _mm_loadu_pd(h), lo = _mm_loadu_pd(l), cl = _mm_loadu_pd(c);
        __m128d pc = _mm_loadu_pd(c - 1);
        __m128d up = _mm_sub_pd(hi, _mm_loadu_pd(h - 1));
        __m128d dn = _mm_sub_pd(_mm_loadu_pd(l - 1), lo);
        __m128d pm = _mm_and_pd(_mm_and_pd(_mm_cmpgt_pd(up, zero), _mm_cmpgt_pd(up, dn)), up);
        __m128d mm = _mm_and_pd(_mm_and_pd(_mm_cmpgt_pd(dn, zero), _mm_cmpgt_pd(dn, up)), dn);
        __m128d bad = _mm_add_pd(_mm_add_pd(_mm_sub_pd(hi, hi), _mm_sub_pd(lo, lo)),
                                 _mm_sub_pd(cl, cl));
        /* max/min_pd(a, b) are a > b ? a : b and a < b ? a : b, as gr_adx_moves */
        __m128d tr = _mm_add_pd(_mm_sub_pd(_mm_max_pd(hi, pc), _mm_min_pd(lo, pc)), bad);
        __m128d x0 = _mm_unpacklo_pd(pm, mm), x1 = _mm_unpackhi_pd(pm, mm);
        double t0 = _mm_cvtsd_f64(tr), t1 = _mm_cvtsd_f64(_mm_unpackhi_pd(tr, tr));
        __m128d s = w->s, y;
        double t = w->t, ta;
        y = _mm_add_pd(_mm_mul_pd(s, k1), x0);
        s = _mm_add_pd(_mm_mul_pd(s, k2), _mm_add_pd(_mm_mul_pd(x0, k1), x1));
        ta = t * w->keep + t0;
        t = t * w->keep2 + (t0 * w->keep + t1);
        w->s = s;
        w->t = t;
        _mm_storeu_pd(bp, _mm_unpacklo_pd(y, s));
        _mm_storeu_pd(bm, _mm_unpackhi_pd(y, s));
        _mm_storeu_pd(bt, _mm_unpacklo_pd(_mm_set_sd(ta), _mm_set_sd(t)));
    }
    #endif

    static inline void gr_adx_avg2(gr_adx_avg *v, const double *dx, double *out)
    {
        double a = v->a, d0 = dx[0], d1 = dx[1];
        if ((d0 == d0) & (d1 == d1)) {
            out[0] = a * v->keep + d0 * v->inv;
            a = a * v->keep2 + (d0 * v->keep_inv + d1 * v->inv);
        } else {
            if (d0 == d0)
                a = a * v->keep + d0 * v->inv;
            out[0] = a;
            if (d1 == d1)
                a = a * v->keep + d1 * v->inv;
        }
        out[1] = a;
        v->a = a;
    }

    static void gr_adx_smooth(gr_adx_avg *v, const double *dx, Py_ssize_t m, double *out)
    {
        Py_ssize_t j = 0;
        for (; j + 1 < m; j += 2)
            gr_adx_avg2(v, dx + j, out + j);
        if (j < m) {
            if (dx[j] == dx[j])
                v->a = v->a * v->keep + dx[j] * v->inv;
            out[j] = v->a;
        }
    }

    /* +DM, -DM and TR sums of the m bars at h, l, c (the bar before them valid) into bp, bm,
       bt, and the ADX of the previous block (its DX pdx, k bars) into pout. */
    static void gr_adx_block(gr_adx_sums *ws, const double *h, const double *l,
                             const double *c, Py_ssize_t m, double *bp, double *bm, double *bt,
                             gr_adx_avg *va, const double *pdx, Py_ssize_t k, double *pout)
    {
        /* local copies, so that the states stay in registers (the stores through the buffer
           pointers could alias them) */
        gr_adx_sums w0 = *ws, *w = &w0;
        gr_adx_avg v0 = *va, *v = &v0;
        Py_ssize_t j = 0;
    #if defined(__SSE2__)
        Py_ssize_t both = (m < k ? m : k) & ~(Py_ssize_t)1;
        for (; j < both; j += 2) {
            gr_adx_moves_wilder2(w, h + j, l + j, c + j, bp + j, bm + j, bt + j);
            gr_adx_avg2(v, pdx + j, pout + j);
        }
        for (; j + 1 < m; j += 2)
            gr_adx_moves_wilder2(w, h + j, l + j, c + j, bp + j, bm + j, bt + j);
        gr_adx_smooth(v, pdx + both, k - both, pout + both);
    #else
        gr_adx_smooth(v, pdx, k, pout);
    #endif
        for (; j < m; j++) {
            gr_adx_moves(h + j, l + j, c + j, 1, bp + j, bm + j, bt + j);
            gr_adx_wilder1(w, bp + j, bm + j, bt + j);
        }
        *ws = w0;
        *va = v0;
    }

    static inline void gr_adx_sums_init(gr_adx_sums *w, double sp, double sm, double st,
                                        double keep)
    {
    #if defined(__SSE2__)
        w->s = _mm_set_pd(sm, sp);
    #else
        w->p = sp;
        w->q = sm;
    #endif
        w->t = st;
        w->keep = keep;
        w->keep2 = keep * keep;
    }

    static inline void gr_adx_avg_init(gr_adx_avg *v, double a, double keep, double inv)
    {
        v->a = a;
        v->keep = keep;
        v->keep2 = keep * keep;
        v->inv = inv;
        v->keep_inv = keep * inv;
    }
    """
    ctypedef struct gr_adx_sums:
        f8 t
    ctypedef struct gr_adx_avg:
        f8 a
    void gr_adx_sums_init(gr_adx_sums* w, f8 sp, f8 sm, f8 st, f8 keep) noexcept nogil
    void gr_adx_avg_init(gr_adx_avg* v, f8 a, f8 keep, f8 inv) noexcept nogil
    void gr_adx_smooth(gr_adx_avg* v, const f8* dx, idx_t m, f8* out) noexcept nogil
    void gr_adx_block(gr_adx_sums* w, const f8* h, const f8* l, const f8* c, idx_t m,
                      f8* bp, f8* bm, f8* bt, gr_adx_avg* v, const f8* pdx, idx_t k,
                      f8* pout) noexcept nogil


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
    cdef idx_t inv_for = -1, j, i1
    cdef bint add, rem
    cdef gr_var_state st
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
        if mean_out == NULL:  # variance alone (folded): serial sums, then a vectorised finish
            st.k = k
            st.s1 = s1
            st.s2 = s2
            st.s2max = s2max
            st.since = since
            j = i
            while i < n:
                j = i
                i1 = i + WIN_BLOCK if n - i > WIN_BLOCK else n
                while True:
                    i = gr_var_steps(&st, x, i, i1, w, inv_w, every, var_out)
                    if i == i1 or not _finite(x[i]):
                        break
                    gr_var_exact(&st, x, i - w + 1, w, x[i], inv_w)
                    var_out[i] = st.s2 - st.s1 * st.s1 * inv_w
                    i += 1
                gr_var_finish(var_out + j, i - j, inv_dof_w, take_sqrt)
                if i < i1:
                    break
            k = st.k
            s1 = st.s1
            s2 = st.s2
            s2max = st.s2max
            since = st.since
            # the run of equal values ending at i - 1, as far as the general step needs it
            # (it compares the run with a count of at most w)
            prev = x[i - 1]
            run = 1
            while run < w and x[i - 1 - run] == prev:
                run += 1
            continue
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
    """OLS of y on 0..window-1 over each full window of finite values: (slope, intercept, r2).

    The three outputs are rows of one (3, n) block (one allocation instead of three)."""
    cdef idx_t n = y.shape[0], w = window, i, j, run = 0, eq = 0, since = 0
    cdef idx_t every = _imax(w, RECOMPUTE_EVERY)
    cdef f8 v, yo, yn, k = 0.0, s1 = 0.0, s2 = 0.0, sxy = 0.0, s2max = 0.0, prev = NAN
    cdef f8 half = (w - 1) * 0.5, sxx = w * (w * w - 1.0) / 12.0, ssq, sxc, slope, r2, d
    cdef f8 inv_w = 1.0 / w, inv_sxx = 1.0 / sxx
    out = np.empty((3, n), dtype=np.float64)
    out_s, out_i, out_r = out
    cdef f8[::1] os = out_s, oi = out_i, orr = out_r
    with nogil:
        for i in range(n):
            v = y[i]
            if not _finite(v):
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
            if not _finite(v):
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


cdef inline idx_t _finite_end(const f8* x, idx_t i, idx_t n) noexcept nogil:
    """First index >= i whose value is NaN or +/-inf (n if none)."""
    return gr_finite_end(x, i, n)


cdef inline void _nan_fill(f8* o, idx_t lo, idx_t hi) noexcept nogil:
    cdef idx_t j
    for j in range(lo, hi):
        o[j] = NAN


cdef inline void _autocorr_sums(const f8* x, idx_t t, idx_t w, idx_t lag, f8 inv_w,
                                f8* ka, f8* kb, f8* s) noexcept nogil:
    """Exact sums of window t (a = x[t-w+1..t], b = a lagged), each side centred on its own
    mean: s = (sa, sb, saa, sbb, sab)."""
    cdef idx_t j
    cdef f8 v = x[t], da = 0.0, db = 0.0, a, b, sa = 0.0, sb = 0.0, saa = 0.0, sbb = 0.0, sab = 0.0
    for j in range(t - w + 1, t + 1):
        da += x[j] - v
        db += x[j - lag] - v
    ka[0] = v + da * inv_w
    kb[0] = v + db * inv_w
    for j in range(t - w + 1, t + 1):
        a = x[j] - ka[0]
        b = x[j - lag] - kb[0]
        sa += a
        sb += b
        saa += a * a
        sbb += b * b
        sab += a * b
    s[0] = sa
    s[1] = sb
    s[2] = saa
    s[3] = sbb
    s[4] = sab


cdef void _autocorr_run(const f8* x, idx_t s, idx_t e, idx_t w, idx_t lag, f8* o) noexcept nogil:
    """Outputs s + w + lag - 1 .. e - 1 of a run of finite values x[s..e-1].

    Sliding sums in blocks: the serial loop keeps the sums (re-centred exactly when
    cancellation threatens, and every ``max(w, RECOMPUTE_EVERY)`` steps) and stores each
    window's centred moments; a vectorised loop turns them into correlations. A side is
    constant when none of its values differs from its predecessor (the index of each side's
    last change is tracked), and then the output is NaN.
    """
    cdef idx_t t0 = s + w + lag - 1, i, j, i0, m, ca = s, cb = s, since = 0
    cdef idx_t every = _imax(w, RECOMPUTE_EVERY)
    cdef f8 inv_w = 1.0 / w, ka = 0.0, kb = 0.0, sa, sb, saa, sbb, sab, amax, bmax
    cdef f8 v, vl, vo, vol, a, b, ao, bo, va, vb
    cdef f8 sums[5]
    cdef f8 bva[WIN_BLOCK]
    cdef f8 bvb[WIN_BLOCK]
    cdef f8 bcv[WIN_BLOCK]
    _autocorr_sums(x, t0, w, lag, inv_w, &ka, &kb, sums)
    sa = sums[0]
    sb = sums[1]
    saa = sums[2]
    sbb = sums[3]
    sab = sums[4]
    amax = saa
    bmax = sbb
    # ca, cb: the last index j <= i (resp. i - lag) with x[j] != x[j-1]
    for j in range(s + 1, t0 + 1):
        if x[j] != x[j - 1]:
            ca = j
        if j <= t0 - lag and x[j] != x[j - 1]:
            cb = j
    i0 = t0
    while i0 < e:
        m = WIN_BLOCK if e - i0 > WIN_BLOCK else e - i0
        for j in range(m):
            i = i0 + j
            if i > t0:
                v = x[i]
                vl = x[i - lag]
                vo = x[i - w]
                vol = x[i - w - lag]
                a = v - ka
                b = vl - kb
                ao = vo - ka
                bo = vol - kb
                sa += a - ao
                sb += b - bo
                saa += a * a - ao * ao
                sbb += b * b - bo * bo
                sab += a * b - ao * bo
                amax = _max(amax, saa)
                bmax = _max(bmax, sbb)
                ca = i if v != x[i - 1] else ca
                cb = i - lag if vl != x[i - lag - 1] else cb
                since += 1
            va = saa - sa * sa * inv_w
            vb = sbb - sb * sb * inv_w
            # (rarely true: predictable branches are cheaper than combining the flags)
            if (ca <= i - w + 1 or cb <= i - lag - w + 1 or va < CANCEL_RATIO * amax
                    or vb < CANCEL_RATIO * bmax or since >= every):
                if ca <= i - w + 1 or cb <= i - lag - w + 1:
                    va = NAN  # a constant side: no correlation
                else:
                    _autocorr_sums(x, i, w, lag, inv_w, &ka, &kb, sums)
                    sa = sums[0]
                    sb = sums[1]
                    saa = sums[2]
                    sbb = sums[3]
                    sab = sums[4]
                    amax = saa
                    bmax = sbb
                    since = 0
                    va = saa - sa * sa * inv_w
                    vb = sbb - sb * sb * inv_w
            bva[j] = va
            bvb[j] = vb
            bcv[j] = sab - sa * sb * inv_w
        gr_correlation(bcv, bva, bvb, m, o + i0)
        i0 += m


cdef void _autocorr1_run(const f8* x, idx_t s, idx_t e, idx_t w, f8* o) noexcept nogil:
    """_autocorr_run for lag 1: both sides on one centre, so the lagged side's sums are the
    unlagged side's of the step before (see gr_ac1_steps) and only three sums slide."""
    cdef idx_t t0 = s + w, i, i0, m, cb = s, every = _imax(w, RECOMPUTE_EVERY)
    cdef f8 inv_w = 1.0 / w
    cdef gr_ac1_state st
    cdef f8 bva[WIN_BLOCK]
    cdef f8 bvb[WIN_BLOCK]
    cdef f8 bcv[WIN_BLOCK]
    # st.ca: the last index j <= t0 with x[j] != x[j-1]; cb: the same for j <= t0 - 1
    st.ca = s
    for i in range(s + 1, t0 + 1):
        if x[i] != x[i - 1]:
            cb = st.ca
            st.ca = i
    if st.ca <= t0 - 1:
        cb = st.ca
    gr_ac1_exact(&st, x, t0, w, inv_w, &bva[0], &bvb[0], &bcv[0])
    if st.ca <= t0 - w + 1 or cb <= t0 - w:
        bva[0] = NAN
    i0 = t0
    i = t0 + 1
    while i0 < e:
        m = WIN_BLOCK if e - i0 > WIN_BLOCK else e - i0
        while i < i0 + m:
            i = gr_ac1_steps(&st, x, i, i0 + m, w, inv_w, every, i0, bva, bvb, bcv, &cb)
            if i == i0 + m:
                break
            if st.ca <= i - w + 1 or cb <= i - w:
                bva[i - i0] = NAN  # a constant side: no correlation
                bvb[i - i0] = 0.0
                bcv[i - i0] = 0.0
            else:
                gr_ac1_exact(&st, x, i, w, inv_w, &bva[i - i0], &bvb[i - i0], &bcv[i - i0])
            i += 1
        gr_correlation(bcv, bva, bvb, m, o + i0)
        i0 += m


def rolling_autocorr(const f8[::1] x, idx_t window, idx_t lag):
    """Pearson correlation of x[t-window+1..t] with x[t-window+1-lag..t-lag]; NaN when a
    window holds a NaN or +/-inf, or either side is constant."""
    cdef idx_t n = x.shape[0], w = window, i = 0, s, e, span = window + lag
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    if n == 0:
        return out
    cdef const f8* xp = &x[0]
    cdef f8* op = &o[0]
    with nogil:
        while i < n:
            s = i
            while s < n and not _finite(xp[s]):
                op[s] = NAN
                s += 1
            e = _finite_end(xp, s, n)
            _nan_fill(op, s, s + span - 1 if s + span - 1 < e else e)
            if s + span - 1 < e:
                if lag == 1:
                    _autocorr1_run(xp, s, e, w, op)
                else:
                    _autocorr_run(xp, s, e, w, lag, op)
            i = e
    return out


cdef enum:
    VR_SPARE = 1024  # q-sum buffer: window q-sums plus this many before shifting them down


cdef inline void _vr_sums(const f8* r, const f8* qw, idx_t i, idx_t w, idx_t m, f8 c,
                   f8* st) noexcept nogil:
    """Exact sums of window i: returns r[i-w+1..i] (relative to c) centred on their mean,
    and the window's q-sums qw[0..m-1] (oldest first) centred on theirs.
    st = (k1, a1, b1, k2, a2, b2)."""
    cdef idx_t j
    cdef f8 v = r[i], d = 0.0, y, a = 0.0, b = 0.0, sq = qw[m - 1], k
    for j in range(i - w + 1, i + 1):
        d += r[j] - v
    k = (v - c) + d / w
    for j in range(i - w + 1, i + 1):
        y = (r[j] - c) - k
        a += y
        b += y * y
    st[0] = k
    st[1] = a
    st[2] = b
    d = 0.0
    for j in range(m):
        d += qw[j] - sq
    k = sq + d / m
    a = 0.0
    b = 0.0
    for j in range(m):
        y = qw[j] - k
        a += y
        b += y * y
    st[3] = k
    st[4] = a
    st[5] = b


cdef void _vr_run(const f8* r, idx_t s, idx_t e, idx_t q, idx_t w, f8 c, f8* qs,
                  f8* o) noexcept nogil:
    """Outputs s + w - 1 .. e - 1 of a run of finite returns r[s..e-1].

    Two sliding moment trackers (returns over ``w``, q-sums over ``m = w - q + 1``), re-centred
    exactly when cancellation threatens and every ``max(w, RECOMPUTE_EVERY)`` steps. Blocks of
    WIN_BLOCK outputs: the block's q-sums are computed first in one vectorised pass (into
    ``qs``, m + VR_SPARE long, whose last m are shifted to its start when the block would not
    fit), then the serial loop (gr_vr_steps) slides the sums, then a vectorised pass forms the
    ratios. Each q-sum is summed afresh (q adds), so it does not depend on where the run
    starts. Constant windows (no value differs from its predecessor since the last change
    index) are NaN.
    """
    cdef idx_t m = w - q + 1, size = m + VR_SPARE, t0 = s + w - 1, i, j, p, i0, nb, i1
    cdef idx_t every = _imax(w, RECOMPUTE_EVERY)
    cdef f8 inv_w = 1.0 / w, inv_m = 1.0 / m, factor = (w - 1.0) / ((m - 1.0) * q)
    cdef f8 st6[6]
    cdef gr_vr_state st
    cdef f8 bv[2 * WIN_BLOCK]  # pairs (ss1, ss2)
    memset(&st, 0, sizeof(st))  # set at step t0 before first use; zeroed to keep gcc's flow analysis quiet
    st.last = s
    for i in range(s + 1, t0 + 1):
        if r[i] != r[i - 1]:
            st.last = i
    # q-sums of bars s + q - 1 .. t0 - 1; qs[p] is always the last bar's whose sums were slid
    gr_qsums(r + s + q - 1, m - 1, q, c, qs)
    p = m - 2
    i0 = t0
    i = t0
    while i0 < e:
        nb = WIN_BLOCK if e - i0 > WIN_BLOCK else e - i0
        i1 = i0 + nb
        if p + nb >= size:
            memmove(qs, qs + p + 1 - m, m * sizeof(f8))
            p = m - 1
        gr_qsums(r + i0, nb, q, c, qs + p + 1)
        while i < i1:
            if i > t0:
                j = gr_vr_steps(&st, r, qs + p + 1, m, i, i1, w, c, inv_w, inv_m, every,
                                bv + 2 * (i - i0))
                p += j - i
                i = j
                if i == i1:
                    break
                if st.last <= i - w + 1:  # constant returns: no variance to compare
                    p += 1
                    bv[2 * (i - i0)] = NAN
                    bv[2 * (i - i0) + 1] = 0.0
                    i += 1
                    continue
            p += 1
            _vr_sums(r, qs + p - m + 1, i, w, m, c, st6)
            st.k1 = st6[0]
            st.a1 = st6[1]
            st.b1 = st6[2]
            st.k2 = st6[3]
            st.a2 = st6[4]
            st.b2 = st6[5]
            st.top1 = st.b1
            st.top2 = st.b2
            st.since = 0
            bv[2 * (i - i0)] = st.b1 - st.a1 * st.a1 * inv_w if st.last > i - w + 1 else NAN
            bv[2 * (i - i0) + 1] = st.b2 - st.a2 * st.a2 * inv_m
            i += 1
        gr_variance_ratio(bv, nb, factor, o + i0)
        i0 = i1


def variance_ratio(const f8[::1] r, idx_t q, idx_t window):
    """var(q-bar sums of r) / (q var(r)) over each full window of finite r (ddof=1).

    The q-bar sums are the window - q + 1 overlapping sums that lie inside the window.
    NaN when the window's returns are all equal. O(n q) for the sums, O(n) otherwise.
    """
    cdef idx_t n = r.shape[0], w = window, i = 0, s, e
    cdef f8 c = NAN
    out = np.empty(n, dtype=np.float64)
    qsums = np.empty(window - q + 1 + VR_SPARE, dtype=np.float64)
    if n == 0:
        return out
    cdef f8[::1] o = out, qs = qsums
    cdef const f8* rp = &r[0]
    cdef f8* op = &o[0]
    with nogil:
        # VR is invariant to a constant added to r: values are taken relative to the first
        # finite return, which keeps the q-sums exact on offset data.
        for i in range(n):
            if _finite(rp[i]):
                c = rp[i]
                break
        i = 0
        while i < n:
            s = i
            while s < n and not _finite(rp[s]):
                op[s] = NAN
                s += 1
            e = _finite_end(rp, s, n)
            _nan_fill(op, s, s + w - 1 if s + w - 1 < e else e)
            if s + w - 1 < e:
                _vr_run(rp, s, e, q, w, c, &qs[0], op)
            i = e
    return out


cdef extern from *:
    """
    /* Crossings of the mean m over x[0 .. w-1]: sign changes of x[j] - m, values equal to m
       skipped. Fast path when no value equals m (then every sign is +/-1 and a crossing is a
       change of x[j] > m between neighbours: a branch-free, vectorisable count); the exact
       walk otherwise. */
    static Py_ssize_t gr_mean_crossings(const double *x, Py_ssize_t w, double m)
    {
        Py_ssize_t count = 0, j = 1;
        int touched = x[0] == m;
    #if defined(__SSE2__) && defined(__x86_64__)
        /* two neighbour pairs per step: compare masks are all-ones (-1) where x > m */
        const __m128d vm = _mm_set1_pd(m);
        __m128i acc = _mm_setzero_si128();
        __m128d eq = _mm_setzero_pd();
        for (; j + 1 < w; j += 2) {
            __m128d cur = _mm_loadu_pd(x + j), prev = _mm_loadu_pd(x + j - 1);
            __m128d change = _mm_xor_pd(_mm_cmpgt_pd(cur, vm), _mm_cmpgt_pd(prev, vm));
            acc = _mm_sub_epi64(acc, _mm_castpd_si128(change));
            eq = _mm_or_pd(eq, _mm_cmpeq_pd(cur, vm));
        }
        touched |= _mm_movemask_pd(eq) != 0;
        acc = _mm_add_epi64(acc, _mm_unpackhi_epi64(acc, acc));
        count = (Py_ssize_t)_mm_cvtsi128_si64(acc);
    #endif
        for (; j < w; j++) {
            count += (x[j] > m) != (x[j - 1] > m);
            touched |= x[j] == m;
        }
        if (!touched)
            return count;
        int last = 0, sign;
        count = 0;
        for (j = 0; j < w; j++) {
            sign = (x[j] > m) - (x[j] < m);
            if (sign != 0) {
                count += last != 0 && sign != last;
                last = sign;
            }
        }
        return count;
    }

    /* Means of the windows ending at i .. i+7, each x[i-w+1 .. i] summed left to right as one
       window alone would be. Lane k of an SSE2 pair sums window i+k's terms in order, so the
       eight sums are eight independent addition chains (the add latency is hidden) with the
       rounding of the scalar loop. */
    static void gr_window_means8(const double *x, Py_ssize_t i, Py_ssize_t w, double *m)
    {
        const double *b = x + i - w + 1;
    #if defined(__SSE2__)
        __m128d s0 = _mm_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
        for (Py_ssize_t j = 0; j < w; j++) {
            s0 = _mm_add_pd(s0, _mm_loadu_pd(b + j));
            s1 = _mm_add_pd(s1, _mm_loadu_pd(b + j + 2));
            s2 = _mm_add_pd(s2, _mm_loadu_pd(b + j + 4));
            s3 = _mm_add_pd(s3, _mm_loadu_pd(b + j + 6));
        }
        const __m128d vw = _mm_set1_pd((double)w);
        _mm_storeu_pd(m, _mm_div_pd(s0, vw));
        _mm_storeu_pd(m + 2, _mm_div_pd(s1, vw));
        _mm_storeu_pd(m + 4, _mm_div_pd(s2, vw));
        _mm_storeu_pd(m + 6, _mm_div_pd(s3, vw));
    #else
        double s[8] = {0.0};
        for (Py_ssize_t j = 0; j < w; j++)
            for (int k = 0; k < 8; k++)
                s[k] += b[j + k];
        for (int k = 0; k < 8; k++)
            m[k] = s[k] / w;
    #endif
    }
    """
    idx_t gr_mean_crossings(const f8* x, idx_t w, f8 m) noexcept nogil
    void gr_window_means8(const f8* x, idx_t i, idx_t w, f8* m) noexcept nogil


def rolling_mean_crossings(const f8[::1] x, idx_t window):
    """Number of sign changes of x - mean within each full, NaN-free window.

    The mean is the window's left-to-right sum divided by ``window``; values equal to the
    mean are skipped (a touch is a crossing only when the sign differs on the other side).
    O(n * window), eight windows at a time.
    """
    cdef idx_t n = x.shape[0], w = window, i, k, s, e
    cdef f8 m
    cdef f8 m8[8]
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    cdef f8[::1] o = out
    cdef const f8* xp = &x[0]
    cdef f8* op = &o[0]
    with nogil:
        i = 0
        while i < n:
            # a run of non-NaN values x[s .. e-1]; its first w-1 outputs are warm-up
            s = i
            while s < n and xp[s] != xp[s]:
                op[s] = NAN
                s += 1
            e = s
            while e < n and xp[e] == xp[e]:
                e += 1
            i = s + w - 1 if s + w - 1 < e else e
            _nan_fill(op, s, i)
            while i + 7 < e:
                gr_window_means8(xp, i, w, m8)
                for k in range(8):
                    op[i + k] = gr_mean_crossings(xp + i + k - w + 1, w, m8[k])
                i += 8
            while i < e:
                m = 0.0
                for k in range(i - w + 1, i + 1):
                    m += xp[k]
                op[i] = gr_mean_crossings(xp + i - w + 1, w, m / w)
                i += 1
            i = e
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
