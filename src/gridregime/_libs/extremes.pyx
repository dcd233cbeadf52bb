# cython: cdivision=True
"""Rolling maximum and minimum over contiguous float64 arrays.

The kernel validates nothing (see :mod:`gridregime.kernels.rolling` for the checked
wrappers); it allocates the output with the GIL held and runs its loop without it. A window
holding a NaN gives NaN (the wrappers turn +/-inf into NaN).
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN

from gridregime._libs._types cimport f8, idx_t

cnp.import_array()


cdef void _extreme(const f8* x, idx_t n, idx_t w, bint want_max, idx_t* dq, f8* out) noexcept nogil:
    """Monotonic deque of indices in a ring buffer of capacity ``w``."""
    cdef idx_t i, head = 0, size = 0, last_nan = -1 - w, back
    cdef f8 v
    for i in range(n):
        v = x[i]
        if v != v:
            last_nan = i
            size = 0
        else:
            # drop the front when it leaves the window
            if size and dq[head] <= i - w:
                head = (head + 1) % w
                size -= 1
            while size:
                back = dq[(head + size - 1) % w]
                if (x[back] <= v) if want_max else (x[back] >= v):
                    size -= 1
                else:
                    break
            dq[(head + size) % w] = i
            size += 1
        if i - last_nan < w or i < w - 1:
            out[i] = NAN
        else:
            out[i] = x[dq[head]]


def rolling_extreme(const f8[::1] x, idx_t window, bint want_max):
    """Maximum (``want_max``) or minimum of each full, NaN-free window. O(n) amortised."""
    cdef idx_t n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    buf = np.empty(window, dtype=np.intp)
    cdef f8[::1] o = out
    cdef idx_t[::1] dq = buf
    if n:
        with nogil:
            if want_max:  # one call per constant: the compiler specialises the loop for each
                _extreme(&x[0], n, window, True, &dq[0], &o[0])
            else:
                _extreme(&x[0], n, window, False, &dq[0], &o[0])
    return out
