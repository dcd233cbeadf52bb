"""The sliding-moment loops of ``csrc/gridregime/sliding.h`` and what their callers share.

Sliding sums are kept on values shifted by a reference ``K`` (a recent window mean), so a
large common offset (prices near 1e9) costs no precision; the sums are recomputed exactly
from the window when cancellation would lose more than two digits, and periodically.
"""
from gridregime._libs._types cimport f8, idx_t

# CANCEL_RATIO: recompute the sliding sums exactly when the centred sum of squares falls below
# this share of the largest raw (shifted) sum of squares seen since the last recomputation;
# RECOMPUTE_EVERY: ... and at least every max(window, RECOMPUTE_EVERY) steps, to bound error
# accumulation. C macros (sliding.h), so the compiler folds them into the loops.
cdef extern from "gridregime/sliding.h" nogil:
    const f8 CANCEL_RATIO "GR_CANCEL_RATIO"
    const idx_t RECOMPUTE_EVERY "GR_RECOMPUTE_EVERY"

    idx_t gr_finite_end(const f8* x, idx_t i, idx_t n) noexcept

    ctypedef struct gr_var_state:
        f8 k, s1, s2, s2max
        idx_t since
    idx_t gr_var_steps(gr_var_state* st, const f8* x, idx_t i, idx_t i1, idx_t w, f8 inv_w,
                       idx_t every, f8* out) noexcept
    void gr_var_exact(gr_var_state* st, const f8* x, idx_t lo, idx_t w, f8 ref,
                      f8 inv_w) noexcept
    void gr_var_finish(f8* out, idx_t m, f8 inv_dof, int take_sqrt) noexcept

    ctypedef struct gr_mean_state:
        f8 k, s1, prev
        idx_t run, since
    idx_t gr_mean_steps(gr_mean_state* st, const f8* x, idx_t i, idx_t n, idx_t w, f8 inv_w,
                        idx_t every, f8* out) noexcept

    ctypedef struct gr_ac1_state:
        f8 k, sa, saa, sab, amax, va, pa, po, pv
        idx_t ca, since
    idx_t gr_ac1_steps(gr_ac1_state* st, const f8* x, idx_t i, idx_t i1, idx_t w, f8 inv_w,
                       idx_t every, idx_t i0, f8* bva, f8* bvb, f8* bcv, idx_t* cb) noexcept
    void gr_ac1_exact(gr_ac1_state* st, const f8* x, idx_t t, idx_t w, f8 inv_w, f8* va,
                      f8* vb, f8* cov) noexcept
    void gr_correlation(const f8* cov, const f8* va, const f8* vb, idx_t m, f8* out) noexcept

    ctypedef struct gr_vr_state:
        f8 k1, a1, b1, k2, a2, b2, top1, top2
        idx_t last, since
    void gr_qsums(const f8* r, idx_t m, idx_t q, f8 c, f8* out) noexcept
    idx_t gr_vr_steps(gr_vr_state* st, const f8* r, const f8* qn, idx_t m, idx_t i, idx_t i1,
                      idx_t w, f8 c, f8 inv_w, f8 inv_m, idx_t every, f8* o) noexcept
    void gr_variance_ratio(const f8* v, idx_t m, f8 factor, f8* out) noexcept


cdef enum:
    WIN_BLOCK = 256  # outputs per block of the window kernels' steady state


cdef inline idx_t recompute_every(idx_t w) noexcept nogil:
    """Most steps between two exact recomputations of a window of ``w`` values' sums."""
    return w if w > RECOMPUTE_EVERY else RECOMPUTE_EVERY
