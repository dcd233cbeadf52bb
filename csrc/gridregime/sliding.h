/* Steady-state loops of the sliding-moment kernels (rolling std/var, autocorrelation,
   variance ratio), and the vectorised passes that turn their sums into outputs.
   Plain C, header only, no Python.h. Each steady-state loop runs over a stretch of finite
   values with its state in locals and no call inside the loop, so the compiler keeps the
   state in registers. A loop stops at the first step that needs the exact path
   (cancellation, periodic recomputation, a constant window) and returns its index; the
   caller handles that step and resumes. */
#ifndef GRIDREGIME_SLIDING_H
#define GRIDREGIME_SLIDING_H

#include <math.h>

#include "gridregime/portable.h"

#define GR_CANCEL_RATIO 1e-2
#define GR_RECOMPUTE_EVERY 256

/* First index >= i whose value is NaN or +/-inf (n if none); x - x is 0 exactly for finite
   x, NaN otherwise, and a NaN survives the sums. */
static inline gr_idx gr_finite_end(const double *x, gr_idx i, gr_idx n)
{
#if defined(__SSE2__)
    const __m128d zero = _mm_setzero_pd();
    for (; i + 8 <= n; i += 8) {
        __m128d a = _mm_loadu_pd(x + i), b = _mm_loadu_pd(x + i + 2);
        __m128d c = _mm_loadu_pd(x + i + 4), d = _mm_loadu_pd(x + i + 6);
        __m128d u = _mm_add_pd(_mm_sub_pd(a, a), _mm_sub_pd(b, b));
        __m128d v = _mm_add_pd(_mm_sub_pd(c, c), _mm_sub_pd(d, d));
        if (_mm_movemask_pd(_mm_cmpneq_pd(_mm_add_pd(u, v), zero)))
            break;
    }
#endif
    while (i < n && x[i] - x[i] == 0.0)
        i++;
    return i;
}

typedef struct {
    double k, s1, s2, s2max;
    gr_idx since;
} gr_var_state;

/* Full windows of w finite values (x[i - w .. i - 1] finite): slides the sums over steps
   i .. i1 - 1 while x[i] is finite, storing the centred sum of squares to out[i]. Returns
   the step it stopped at: i1, a non-finite x[i] (nothing done), or a step needing
   re-centring (its sums slid, nothing stored).
   No run of equal values is tracked here: when a window becomes constant, its computed sum
   of squares is rounding noise far below CANCEL_RATIO * s2max (s2max >= s2 ~ the raw sum),
   so the step is re-centred, which on equal values gives exactly k = value and s1 = s2 = 0;
   the sums then stay exactly 0 (hence 0 out) while the window stays constant. */
static inline gr_idx gr_var_steps(gr_var_state *st, const double *x, gr_idx i, gr_idx i1,
                                  gr_idx w, double inv_w, gr_idx every, double *out)
{
    double k = st->k, s1 = st->s1, s2 = st->s2, s2max = st->s2max;
    gr_idx i0 = i, slid = 0;
    /* finiteness checked ahead in a vectorised scan; the periodic recomputation falls due
       at step `due` (where the step count since the last one reaches `every`) */
    gr_idx e = gr_finite_end(x, i, i1), due = i + (every - st->since) - 1;
    for (; i < e; i++) {
        double yn = x[i] - k, yo = x[i - w] - k;
        s1 += yn - yo;
        s2 += yn * yn - yo * yo;
        s2max = s2 > s2max ? s2 : s2max;
        double ssq = s2 - s1 * s1 * inv_w;
        if (ssq < GR_CANCEL_RATIO * s2max || i >= due) {
            slid = 1;
            break;
        }
        out[i] = ssq;
    }
    st->k = k; st->s1 = s1; st->s2 = s2; st->s2max = s2max;
    st->since += i - i0 + slid;
    return i;
}

/* Exact two-pass sums of the w finite values x[lo .. lo + w - 1], centred on their mean
   (ref: any value near them), as _recentre (moments.pyx) without the missing-value tests. */
static inline void gr_var_exact(gr_var_state *st, const double *x, gr_idx lo, gr_idx w,
                                double ref, double inv_w)
{
    double d = 0.0, a = 0.0, b = 0.0, k, y;
    for (gr_idx j = lo; j < lo + w; j++)
        d += x[j] - ref;
    k = ref + d * inv_w;
    for (gr_idx j = lo; j < lo + w; j++) {
        y = x[j] - k;
        a += y;
        b += y * y;
    }
    st->k = k;
    st->s1 = a;
    st->s2 = b;
    st->s2max = b;
    st->since = 0;
}

