/* Mean crossings of one window, and the means of eight consecutive windows at once.

   Plain C, header only, no Python.h (used by rolling_mean_crossings in _libs/trend.pyx). */
#ifndef GRIDREGIME_MEAN_CROSSINGS_H
#define GRIDREGIME_MEAN_CROSSINGS_H

#include "gridregime/portable.h"

/* Crossings of the mean m over x[0 .. w-1]: sign changes of x[j] - m, values equal to m
   skipped. Fast path when no value equals m (then every sign is +/-1 and a crossing is a
   change of x[j] > m between neighbours: a branch-free, vectorisable count); the exact
   walk otherwise. */
static gr_idx gr_mean_crossings(const double *x, gr_idx w, double m)
{
    gr_idx count = 0, j = 1;
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
    count = (gr_idx)_mm_cvtsi128_si64(acc);
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
static void gr_window_means8(const double *x, gr_idx i, gr_idx w, double *m)
{
    const double *b = x + i - w + 1;
#if defined(__SSE2__)
    __m128d s0 = _mm_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    for (gr_idx j = 0; j < w; j++) {
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
    for (gr_idx j = 0; j < w; j++)
        for (int k = 0; k < 8; k++)
            s[k] += b[j + k];
    for (int k = 0; k < 8; k++)
        m[k] = s[k] / w;
#endif
}

#endif /* GRIDREGIME_MEAN_CROSSINGS_H */
