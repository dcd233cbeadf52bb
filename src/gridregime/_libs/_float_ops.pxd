"""Inline float64 helpers shared by the kernels: one or two instructions each, no libm call."""
from libc.math cimport NAN

from gridregime._libs._types cimport f8, idx_t


cdef inline bint is_finite(f8 v) noexcept nogil:
    """Neither NaN nor +/-inf: v - v is 0 for finite v, NaN otherwise."""
    return v - v == 0.0


# libm's fmax/fmin are function calls; these inline to one instruction. A NaN in ``a``
# propagates (the comparison is false), which is what the kernels rely on.
cdef inline f8 fast_max(f8 a, f8 b) noexcept nogil:
    return b if b > a else a


cdef inline f8 fast_min(f8 a, f8 b) noexcept nogil:
    return b if b < a else a


cdef inline void fill_nan(f8* o, idx_t lo, idx_t hi) noexcept nogil:
    """o[lo .. hi - 1] = NaN (the warm-up of a run)."""
    cdef idx_t j
    for j in range(lo, hi):
        o[j] = NAN