/* out[j] = f(max(out[j], 0) * inv_dof), f = sqrt or identity (a NaN becomes 0, as in
   ``ssq > 0 ? ssq : 0``). */
static inline void gr_var_finish(double *out, gr_idx m, double inv_dof, int take_sqrt)
{
    gr_idx j = 0;
#if defined(__SSE2__)
    const __m128d zero = _mm_setzero_pd(), f = _mm_set1_pd(inv_dof);
    if (take_sqrt) {
        for (; j + 1 < m; j += 2) {
            __m128d v = _mm_mul_pd(_mm_max_pd(_mm_loadu_pd(out + j), zero), f);
            _mm_storeu_pd(out + j, _mm_sqrt_pd(v));
        }
    } else {
        for (; j + 1 < m; j += 2)
            _mm_storeu_pd(out + j, _mm_mul_pd(_mm_max_pd(_mm_loadu_pd(out + j), zero), f));
    }
#endif
    for (; j < m; j++) {
        double v = out[j] > 0.0 ? out[j] * inv_dof : 0.0;
        out[j] = take_sqrt ? sqrt(v) : v;
    }
}

/* Rolling mean alone over full windows (x[i - w .. i - 1] finite): slides s1 over steps
   i .. n - 1 while x[i] and x[i - w] are finite, storing the mean to out[i]; a window whose
   values are all equal (run >= w) gets exactly that value. Returns the step it stopped at:
   n, a missing value entering or leaving (nothing done), or a step due for the periodic
   exact recomputation (its sums slid, nothing stored). As the generic loop of _moments
   (moments.pyx) with no variance, in C so that the state stays in registers. */
typedef struct {
    double k, s1, prev;
    gr_idx run, since;
} gr_mean_state;

static inline gr_idx gr_mean_steps(gr_mean_state *st, const double *x, gr_idx i, gr_idx n,
                                   gr_idx w, double inv_w, gr_idx every, double *out)
{
    double k = st->k, s1 = st->s1, prev = st->prev;
    gr_idx run = st->run, since = st->since;
    for (; i < n; i++) {
        double v = x[i], vo = x[i - w];
        if ((v - v) + (vo - vo) != 0.0)
            break;
        s1 += (v - k) - (vo - k);
        if (v == prev) {
            run++;
        } else {  /* (prev is kept on a tie: 0.0 and -0.0 compare equal) */
            run = 1;
            prev = v;
        }
        since++;
        if (run >= w) {
            out[i] = prev;
            continue;
        }
        if (since >= every)
            break;
        out[i] = k + s1 * inv_w;
    }
    st->k = k; st->s1 = s1; st->prev = prev; st->run = run; st->since = since;
    return i;
}

/* Lag-1 autocorrelation. With one centre k for both sides, the lagged window at step i is
   the unlagged window of step i - 1, so its sums (sb, sbb, and its centred square sum vb)
   are those of the previous step: only sa, saa and the cross sum sab slide, and vb needs no
   cancellation test of its own (it passed the previous step's, or was computed exactly;
   after a constant step the lagged side is constant too). pa, po: the
   entering and leaving values (minus k) of the previous step; pv: x[i - 1]; ca: last index
   <= i - 1 whose value differs from its predecessor. */
typedef struct {
    double k, sa, saa, sab, amax, va, pa, po, pv;
    gr_idx ca, since;
} gr_ac1_state;

/* Steps i .. i1 - 1 of a finite run (x[i - w - 1 ..] readable), storing the centred sums
   va, vb and the co-moment to bva, bvb, bcv (indexed from step i0). Returns i1, or the first
   step needing the exact path (a constant side, cancellation, periodic recomputation) with
   its state slid and nothing stored; *cb receives that step's lagged-side change index. */
