/* ADX, +DI and -DI in blocks of bars: movements, Wilder sums, DI and DX, and the ADX average.

   Plain C, header only, no Python.h; the kernel (adx in _libs/ohlc.pyx) keeps the warm-up
   and the restarts after missing bars, and hands the steady state to these loops. Loops
   without a dependency between bars are written so that the compiler vectorises them (or
   with SSE2 by hand where it does not); each lane rounds exactly as the scalar code. */
#ifndef GRIDREGIME_ADX_H
#define GRIDREGIME_ADX_H

#include <math.h>

#include "gridregime/portable.h"

/* TA-Lib's TA_IS_ZERO threshold, kept so ADX/DI agree with TA-Lib on flat stretches. */
#define GR_TA_EPSILON 1e-14

/* +DM, -DM and TR of the m bars at h, l, c (the bar before them valid). A bar with a
   missing field (NaN or +/-inf) gets TR = NaN, which the Wilder sum carries onwards. */
GR_NO_TRAPPING_MATH
static void gr_adx_moves(const double *h, const double *l, const double *c, gr_idx m,
                         double *restrict bp, double *restrict bm, double *restrict bt)
{
    for (gr_idx j = 0; j < m; j++) {
        double hi = h[j], lo = l[j], pc = c[j - 1];
        double up = hi - h[j - 1], dn = l[j - 1] - lo;
        double top = hi > pc ? hi : pc, bottom = lo < pc ? lo : pc;
        bp[j] = ((up > 0.0) & (up > dn)) ? up : 0.0;
        bm[j] = ((dn > 0.0) & (dn > up)) ? dn : 0.0;
        bt[j] = (top - bottom) + ((hi - hi) + (lo - lo) + (c[j] - c[j]));
    }
}

/* +DI, -DI from the Wilder sums, as _di_dx in _libs/ohlc.pyx; DX replaces the smoothed TR
   in bt (NaN where TA-Lib computes none). One division gives both 100 / TR_s and
   1 / (+DM_s + -DM_s): the divisor is selected, not the quotient (t * 1 = t exactly).
   some: +DI + -DI is not TA-Lib's zero; flat: TR_s is (sums of TR are >= 0, or NaN). SSE2
   by hand: gcc's if-conversion costs a third more instructions here. */
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

static void gr_adx_di_dx(const double *bp, const double *bm, double *bt, gr_idx m,
                         double *pdi, double *mdi, double eps)
{
    gr_idx j = 0;
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

static void gr_adx_smooth(gr_adx_avg *v, const double *dx, gr_idx m, double *out)
{
    gr_idx j = 0;
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
                         const double *c, gr_idx m, double *bp, double *bm, double *bt,
                         gr_adx_avg *va, const double *pdx, gr_idx k, double *pout)
{
    /* local copies, so that the states stay in registers (the stores through the buffer
       pointers could alias them) */
    gr_adx_sums w0 = *ws, *w = &w0;
    gr_adx_avg v0 = *va, *v = &v0;
    gr_idx j = 0;
#if defined(__SSE2__)
    gr_idx both = (m < k ? m : k) & ~(gr_idx)1;
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

#endif /* GRIDREGIME_ADX_H */
