# cython: cdivision=True
"""Rolling percentile rank over contiguous float64 arrays.

The window is a multiset of dense integer ranks counted in a Fenwick tree (see
``csrc/gridregime/dense_window.h``): O(n log w) time, O(min(w, n)) extra memory.
Kernels validate nothing (see :mod:`gridregime.kernels.rank` for the checked wrappers);
NaN is the only missing-value marker they know.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN
from libc.stdint cimport int32_t

from gridregime._libs._dense_window cimport (
    gr_window,
    gr_window_advance,
    gr_window_count_less,
    gr_window_free,
    gr_window_init,
)
from gridregime._libs._types cimport f8, idx_t

cnp.import_array()


def rolling_percentile_rank(const f8[::1] x, idx_t window, idx_t min_periods):
    """out[t] = average rank of x[t] among the non-NaN values of x[t-window+1 .. t],
    divided by their count; NaN when x[t] is NaN or fewer than ``min_periods`` values."""
    cdef idx_t n = x.shape[0], t
    cdef int32_t r, less, nobs
    cdef gr_window win
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    cdef f8[::1] o = out
    if gr_window_init(&win, &x[0], n, window) != 0:
        raise MemoryError("rolling_percentile_rank: cannot allocate the window buffers")
    with nogil:
        for t in range(n):
            r = gr_window_advance(&win, t)
            nobs = win.nobs
            if r == 0 or nobs < min_periods:
                o[t] = NAN
            else:
                less = gr_window_count_less(&win, r)
                # average of the ranks less+1 .. less+count: exact in float64
                o[t] = (2.0 * less + win.counts[r] + 1.0) * 0.5 / nobs
        gr_window_free(&win)
    return out


def percentile_rank_last(const f8[::1] x, idx_t min_periods):
    """Percentile rank of x[-1] among the non-NaN values of x (same convention as
    :func:`rolling_percentile_rank`); NaN when x is empty, x[-1] is NaN or fewer than
    ``min_periods`` values are present. One pass, O(n)."""
    cdef idx_t n = x.shape[0], i, less = 0, equal = 0, nobs = 0
    cdef f8 last, v
    if n == 0:
        return NAN
    last = x[n - 1]
    if last != last:
        return NAN
    with nogil:
        for i in range(n):
            v = x[i]
            if v == v:
                nobs += 1
                if v < last:
                    less += 1
                elif v == last:
                    equal += 1
    if nobs < min_periods:
        return NAN
    return (2 * less + equal + 1) * 0.5 / nobs


cdef extern from "gridregime/fenwick.h" nogil:
    void fenwick_build(int32_t *tree, Py_ssize_t m)
    void fenwick_add(int32_t *tree, Py_ssize_t m, Py_ssize_t i, int32_t delta)
    int32_t fenwick_prefix(const int32_t *tree, Py_ssize_t i)
    Py_ssize_t fenwick_top(Py_ssize_t m)
    Py_ssize_t fenwick_search(const int32_t *tree, Py_ssize_t m, Py_ssize_t top, int32_t k, int32_t *rest)


cdef class _FenwickCounts:
    """Thin wrapper over ``fenwick.h`` so tests can check the data structure on its own
    (positions 1..m, int32 counts). Not part of the public API."""
    cdef object _storage
    cdef int32_t[::1] tree
    cdef readonly Py_ssize_t m

    def __init__(self, counts):
        counts = np.asarray(counts, dtype=np.int32)
        self.m = counts.shape[0]
        self._storage = np.concatenate([np.zeros(1, np.int32), counts])
        self.tree = self._storage
        fenwick_build(&self.tree[0], self.m)

    def add(self, Py_ssize_t i, int32_t delta):
        fenwick_add(&self.tree[0], self.m, i, delta)

    def prefix(self, Py_ssize_t i):
        return fenwick_prefix(&self.tree[0], i)

    def search(self, int32_t k):
        cdef int32_t rest = 0
        pos = fenwick_search(&self.tree[0], self.m, fenwick_top(self.m), k, &rest)
        return pos, rest