static inline gr_idx gr_ac1_steps(gr_ac1_state *st, const double *x, gr_idx i, gr_idx i1,
                                  gr_idx w, double inv_w, gr_idx every, gr_idx i0,
                                  double *bva, double *bvb, double *bcv, gr_idx *cbp)
{
    double k = st->k, sa = st->sa, saa = st->saa, sab = st->sab, amax = st->amax;
    double va = st->va, pa = st->pa, po = st->po, pv = st->pv;
    gr_idx ca = st->ca, cb = 0, i0s = i, slid = 0;
    gr_idx due = i + (every - st->since) - 1;  /* the periodic recomputation */
    for (; i < i1; i++) {
        double v = x[i], a = v - k, ao = x[i - w] - k;
        double sb = sa, vb = va;
        sab += a * pa - ao * po;
        sa += a - ao;
        saa += a * a - ao * ao;
        amax = saa > amax ? saa : amax;
        cb = ca;
        ca = v != pv ? i : ca;
        va = saa - sa * sa * inv_w;
        double cov = sab - sa * sb * inv_w;
        pa = a;
        po = ao;
        pv = v;
        if (ca <= i - w + 1 || cb <= i - w || va < GR_CANCEL_RATIO * amax || i >= due) {
            slid = 1;
            break;
        }
        bva[i - i0] = va;
        bvb[i - i0] = vb;
        bcv[i - i0] = cov;
    }
    st->k = k; st->sa = sa; st->saa = saa; st->sab = sab; st->amax = amax; st->va = va;
    st->pa = pa; st->po = po; st->pv = pv; st->ca = ca; st->since += i - i0s + slid;
    *cbp = cb;
    return i;
}

/* Exact sums of step t's windows (a = x[t-w+1..t], b = x[t-w..t-1]) on one centre, the mean
   of a; stores va, vb and the co-moment to *va, *vb, *cov and resets the sliding state. */
