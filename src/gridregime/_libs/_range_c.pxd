# The plain-C helpers (csrc/gridregime/*.h) that the range primitives (ranges.pyx) and the range
# discovery (discovery.pyx) share, declared once so both bin, cluster and find pivots alike.
from libc.stdint cimport int64_t, uint8_t

from gridregime._libs._types cimport f8


cdef extern from "gridregime/profile.h" nogil:
    int64_t gr_profile_bin(f8 p, f8 first, f8 scale, const f8 *edges, int64_t bins)
    int gr_value_area(const f8 *prof, int64_t bins, f8 share, int64_t *poc, int64_t *lo, int64_t *hi)


cdef extern from "gridregime/cluster.h" nogil:
    int64_t gr_cluster_sorted(const f8 *levels, int64_t n, f8 tol, f8 *centers, int64_t *counts)


cdef extern from "gridregime/pivots.h" nogil:
    void gr_fractal_pivots(const f8 *high, const f8 *low, Py_ssize_t n, Py_ssize_t order, uint8_t *is_high,
                           uint8_t *is_low)
