# cython: cdivision=True
"""Range discovery (SPEC §5) for many hours of one series in one call.

For each requested bar ``i`` the four methods of :mod:`gridregime.analysis.ranges` run over
the lookback bars ``max(0, i - lookback + 1) .. i`` and each candidate is measured there,
with the same floating-point operations, in the same order, as the NumPy path (same results
bit for bit). The caller guarantees finite prices and volumes >= 0: the checked per-hour path
handles anything else, and hours this kernel cannot settle come back flagged.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, isfinite
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, malloc, qsort

from gridregime._libs._types cimport f8, idx_t


cdef extern from "gridregime/profile.h" nogil:
    int64_t gr_profile_bin(f8 p, f8 first, f8 scale, const f8 *edges, int64_t bins)
    int gr_value_area(const f8 *prof, int64_t bins, f8 share, int64_t *poc, int64_t *lo, int64_t *hi)


cdef extern from "gridregime/cluster.h" nogil:
    int64_t gr_cluster_sorted(const f8 *levels, int64_t n, f8 tol, f8 *centers, int64_t *counts)

cnp.import_array()

cdef enum:
    FALLBACK = 1  # per-hour status: bounds the checked path rejects with an error (degenerate bins, bad ATR)
    N_METHODS = 4  # percentile, donchian, pivots, volume_profile


cdef int _cmp_f8(const void *a, const void *b) noexcept nogil:
    cdef f8 x = (<const f8 *>a)[0], y = (<const f8 *>b)[0]
    return (x > y) - (x < y)


cdef inline f8 _width_suitability(f8 w, f8 lo, f8 hi) noexcept nogil:
    cdef f8 v
    if not isfinite(w) or w <= 0:
        return 0.0
    if w < lo:
        return w / lo
    if w <= hi:
        return 1.0
    v = 1.0 - (w - hi) / hi
    return v if v > 0.0 else 0.0


def discover_many(const f8[::1] high, const f8[::1] low, const f8[::1] close, const f8[::1] volume,
                  const idx_t[::1] idx, const f8[::1] atr, const f8[::1] pct_lo, const f8[::1] pct_hi,
                  idx_t lookback, f8 trim_atr, idx_t pivot_order, f8 cluster_atr, idx_t bins, f8 va_share,
                  f8 touch_atr, f8 ideal_min, f8 ideal_max, f8 age_full,
                  f8 w_contain, f8 w_touch, f8 w_width, f8 w_age):
    """Candidates of every method at the bars ``idx``.

    ``atr``, ``pct_lo``, ``pct_hi`` are per requested bar (ATR at the bar and its percentile
    band). Returns ``(status, usable, lower, upper, width_atr, containment, touches_lower,
    touches_upper, mid_crosses, age, position, quality)``: ``status`` (m,) uint8, 0 = settled,
    1 = let the checked path decide; the rest (m, 4) in method order, ``usable`` 0 where the
    bounds are unusable (that candidate is absent).
    """
    cdef idx_t n = close.shape[0], m = idx.shape[0]
    cdef idx_t h, i, lo, j, k, w, c, nlev, b, a, poc, order = pivot_order
    cdef f8 a_atr, trim, price, mn, mx, tol, lower_b, upper_b, mid, s, prev, step, first, last, scale, p
    cdef f8 total, acc, below, above, best_c, cen
    cdef int64_t cnt, best_n, n_in, n_lo, n_hi, crosses, age_v, va_poc, va_lo, va_hi
    cdef bint at_lower, at_upper, was_lower, was_upper
    cdef int sgn, prev_sgn
    cdef f8 bl[N_METHODS]
    cdef f8 bu[N_METHODS]

    status_a = np.zeros(m, dtype=np.uint8)
    usable_a = np.zeros((m, N_METHODS), dtype=np.uint8)
    lower_a = np.full((m, N_METHODS), NAN)
    upper_a = np.full((m, N_METHODS), NAN)
    width_a = np.full((m, N_METHODS), NAN)
    contain_a = np.full((m, N_METHODS), NAN)
    tlo_a = np.zeros((m, N_METHODS), dtype=np.int64)
    thi_a = np.zeros((m, N_METHODS), dtype=np.int64)
    cross_a = np.zeros((m, N_METHODS), dtype=np.int64)
    age_a = np.zeros((m, N_METHODS), dtype=np.int64)
    pos_a = np.full((m, N_METHODS), NAN)
    qual_a = np.full((m, N_METHODS), NAN)
    cdef uint8_t[::1] status = status_a
    cdef uint8_t[:, ::1] usable = usable_a
    cdef f8[:, ::1] lower = lower_a, upper = upper_a, width = width_a, contain = contain_a
    cdef f8[:, ::1] pos = pos_a, qual = qual_a
    cdef int64_t[:, ::1] tlo = tlo_a, thi = thi_a, cross = cross_a, age = age_a

    # Fractal pivots of the whole series: a bar at least ``order`` bars inside a window has
    # all its neighbours there, so it is a pivot of the window exactly when of the series.
    piv_a = np.zeros(n, dtype=np.uint8)  # bit 0: pivot high, bit 1: pivot low
    cdef uint8_t[::1] piv = piv_a
    cdef bint is_high, is_low
    cdef f8 *levels = <f8 *>malloc((2 * lookback + 1) * sizeof(f8))
    cdef f8 *centers = <f8 *>malloc((2 * lookback + 1) * sizeof(f8))
    cdef int64_t *counts = <int64_t *>malloc((2 * lookback + 1) * sizeof(int64_t))
    cdef f8 *edges = <f8 *>malloc((bins + 1) * sizeof(f8))
    cdef f8 *prof = <f8 *>malloc(bins * sizeof(f8))
    if levels == NULL or centers == NULL or counts == NULL or edges == NULL or prof == NULL:
        free(levels); free(centers); free(counts); free(edges); free(prof)
        raise MemoryError("discover_many: cannot allocate work buffers")

    with nogil:
        for j in range(order, n - order):
            is_high = True
            is_low = True
            for k in range(j - order, j + order + 1):
                if k == j:
                    continue
                if is_high and not (high[j] > high[k]):
                    is_high = False
                if is_low and not (low[j] < low[k]):
                    is_low = False
                if not is_high and not is_low:
                    break
            piv[j] = (<uint8_t>is_high) | ((<uint8_t>is_low) << 1)

        for h in range(m):
            i = idx[h]
            lo = i - lookback + 1 if i - lookback + 1 > 0 else 0
            w = i - lo + 1
            a_atr = atr[h]
            price = close[i]
            if not (isfinite(a_atr) and a_atr >= 0):
                status[h] = FALLBACK
                continue

            # percentile
            bl[0] = pct_lo[h]
            bu[0] = pct_hi[h]

            # donchian
            mn = low[lo]
            mx = high[lo]
            for j in range(lo + 1, i + 1):
                if low[j] < mn:
                    mn = low[j]
                if high[j] > mx:
                    mx = high[j]
            trim = trim_atr * a_atr
            bl[1] = mn + trim
            bu[1] = mx - trim

            # pivots: levels sorted ascending, chained into clusters, most touched each side
            bl[2] = NAN
            bu[2] = NAN
            nlev = 0
            for j in range(lo + order, i - order + 1):
                if piv[j] & 1:
                    levels[nlev] = high[j]
                    nlev += 1
                if piv[j] & 2:
                    levels[nlev] = low[j]
                    nlev += 1
            if nlev > 0:
                qsort(levels, nlev, sizeof(f8), _cmp_f8)
                tol = cluster_atr * a_atr
                c = gr_cluster_sorted(levels, nlev, tol, centers, counts)
                best_n = -1
                best_c = NAN
                for j in range(c):  # ascending: ties go to the later (nearer) cluster
                    if centers[j] <= price and counts[j] >= best_n:
                        best_n = counts[j]
                        best_c = centers[j]
                lower_b = best_c
                best_n = -1
                best_c = NAN
                for j in range(c):  # ascending: ties keep the earlier (nearer) cluster
                    if centers[j] >= price and counts[j] > best_n:
                        best_n = counts[j]
                        best_c = centers[j]
                if isfinite(lower_b) and isfinite(best_c):
                    bl[2] = lower_b
                    bu[2] = best_c

            # volume profile value area (bins between the lowest low and the highest high)
            bl[3] = NAN
            bu[3] = NAN
            acc = 0.0
            for j in range(lo, i + 1):
                if volume[j] > 0:
                    acc = 1.0
                    break
            if mx > mn and acc > 0:
                first = mn
                last = mx
                step = (last - first) / bins
                if step == 0:
                    status[h] = FALLBACK
                    continue
                for k in range(bins):
                    edges[k] = k * step + first
                edges[bins] = last
                for k in range(bins):
                    if not (edges[k + 1] > edges[k]):
                        status[h] = FALLBACK
                        break
                if status[h] == FALLBACK:
                    continue
                for k in range(bins):
                    prof[k] = 0.0
                scale = bins / (last - first)
                for j in range(lo, i + 1):
                    p = close[j]
                    if not (p >= first and p <= last):
                        continue
                    prof[gr_profile_bin(p, first, scale, edges, bins)] += volume[j]
                if gr_value_area(prof, bins, va_share, &va_poc, &va_lo, &va_hi):
                    bl[3] = edges[va_lo]
                    bu[3] = edges[va_hi + 1]

            # measures over the same bars
            if not (a_atr > 0):
                continue
            tol = touch_atr * a_atr
            for k in range(N_METHODS):
                lower_b = bl[k]
                upper_b = bu[k]
                if not (isfinite(lower_b) and isfinite(upper_b) and upper_b > lower_b):
                    continue
                usable[h, k] = 1
                mid = 0.5 * (lower_b + upper_b)
                n_in = 0
                crosses = 0
                prev_sgn = 0
                n_lo = 0
                n_hi = 0
                was_lower = False
                was_upper = False
                for j in range(lo, i + 1):
                    p = close[j]
                    if p >= lower_b and p <= upper_b:
                        n_in += 1
                    s = p - mid
                    sgn = (s > 0) - (s < 0)
                    if sgn != 0:  # a close exactly on the mid-line does not cross it
                        if prev_sgn != 0 and sgn != prev_sgn:
                            crosses += 1
                        prev_sgn = sgn
                    at_lower = low[j] <= lower_b + tol and high[j] >= lower_b - tol
                    at_upper = high[j] >= upper_b - tol and low[j] <= upper_b + tol
                    if at_lower and not was_lower:
                        n_lo += 1
                    if at_upper and not was_upper:
                        n_hi += 1
                    was_lower = at_lower
                    was_upper = at_upper
                age_v = 0
                j = i
                while j >= lo and close[j] >= lower_b - tol and close[j] <= upper_b + tol:
                    age_v += 1
                    j -= 1
                lower[h, k] = lower_b
                upper[h, k] = upper_b
                width[h, k] = (upper_b - lower_b) / a_atr
                contain[h, k] = <f8>n_in / <f8>w
                tlo[h, k] = n_lo
                thi[h, k] = n_hi
                cross[h, k] = crosses
                age[h, k] = age_v
                pos[h, k] = (price - lower_b) / (upper_b - lower_b)
                s = <f8>age_v / age_full
                qual[h, k] = (w_contain * contain[h, k]
                              + w_touch * (0.5 * (n_lo > 0) + 0.5 * (n_hi > 0))
                              + w_width * _width_suitability(width[h, k], ideal_min, ideal_max)
                              + w_age * (s if s < 1.0 else 1.0))

    free(levels); free(centers); free(counts); free(edges); free(prof)
    return (status_a, usable_a, lower_a, upper_a, width_a, contain_a, tlo_a, thi_a, cross_a, age_a, pos_a,
            qual_a)
