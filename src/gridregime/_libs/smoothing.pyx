# cython: cdivision=True
"""Exponential smoothing kernel (EMA and Wilder's smoothing) over contiguous float64 arrays.

The kernel validates nothing (see :mod:`gridregime.kernels.rolling` for the checked
wrappers); it allocates the output with the GIL held and runs its loop without it. NaN marks
warm-up and missing values; the filter restarts after every NaN (each maximal run of valid
values is smoothed as a series of its own, its own warm-up included).
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN

from gridregime._libs._types cimport f8, idx_t

cnp.import_array()


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
