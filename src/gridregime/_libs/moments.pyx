# cython: cdivision=True
"""Rolling mean and standard deviation with NaN skipping, and the Bollinger bandwidth.

Kernels validate nothing (see :mod:`gridregime.kernels.rolling` for the checked wrappers);
they allocate the output with the GIL held and run their loop without it.

NaN and +/-inf are missing values (the kernels test this themselves, sparing the wrappers a
scan for infinities). ``rolling_mean`` and ``rolling_std`` skip them and need
``min_periods`` valid values (pandas semantics); the Bollinger bandwidth needs full windows.
Sums slide as described in ``_sliding.pxd`` (sums centred on a recent mean). Windows
whose valid values are all equal are detected exactly (run of equal values), so their
variance is exactly 0 and their mean exactly that value.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, sqrt

from gridregime._libs._float_ops cimport is_finite
from gridregime._libs._sliding cimport (
    CANCEL_RATIO,
    WIN_BLOCK,
    gr_mean_state,
    gr_mean_steps,
    gr_var_exact,
    gr_var_finish,
    gr_var_state,
    gr_var_steps,
    recompute_every,
)
from gridregime._libs._types cimport f8, idx_t

cnp.import_array()


cdef inline void _recentre(const f8* x, idx_t lo, idx_t hi, f8 ref, f8 inv_cnt,
                           f8* k, f8* s1, f8* s2) noexcept nogil:
    """Exact two-pass sums of the valid x[lo..hi], re-centred on their mean (``ref`` is any
    value near them, ``inv_cnt`` 1 / their count)."""
    cdef idx_t j
    cdef f8 d = 0.0, y, a = 0.0, b = 0.0
    for j in range(lo, hi + 1):
        if is_finite(x[j]):
            d += x[j] - ref
    k[0] = ref + d * inv_cnt
    for j in range(lo, hi + 1):
        if is_finite(x[j]):
            y = x[j] - k[0]
            a += y
            b += y * y
    s1[0] = a
    s2[0] = b


cdef inline void _outputs(const f8* x, idx_t i, idx_t lo, idx_t cnt, idx_t ddof, f8 prev,
                          f8 inv_cnt, f8 inv_dof, idx_t every, f8* k, f8* s1, f8* s2,
                          f8* s2max, idx_t* since, f8* mean_out, f8* var_out,
                          bint take_sqrt) noexcept nogil:
    """Mean and/or variance at step i, whose window x[lo..i] holds ``cnt`` valid values that
    are not all equal. The sums are first recomputed exactly when cancellation threatens
    the variance, or when the periodic recomputation is due."""
    cdef f8 ssq = s2[0] - s1[0] * s1[0] * inv_cnt, var
    if (var_out != NULL and ssq < CANCEL_RATIO * s2max[0]) or since[0] >= every:
        _recentre(x, lo, i, prev, inv_cnt, k, s1, s2)
        s2max[0] = s2[0]
        since[0] = 0
        ssq = s2[0] - s1[0] * s1[0] * inv_cnt
    if mean_out != NULL:
        mean_out[i] = k[0] + s1[0] * inv_cnt
    if var_out != NULL:
        if cnt > ddof:
            var = ssq * inv_dof if ssq > 0.0 else 0.0
            var_out[i] = sqrt(var) if take_sqrt else var
        else:
            var_out[i] = NAN


cdef inline void _moments(const f8* x, idx_t n, idx_t w, idx_t minp, idx_t ddof,
                          f8* mean_out, f8* var_out, bint take_sqrt) noexcept nogil:
    """Rolling mean and/or variance over the last ``w`` positions, NaN skipped.

    Missing values are NaN and +/-inf (so the wrappers need no scan for infinities).
    Output is NaN when fewer than ``minp`` values are valid (variance: also when the count
    is <= ddof). A window whose valid values are all equal gets exactly that value as mean
    and exactly 0 as variance. Either output pointer may be NULL; ``take_sqrt`` turns the
    variance into a standard deviation. Full windows of valid values run in steady-state
    loops: the mean alone and the variance alone each in C (gr_mean_steps, gr_var_steps),
    both together here.
    """
    cdef idx_t i = 0, cnt = 0, since = 0, run = 0, every = recompute_every(w)
    cdef idx_t inv_for = -1, j, i1
    cdef bint add, rem
    cdef gr_var_state st
    cdef gr_mean_state ms
    cdef f8 v, vo, yn, yo, k = 0.0, s1 = 0.0, s2 = 0.0, s2max = 0.0, prev = NAN
    cdef f8 inv_cnt = 0.0, inv_dof = 0.0, inv_w = 1.0 / w
    cdef f8 inv_dof_w = 1.0 / (w - ddof) if w > ddof else NAN
    while i < n:
        # --- general step: NaN entering or leaving, partial windows -------------------
        v = x[i]
        add = is_finite(v)
        yn = 0.0
        if add:
            yn = v - k
            if v == prev:
                run += 1
            else:
                run = 1
                prev = v
        rem = False
        yo = 0.0
        if i >= w:
            vo = x[i - w]
            rem = is_finite(vo)
            if rem:
                yo = vo - k
        # one add per sum on the dependency chain
        s1 += yn - yo
        if var_out != NULL:  # (folded away for the mean alone)
            s2 += yn * yn - yo * yo
        cnt += add - rem
        if cnt < minp or cnt == 0:
            if cnt == 0:
                s1 = 0.0
                s2 = 0.0
            if mean_out != NULL:
                mean_out[i] = NAN
            if var_out != NULL:
                var_out[i] = NAN
            i += 1
            continue
        if s2 > s2max:
            s2max = s2
        since += 1
        if run >= cnt:  # every valid value in the window is the same
            if mean_out != NULL:
                mean_out[i] = prev
            if var_out != NULL:
                var_out[i] = 0.0 if cnt > ddof else NAN
        else:
            if cnt != inv_for:  # divisions only when the count changes
                inv_for = cnt
                inv_cnt = 1.0 / cnt
                inv_dof = 1.0 / (cnt - ddof) if cnt > ddof else NAN
            _outputs(x, i, i - w + 1 if i >= w else 0, cnt, ddof, prev, inv_cnt, inv_dof, every,
                     &k, &s1, &s2, &s2max, &since, mean_out, var_out, take_sqrt)
        i += 1
        if cnt != w:
            continue
        # --- steady state: full window, valid values entering and leaving -------------
        if mean_out == NULL:  # variance alone (folded): serial sums, then a vectorised finish
            st.k = k
            st.s1 = s1
            st.s2 = s2
            st.s2max = s2max
            st.since = since
            j = i
            while i < n:
                j = i
                i1 = i + WIN_BLOCK if n - i > WIN_BLOCK else n
                while True:
                    i = gr_var_steps(&st, x, i, i1, w, inv_w, every, var_out)
                    if i == i1 or not is_finite(x[i]):
                        break
                    gr_var_exact(&st, x, i - w + 1, w, x[i], inv_w)
                    var_out[i] = st.s2 - st.s1 * st.s1 * inv_w
                    i += 1
                gr_var_finish(var_out + j, i - j, inv_dof_w, take_sqrt)
                if i < i1:
                    break
            k = st.k
            s1 = st.s1
            s2 = st.s2
            s2max = st.s2max
            since = st.since
            # the run of equal values ending at i - 1, as far as the general step needs it
            # (it compares the run with a count of at most w)
            prev = x[i - 1]
            run = 1
            while run < w and x[i - 1 - run] == prev:
                run += 1
            continue
        if var_out == NULL:  # mean alone: the sliding loop in C, the exact recomputation here
            ms.k = k
            ms.s1 = s1
            ms.prev = prev
            ms.run = run
            ms.since = since
            while True:
                i = gr_mean_steps(&ms, x, i, n, w, inv_w, every, mean_out)
                if i == n or not (is_finite(x[i]) and is_finite(x[i - w])):
                    break
                _recentre(x, i - w + 1, i, ms.prev, inv_w, &ms.k, &ms.s1, &s2)
                ms.since = 0
                mean_out[i] = ms.k + ms.s1 * inv_w
                i += 1
            k = ms.k
            s1 = ms.s1
            prev = ms.prev
            run = ms.run
            since = ms.since
            continue
        while i < n:
            v = x[i]
            vo = x[i - w]
            if (v - v) + (vo - vo) != 0.0:  # either is NaN or infinite
                break
            yn = v - k
            yo = vo - k
            s1 += yn - yo
            if var_out != NULL:
                s2 += yn * yn - yo * yo
            if v == prev:
                run += 1
            else:
                run = 1
                prev = v
            if s2 > s2max:
                s2max = s2
            since += 1
            if run >= w:
                if mean_out != NULL:
                    mean_out[i] = prev
                if var_out != NULL:
                    var_out[i] = 0.0
                i += 1
                continue
            _outputs(x, i, i - w + 1, w, ddof, prev, inv_w, inv_dof_w, every,
                     &k, &s1, &s2, &s2max, &since, mean_out, var_out, take_sqrt)
            i += 1


def rolling_mean(const f8[::1] x, idx_t window, idx_t min_periods):
    """Mean of the valid values among the last ``window``; NaN below ``min_periods``."""
    cdef idx_t n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    if n:
        with nogil:
            _moments(&x[0], n, window, min_periods, 0, &o[0], NULL, False)
    return out


def rolling_std(const f8[::1] x, idx_t window, idx_t min_periods, idx_t ddof):
    """Standard deviation (``ddof``) of the valid values among the last ``window``."""
    cdef idx_t n = x.shape[0], i
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    if n:
        with nogil:
            _moments(&x[0], n, window, min_periods, ddof, NULL, &o[0], True)
    return out


def bollinger_bandwidth(const f8[::1] x, idx_t window, f8 k):
    """(upper - lower) / middle = 2 k std0 / mean over full windows (population std)."""
    cdef idx_t n = x.shape[0], i
    out = np.empty(n, dtype=np.float64)
    var = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out, vv = var
    cdef f8 m
    if n:
        with nogil:
            _moments(&x[0], n, window, window, 0, &o[0], &vv[0], True)
            for i in range(n):
                m = o[i]
                if m == m and m != 0.0:
                    o[i] = 2.0 * k * vv[i] / m
                else:
                    o[i] = NAN
    return out
