"""Declarations of ``csrc/gridregime/dense_window.h``: a sliding window over dense integer
ranks (Fenwick tree of counts), shared by the rolling rank and rolling quantile kernels."""
from libc.stdint cimport int32_t


cdef extern from "gridregime/dense_window.h" nogil:
    ctypedef struct gr_window:
        int32_t *counts
        double *value_of_rank
        int32_t nobs
    int gr_window_init(gr_window *w, const double *x, Py_ssize_t n, Py_ssize_t window)
    void gr_window_free(gr_window *w)
    int32_t gr_window_advance(gr_window *w, Py_ssize_t t)
    int32_t gr_window_count_less(const gr_window *w, int32_t r)
    int32_t gr_window_kth(const gr_window *w, int32_t k)
