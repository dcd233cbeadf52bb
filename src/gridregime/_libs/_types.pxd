# Shared C typedefs for the compiled kernels.
from numpy cimport float64_t, int64_t, intp_t

ctypedef float64_t f8
ctypedef intp_t idx_t
