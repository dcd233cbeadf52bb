# cython: cdivision=True
"""Range-discovery primitives: rolling quantile band, fractal pivots, level clustering,
touch episodes, volume profile and value area.

Kernels validate nothing (see :mod:`gridregime.kernels.ranges` for the checked wrappers);
they allocate their outputs with the GIL held and loop without it.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, floor
from libc.stdint cimport int32_t, int64_t, uint8_t

from gridregime._libs._range_c cimport gr_cluster_sorted, gr_fractal_pivots, gr_profile_bin, gr_value_area
from gridregime._libs._types cimport f8, idx_t

cnp.import_array()


from gridregime._libs._dense_window cimport (
    gr_window,
    gr_window_advance,
    gr_window_free,
    gr_window_init,
    gr_window_kth,
)


cdef inline f8 _order_stat(const gr_window *w, int32_t k) noexcept nogil:
    """k-th smallest value in the window, 0-based, counting multiplicity."""
    return w.value_of_rank[gr_window_kth(w, k + 1)]


cdef inline f8 _window_quantile(const gr_window *w, f8 q) noexcept nogil:
    """pandas ``rolling.quantile`` with linear interpolation, same arithmetic."""
    cdef int32_t nobs = w.nobs
    cdef f8 position, low
    cdef int32_t k
    if nobs == 1:
        return _order_stat(w, 0)
    position = q * (nobs - 1)
    k = <int32_t>position
    low = _order_stat(w, k)
    if position == k:
        return low
    return low + (_order_stat(w, k + 1) - low) * (position - k)


def rolling_quantile_band(const f8[::1] x, idx_t window, idx_t min_periods, f8 lower_q, f8 upper_q):
    """(lo, hi): the ``lower_q`` and ``upper_q`` quantiles of the non-NaN values of each
    trailing window, NaN below ``min_periods`` values. O(n log window)."""
    cdef idx_t n = x.shape[0], t
    cdef gr_window win
    lower = np.empty(n, dtype=np.float64)
    upper = np.empty(n, dtype=np.float64)
    if n == 0:
        return lower, upper
    cdef f8[::1] lo_out = lower, hi_out = upper
    if gr_window_init(&win, &x[0], n, window) != 0:
        raise MemoryError("rolling_quantile_band: cannot allocate the window buffers")
    with nogil:
        for t in range(n):
            gr_window_advance(&win, t)
            if win.nobs == 0 or win.nobs < min_periods:
                lo_out[t] = NAN
                hi_out[t] = NAN
            else:
                lo_out[t] = _window_quantile(&win, lower_q)
                hi_out[t] = _window_quantile(&win, upper_q)
        gr_window_free(&win)
    return lower, upper


def fractal_pivots(const f8[::1] high, const f8[::1] low, idx_t order):
    """(pivot_high, pivot_low) as bool arrays. Bar i is a pivot high when high[i] is
    strictly greater than each of the ``order`` highs on either side (pivot low: strictly
    below the lows); the first and last ``order`` bars never qualify, NaN never does."""
    cdef idx_t n = high.shape[0]
    ph = np.zeros(n, dtype=np.uint8)
    pl = np.zeros(n, dtype=np.uint8)
    cdef uint8_t[::1] ph_v = ph, pl_v = pl
    if n > 0:
        with nogil:
            gr_fractal_pivots(&high[0], &low[0], n, order, &ph_v[0], &pl_v[0])
    return ph.view(np.bool_), pl.view(np.bool_)


def cluster_sorted_levels(const f8[::1] levels, f8 tolerance):
    """(centers, counts) of ascending, NaN-free ``levels`` chained into clusters: a level
    joins the current cluster when it is within ``tolerance`` of the previous level.
    Centers are the member means (summed in ascending order)."""
    cdef idx_t n = levels.shape[0], c = 0
    centers = np.empty(n, dtype=np.float64)
    counts = np.empty(n, dtype=np.int64)
    cdef f8[::1] cen = centers
    cdef int64_t[::1] cnt = counts
    with nogil:
        if n > 0:
            c = gr_cluster_sorted(&levels[0], n, tolerance, &cen[0], &cnt[0])
    return centers[:c].copy(), counts[:c].copy()


def touch_counts(const f8[::1] high, const f8[::1] low, f8 lower, f8 upper, f8 tolerance):
    """(n_lower, n_upper): episodes of consecutive bars whose [low, high] reaches within
    ``tolerance`` of the bound (``low <= bound + tol`` and ``high >= bound - tol``)."""
    cdef idx_t n = high.shape[0], i
    cdef int64_t n_lower = 0, n_upper = 0
    cdef bint at_lower, at_upper, was_lower = False, was_upper = False
    with nogil:
        for i in range(n):
            at_lower = low[i] <= lower + tolerance and high[i] >= lower - tolerance
            at_upper = high[i] >= upper - tolerance and low[i] <= upper + tolerance
            if at_lower and not was_lower:
                n_lower += 1
            if at_upper and not was_upper:
                n_upper += 1
            was_lower = at_lower
            was_upper = at_upper
    return n_lower, n_upper


def volume_profile(const f8[::1] price, const f8[::1] volume, const f8[::1] edges):
    """Volume per price bin over ``edges`` (ascending, evenly spaced, >= 2 of them): bin b
    holds prices with edges[b] <= price < edges[b+1], the last bin also its right edge
    (``numpy.histogram`` convention). Prices outside the edges, NaN prices and NaN
    volumes are ignored. Volumes are summed in input order."""
    cdef idx_t n = price.shape[0], bins = edges.shape[0] - 1, i, b
    cdef f8 first = edges[0], last = edges[bins], p, scale
    out = np.zeros(bins, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        scale = bins / (last - first)
        for i in range(n):
            p = price[i]
            if not (p >= first and p <= last) or volume[i] != volume[i]:
                continue
            o[gr_profile_bin(p, first, scale, &edges[0], bins)] += volume[i]
    return out


def value_area(const f8[::1] edges, const f8[::1] volume_per_bin, f8 share):
    """(poc_price, va_low, va_high). The point of control is the first bin with the
    largest volume (price = its midpoint); the value area grows from it one bin at a time
    towards the neighbour with more volume (upwards on a tie) until it holds at least
    ``share`` of the total. NaN triple when the total volume is not positive."""
    cdef int64_t bins = volume_per_bin.shape[0], poc = 0, a = 0, b = 0
    if bins == 0 or not gr_value_area(&volume_per_bin[0], bins, share, &poc, &a, &b):
        return NAN, NAN, NAN
    return 0.5 * (edges[poc] + edges[poc + 1]), edges[a], edges[b + 1]