static inline void gr_ac1_exact(gr_ac1_state *st, const double *x, gr_idx t, gr_idx w,
                                double inv_w, double *va, double *vb, double *cov)
{
    double v = x[t], d = 0.0, sa = 0.0, sb = 0.0, saa = 0.0, sbb = 0.0, sab = 0.0, k;
    for (gr_idx j = t - w + 1; j <= t; j++)
        d += x[j] - v;
    k = v + d * inv_w;
    for (gr_idx j = t - w + 1; j <= t; j++) {
        double a = x[j] - k, b = x[j - 1] - k;
        sa += a;
        sb += b;
        saa += a * a;
        sbb += b * b;
        sab += a * b;
    }
    st->k = k; st->sa = sa; st->saa = saa; st->sab = sab; st->amax = saa;
    st->va = saa - sa * sa * inv_w;
    st->pa = x[t] - k; st->po = x[t - w] - k; st->pv = x[t];
    st->since = 0;
    *va = st->va;
    *vb = sbb - sb * sb * inv_w;
    *cov = sab - sa * sb * inv_w;
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

static inline void gr_correlation(const double *restrict cov, const double *restrict va,
                                  const double *restrict vb, gr_idx m, double *restrict out)
{
    gr_idx j = 0;
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

/* q-bar sums out[j] = (r[j-q+1] - c) + ... + (r[j] - c), added left to right, for
   j = 0 .. m-1 (r[-q+1 ..] readable): each sum rounds the same wherever it starts. */
static inline void gr_qsums(const double *r, gr_idx m, gr_idx q, double c,
                             double *restrict out)
{
    const double *r0 = r - (q - 1);
    gr_idx j = 0;
#if defined(__SSE2__)
    /* two sums at a time, kept in a register over the q terms */
    const __m128d vc = _mm_set1_pd(c);
    for (; j + 1 < m; j += 2) {
        __m128d acc = _mm_sub_pd(_mm_loadu_pd(r0 + j), vc);
        for (gr_idx k = 1; k < q; k++)
            acc = _mm_add_pd(acc, _mm_sub_pd(_mm_loadu_pd(r0 + k + j), vc));
        _mm_storeu_pd(out + j, acc);
    }
#endif
    for (; j < m; j++) {
        double acc = r0[j] - c;
        for (gr_idx k = 1; k < q; k++)
            acc += r0[k + j] - c;
        out[j] = acc;
    }
}

/* Variance ratio: returns (minus c, centred on k1) over w and q-sums (centred on k2) over m. */
typedef struct {
    double k1, a1, b1, k2, a2, b2, top1, top2;
    gr_idx last, since;
} gr_vr_state;

/* Steps i .. i1 - 1 of a finite run; qn[j] is step i + j's q-sum (qn[j - m] the one leaving).
   Stores the pair (ss1, ss2) to o[2j], o[2j + 1]. Returns i1 or the first step needing the
   exact path (constant returns, cancellation, periodic recomputation), its sums slid, nothing
   stored. The two trackers do the same operations: with SSE2 they are the two lanes of one
   register (each lane rounds exactly as the scalar code). */
static inline gr_idx gr_vr_steps(gr_vr_state *st, const double *r, const double *qn,
                                 gr_idx m, gr_idx i, gr_idx i1, gr_idx w, double c,
                                 double inv_w, double inv_m, gr_idx every, double *o)
{
    double pv = r[i - 1];
    gr_idx last = st->last, i0 = i, slid = 0;
    gr_idx due = i + (every - st->since) - 1;  /* the periodic recomputation */
#if defined(__SSE2__)
    __m128d k = _mm_set_pd(st->k2, st->k1), a = _mm_set_pd(st->a2, st->a1);
    __m128d b = _mm_set_pd(st->b2, st->b1), top = _mm_set_pd(st->top2, st->top1);
    const __m128d inv = _mm_set_pd(inv_m, inv_w), ratio = _mm_set1_pd(GR_CANCEL_RATIO);
    for (; i < i1; i++, qn++, o += 2) {
        double v = r[i];
        __m128d yn = _mm_sub_pd(_mm_set_pd(qn[0], v - c), k);
        __m128d yo = _mm_sub_pd(_mm_set_pd(qn[-m], r[i - w] - c), k);
        a = _mm_add_pd(a, _mm_sub_pd(yn, yo));
        b = _mm_add_pd(b, _mm_sub_pd(_mm_mul_pd(yn, yn), _mm_mul_pd(yo, yo)));
        top = _mm_max_pd(b, top);  /* b > top ? b : top */
        last = v != pv ? i : last;
        pv = v;
        __m128d ss = _mm_sub_pd(b, _mm_mul_pd(_mm_mul_pd(a, a), inv));
        if (last <= i - w + 1 || _mm_movemask_pd(_mm_cmplt_pd(ss, _mm_mul_pd(ratio, top)))
            || i >= due) {
            slid = 1;
            break;
        }
        _mm_storeu_pd(o, ss);
    }
    _mm_storel_pd(&st->k1, k); _mm_storeh_pd(&st->k2, k);
    _mm_storel_pd(&st->a1, a); _mm_storeh_pd(&st->a2, a);
    _mm_storel_pd(&st->b1, b); _mm_storeh_pd(&st->b2, b);
    _mm_storel_pd(&st->top1, top); _mm_storeh_pd(&st->top2, top);
#else
    double k1 = st->k1, a1 = st->a1, b1 = st->b1, k2 = st->k2, a2 = st->a2, b2 = st->b2;
    double top1 = st->top1, top2 = st->top2;
    for (; i < i1; i++, qn++, o += 2) {
        double v = r[i];
        double yn = (v - c) - k1, yo = (r[i - w] - c) - k1;
        a1 += yn - yo;
        b1 += yn * yn - yo * yo;
        yn = qn[0] - k2;
        yo = qn[-m] - k2;
        a2 += yn - yo;
        b2 += yn * yn - yo * yo;
        top1 = b1 > top1 ? b1 : top1;
        top2 = b2 > top2 ? b2 : top2;
        last = v != pv ? i : last;
        pv = v;
        double ss1 = b1 - a1 * a1 * inv_w, ss2 = b2 - a2 * a2 * inv_m;
        if (last <= i - w + 1 || ss1 < GR_CANCEL_RATIO * top1 || ss2 < GR_CANCEL_RATIO * top2
            || i >= due) {
            slid = 1;
            break;
        }
        o[0] = ss1;
        o[1] = ss2;
    }
    st->k1 = k1; st->a1 = a1; st->b1 = b1; st->k2 = k2; st->a2 = a2; st->b2 = b2;
    st->top1 = top1; st->top2 = top2;
#endif
    st->last = last;
    st->since += i - i0 + slid;
    return i;
}

/* Variance ratios max(v2, 0) * factor / v1 of the m pairs (v1, v2) at v, NaN unless v1 > 0. */
static inline void gr_variance_ratio(const double *v, gr_idx m, double factor, double *out)
{
    gr_idx j = 0;
#if defined(__SSE2__)
    const __m128d zero = _mm_setzero_pd(), f = _mm_set1_pd(factor), nan = _mm_set1_pd(NAN);
    for (; j + 1 < m; j += 2) {
        __m128d p = _mm_loadu_pd(v + 2 * j), q = _mm_loadu_pd(v + 2 * j + 2);
        __m128d a = _mm_unpacklo_pd(p, q), b = _mm_unpackhi_pd(p, q);
        __m128d x = _mm_div_pd(_mm_mul_pd(_mm_max_pd(b, zero), f), a);
        __m128d ok = _mm_cmpgt_pd(a, zero);
        _mm_storeu_pd(out + j, _mm_or_pd(_mm_and_pd(ok, x), _mm_andnot_pd(ok, nan)));
    }
#endif
    for (; j < m; j++) {
        double a = v[2 * j], b = v[2 * j + 1];
        double x = (b > 0.0 ? b : 0.0) * factor / a;
        out[j] = a > 0.0 ? x : NAN;
    }
}

#endif
