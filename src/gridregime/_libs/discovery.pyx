# cython: cdivision=True
"""Range discovery (SPEC §5): the four methods' bounds, the measures of a range and its
quality, for many hours of one series in one call. The one implementation of the formulas:
:mod:`gridregime.kernels.discovery` validates and wraps it, :mod:`gridregime.analysis.ranges`
turns its arrays into candidates.

For each requested bar ``i`` the methods run over the lookback bars ``max(0, i - lookback + 1)
.. i`` and each candidate is measured there. The kernel validates nothing; hours it cannot
settle (ATR not finite or negative, a price span too narrow for the profile bins) come back
flagged in ``status`` (as are lookbacks holding a non-finite or negative bar).
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, isfinite
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, malloc, qsort

from gridregime._libs._range_c cimport gr_cluster_sorted, gr_fractal_pivots, gr_profile_bin, gr_value_area
from gridregime._libs._types cimport f8, idx_t

cnp.import_array()

cdef enum:
    SETTLED = 0
    FALLBACK_ATR = 1  # ATR not finite or negative: no range can be measured in ATR
    FALLBACK_BINS = 2  # the lookback's price span is too narrow for bins of positive width
    BAD_BARS = 3  # the lookback holds a non-finite price or volume, or a negative volume
    N_METHODS = 4  # percentile, donchian, pivots, volume_profile


ctypedef struct params_t:
    idx_t lookback, pivot_order, bins
    f8 trim_atr, cluster_atr, va_share, touch_atr
    f8 ideal_min, ideal_max, age_full
    f8 w_contain, w_touch, w_width, w_age


ctypedef struct measure_t:
    f8 width_atr, containment, position, quality
    int64_t touches_lower, touches_upper, mid_crosses, age


cdef class DiscoveryParams:
    """The discovery settings as one C struct, filled once (the wrapper checks the values)."""
    cdef params_t p

    def __init__(self, idx_t lookback, f8 trim_atr, idx_t pivot_order, f8 cluster_atr, idx_t bins, f8 va_share,
                 f8 touch_atr, f8 ideal_min, f8 ideal_max, f8 age_full, f8 w_contain, f8 w_touch, f8 w_width,
                 f8 w_age):
        self.p.lookback = lookback
        self.p.trim_atr = trim_atr
        self.p.pivot_order = pivot_order
        self.p.cluster_atr = cluster_atr
        self.p.bins = bins
        self.p.va_share = va_share
        self.p.touch_atr = touch_atr
        self.p.ideal_min = ideal_min
        self.p.ideal_max = ideal_max
        self.p.age_full = age_full
        self.p.w_contain = w_contain
        self.p.w_touch = w_touch
        self.p.w_width = w_width
        self.p.w_age = w_age


cdef int _cmp_f8(const void *a, const void *b) noexcept nogil:
    cdef f8 x = (<const f8 *>a)[0], y = (<const f8 *>b)[0]
    return (x > y) - (x < y)


cdef inline f8 _width_suitability(f8 w, const params_t *p) noexcept nogil:
    """1 inside the ideal width, linear ramps outside it, 0 from twice the ideal maximum."""
    cdef f8 v
    if not isfinite(w) or w <= 0:
        return 0.0
    if w < p.ideal_min:
        return w / p.ideal_min
    if w <= p.ideal_max:
        return 1.0
    v = 1.0 - (w - p.ideal_max) / p.ideal_max
    return v if v > 0.0 else 0.0


cdef inline f8 _quality(f8 containment, int64_t n_lo, int64_t n_hi, f8 width_atr, int64_t age,
                        const params_t *p) noexcept nogil:
    """quality = w_contain·containment + w_touch·(½[lower touched] + ½[upper touched])
    + w_width·width_suitability + w_age·min(age / age_full, 1)."""
    cdef f8 s = <f8>age / p.age_full
    return (p.w_contain * containment
            + p.w_touch * (0.5 * (n_lo > 0) + 0.5 * (n_hi > 0))
            + p.w_width * _width_suitability(width_atr, p)
            + p.w_age * (s if s < 1.0 else 1.0))


cdef measure_t _measure(const f8 *high, const f8 *low, const f8 *close, idx_t lo, idx_t i, f8 lower_b, f8 upper_b,
                        f8 atr, const params_t *p) noexcept nogil:
    """The measures of ``[lower_b, upper_b]`` over bars ``lo .. i`` (bounds usable, atr > 0)."""
    cdef measure_t m
    cdef f8 tol = p.touch_atr * atr, mid = 0.5 * (lower_b + upper_b), c, s
    cdef idx_t j
    cdef int64_t n_in = 0
    cdef int sgn, prev_sgn = 0
    cdef bint at_lower, at_upper, was_lower = False, was_upper = False
    m.mid_crosses = 0
    m.touches_lower = 0
    m.touches_upper = 0
    for j in range(lo, i + 1):
        c = close[j]
        if c >= lower_b and c <= upper_b:
            n_in += 1
        s = c - mid
        sgn = (s > 0) - (s < 0)
        if sgn != 0:  # a close exactly on the mid-line does not cross it
            if prev_sgn != 0 and sgn != prev_sgn:
                m.mid_crosses += 1
            prev_sgn = sgn
        # a touch episode: consecutive bars whose [low, high] reaches within tol of the bound
        at_lower = low[j] <= lower_b + tol and high[j] >= lower_b - tol
        at_upper = high[j] >= upper_b - tol and low[j] <= upper_b + tol
        if at_lower and not was_lower:
            m.touches_lower += 1
        if at_upper and not was_upper:
            m.touches_upper += 1
        was_lower = at_lower
        was_upper = at_upper
    # age: closes ending at bar i inside the bounds widened by the touch tolerance
    m.age = 0
    j = i
    while j >= lo and close[j] >= lower_b - tol and close[j] <= upper_b + tol:
        m.age += 1
        j -= 1
    m.width_atr = (upper_b - lower_b) / atr
    m.containment = <f8>n_in / <f8>(i - lo + 1)
    m.position = (close[i] - lower_b) / (upper_b - lower_b)
    m.quality = _quality(m.containment, m.touches_lower, m.touches_upper, m.width_atr, m.age, p)
    return m


def range_quality(DiscoveryParams params, f8 containment, int64_t touches_lower, int64_t touches_upper,
                  f8 width_atr, int64_t age):
    """Quality score 0–100 of one range (the formula :func:`discover_many` uses)."""
    return _quality(containment, touches_lower, touches_upper, width_atr, age, &params.p)


def width_suitability(DiscoveryParams params, f8 width_atr):
    return _width_suitability(width_atr, &params.p)


def measure_range(const f8[::1] high, const f8[::1] low, const f8[::1] close, f8 lower, f8 upper, f8 atr,
                  DiscoveryParams params):
    """``(width_atr, containment, touches_lower, touches_upper, mid_crosses, age, position,
    quality)`` of ``[lower, upper]`` over all the bars (at least one; usable bounds, atr > 0)."""
    cdef measure_t m
    with nogil:
        m = _measure(&high[0], &low[0], &close[0], 0, close.shape[0] - 1, lower, upper, atr, &params.p)
    return (m.width_atr, m.containment, m.touches_lower, m.touches_upper, m.mid_crosses, m.age, m.position,
            m.quality)


def discover_many(const f8[::1] high, const f8[::1] low, const f8[::1] close, const f8[::1] volume,
                  const idx_t[::1] idx, const f8[::1] atr, const f8[::1] pct_lo, const f8[::1] pct_hi,
                  DiscoveryParams params):
    """Candidates of every method at the bars ``idx``.

    ``atr``, ``pct_lo``, ``pct_hi`` are per requested bar (ATR at the bar and its percentile
    band). Returns ``(status, usable, lower, upper, width_atr, containment, touches_lower,
    touches_upper, mid_crosses, age, position, quality)``: ``status`` (m,) uint8, 0 = settled,
    1 = ATR not usable, 2 = price span too narrow for the profile bins, 3 = a non-finite or
    negative bar in the lookback; the rest (m, 4) in
    method order, ``usable`` 0 where the bounds are unusable (that candidate is absent).
    """
    cdef const params_t *p = &params.p
    cdef idx_t n = close.shape[0], m = idx.shape[0], lookback = p.lookback, order = p.pivot_order
    cdef idx_t bins = p.bins
    cdef idx_t h, i, lo, j, k, c, nlev
    cdef f8 a_atr, trim, price, mn, mx, tol, lower_b, upper_b, step, first, last, scale, best_c
    cdef int64_t best_n, va_poc, va_lo, va_hi
    cdef bint any_volume
    cdef measure_t r
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
    if m == 0:
        return (status_a, usable_a, lower_a, upper_a, width_a, contain_a, tlo_a, thi_a, cross_a, age_a, pos_a,
                qual_a)

    # Fractal pivots of the bars the lookbacks cover: a bar at least ``order`` bars inside a
    # window has all its neighbours there, so it is a pivot of the window exactly when of the series.
    cdef idx_t first_bar = idx[0], last_bar = idx[0]
    for h in range(1, m):
        if idx[h] < first_bar:
            first_bar = idx[h]
        if idx[h] > last_bar:
            last_bar = idx[h]
    first_bar = first_bar - lookback + 1 if first_bar - lookback + 1 > 0 else 0
    piv_high_a = np.zeros(n, dtype=np.uint8)
    piv_low_a = np.zeros(n, dtype=np.uint8)
    cdef uint8_t[::1] piv_high = piv_high_a, piv_low = piv_low_a
    cdef f8 *levels = <f8 *>malloc((2 * lookback + 1) * sizeof(f8))
    cdef f8 *centers = <f8 *>malloc((2 * lookback + 1) * sizeof(f8))
    cdef int64_t *counts = <int64_t *>malloc((2 * lookback + 1) * sizeof(int64_t))
    cdef f8 *edges = <f8 *>malloc((bins + 1) * sizeof(f8))
    cdef f8 *prof = <f8 *>malloc(bins * sizeof(f8))
    if levels == NULL or centers == NULL or counts == NULL or edges == NULL or prof == NULL:
        free(levels); free(centers); free(counts); free(edges); free(prof)
        raise MemoryError("discover_many: cannot allocate work buffers")

    with nogil:
        gr_fractal_pivots(&high[first_bar], &low[first_bar], last_bar + 1 - first_bar, order, &piv_high[first_bar],
                          &piv_low[first_bar])

        for h in range(m):
            i = idx[h]
            lo = i - lookback + 1 if i - lookback + 1 > 0 else 0
            a_atr = atr[h]
            price = close[i]
            for j in range(lo, i + 1):
                if not (isfinite(high[j]) and isfinite(low[j]) and isfinite(close[j]) and volume[j] >= 0
                        and isfinite(volume[j])):
                    status[h] = BAD_BARS
                    break
            if status[h] != SETTLED:
                continue
            if not (isfinite(a_atr) and a_atr >= 0):
                status[h] = FALLBACK_ATR
                continue

            # percentile: the band passed in
            bl[0] = pct_lo[h]
            bu[0] = pct_hi[h]

            # donchian: extremes trimmed inwards
            mn = low[lo]
            mx = high[lo]
            for j in range(lo + 1, i + 1):
                if low[j] < mn:
                    mn = low[j]
                if high[j] > mx:
                    mx = high[j]
            trim = p.trim_atr * a_atr
            bl[1] = mn + trim
            bu[1] = mx - trim

            # pivots: levels sorted ascending, chained into clusters, most touched each side
            bl[2] = NAN
            bu[2] = NAN
            nlev = 0
            for j in range(lo + order, i - order + 1):
                if piv_high[j]:
                    levels[nlev] = high[j]
                    nlev += 1
                if piv_low[j]:
                    levels[nlev] = low[j]
                    nlev += 1
            if nlev > 0:
                qsort(levels, nlev, sizeof(f8), _cmp_f8)
                tol = p.cluster_atr * a_atr
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
            any_volume = False
            for j in range(lo, i + 1):
                if volume[j] > 0:
                    any_volume = True
                    break
            if mx > mn and any_volume:
                first = mn
                last = mx
                step = (last - first) / bins
                if step == 0:
                    status[h] = FALLBACK_BINS
                    continue
                for k in range(bins):  # numpy.linspace(first, last, bins + 1)
                    edges[k] = k * step + first
                edges[bins] = last
                for k in range(bins):
                    if not (edges[k + 1] > edges[k]):
                        status[h] = FALLBACK_BINS
                        break
                if status[h] != SETTLED:
                    continue
                for k in range(bins):
                    prof[k] = 0.0
                scale = bins / (last - first)
                for j in range(lo, i + 1):
                    if close[j] >= first and close[j] <= last:
                        prof[gr_profile_bin(close[j], first, scale, edges, bins)] += volume[j]
                if gr_value_area(prof, bins, p.va_share, &va_poc, &va_lo, &va_hi):
                    bl[3] = edges[va_lo]
                    bu[3] = edges[va_hi + 1]

            # measures over the same bars
            if not (a_atr > 0):
                continue
            for k in range(N_METHODS):
                lower_b = bl[k]
                upper_b = bu[k]
                if not (isfinite(lower_b) and isfinite(upper_b) and upper_b > lower_b):
                    continue
                r = _measure(&high[0], &low[0], &close[0], lo, i, lower_b, upper_b, a_atr, p)
                usable[h, k] = 1
                lower[h, k] = lower_b
                upper[h, k] = upper_b
                width[h, k] = r.width_atr
                contain[h, k] = r.containment
                tlo[h, k] = r.touches_lower
                thi[h, k] = r.touches_upper
                cross[h, k] = r.mid_crosses
                age[h, k] = r.age
                pos[h, k] = r.position
                qual[h, k] = r.quality

    free(levels); free(centers); free(counts); free(edges); free(prof)
    return (status_a, usable_a, lower_a, upper_a, width_a, contain_a, tlo_a, thi_a, cross_a, age_a, pos_a,
            qual_a)
