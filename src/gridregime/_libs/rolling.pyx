# cython: boundscheck=False, wraparound=False, cdivision=True
"""Rolling and recursive indicator kernels over contiguous float64 arrays.

Kernels validate nothing (see :mod:`gridregime.kernels` for the checked wrappers); they
allocate the output with the GIL held and run their loop without it. NaN marks warm-up.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, fabs, fmax, isnan

from gridregime._libs._types cimport f8, idx_t

cnp.import_array()


def true_range(const f8[::1] high, const f8[::1] low, const f8[::1] close):
    """TR[0] = high - low; TR[i] = max(high, close[i-1]) - min(low, close[i-1])."""
    cdef idx_t n = high.shape[0], i
    cdef f8 pc
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        if n > 0:
            o[0] = high[0] - low[0]
        for i in range(1, n):
            pc = close[i - 1]
            o[i] = fmax(high[i], pc) - (low[i] if low[i] < pc else pc)
    return out


def atr(const f8[::1] high, const f8[::1] low, const f8[::1] close, idx_t period):
    """Wilder ATR with TA-Lib seeding: the first value (index ``period``) is the mean of
    TR[1..period]; then ATR = ATR_prev + (TR - ATR_prev) / period."""
    cdef idx_t n = high.shape[0], i
    cdef f8 acc = 0.0, pc, tr, a, inv = 1.0 / period
    out = np.full(n, np.nan, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        if n > period:
            for i in range(1, period + 1):
                pc = close[i - 1]
                acc += fmax(high[i], pc) - (low[i] if low[i] < pc else pc)
            a = acc * inv
            o[period] = a
            for i in range(period + 1, n):
                pc = close[i - 1]
                tr = fmax(high[i], pc) - (low[i] if low[i] < pc else pc)
                a = a + (tr - a) * inv
                o[i] = a
    return out
