# cython: cdivision=True
"""Log returns and their serial dependence: rolling autocorrelation and variance ratio.

Kernels validate nothing (see :mod:`gridregime.kernels.rolling` for the checked wrappers);
they allocate the output with the GIL held and run their loop without it. A statistic is
NaN when its window holds a NaN or +/-inf (tested here, so the wrappers skip the scan for
infinities), and depends on its window only. Each run of finite values is processed in
blocks: a serial loop slides the sums (``csrc/gridregime/sliding.h``, see ``_sliding.pxd``),
then a vectorised pass turns them into outputs.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, log
from libc.string cimport memmove, memset

from gridregime._libs._float_ops cimport fast_max, fill_nan, is_finite
from gridregime._libs._sliding cimport (
    CANCEL_RATIO,
    WIN_BLOCK,
    gr_ac1_exact,
    gr_ac1_state,
    gr_ac1_steps,
    gr_correlation,
    gr_finite_end,
    gr_qsums,
    gr_variance_ratio,
    gr_vr_state,
    gr_vr_steps,
    recompute_every,
)
from gridregime._libs._types cimport f8, idx_t

cnp.import_array()


def log_returns(const f8[::1] x):
    """r[i] = log(x[i] / x[i-1]); r[0] = NaN; NaN where either price is NaN or <= 0."""
    cdef idx_t n = x.shape[0], i
    cdef f8 a, b
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        if n:
            o[0] = NAN
        for i in range(1, n):
            a = x[i - 1]
            b = x[i]
            if a > 0.0 and b > 0.0:  # False for NaN too
                o[i] = log(b / a)
            else:
                o[i] = NAN
    return out


cdef inline idx_t _finite_run(const f8* x, idx_t i, idx_t n, f8* o, idx_t* end) noexcept nogil:
    """The next run of finite values from i: returns its start s and sets ``end`` past its
    last value; the outputs of the missing values before it (o[i .. s - 1]) are NaN."""
    cdef idx_t s = i
    while s < n and not is_finite(x[s]):
        o[s] = NAN
        s += 1
    end[0] = gr_finite_end(x, s, n)
    return s


cdef inline void _autocorr_sums(const f8* x, idx_t t, idx_t w, idx_t lag, f8 inv_w,
                                f8* ka, f8* kb, f8* psa, f8* psb, f8* psaa, f8* psbb,
                                f8* psab) noexcept nogil:
    """Exact sums of window t (a = x[t-w+1..t], b = a lagged), each side centred on its own
    mean (ka, kb): sa, sb, saa, sbb and sab."""
    cdef idx_t j
    cdef f8 v = x[t], da = 0.0, db = 0.0, a, b, sa = 0.0, sb = 0.0, saa = 0.0, sbb = 0.0, sab = 0.0
    for j in range(t - w + 1, t + 1):
        da += x[j] - v
        db += x[j - lag] - v
    ka[0] = v + da * inv_w
    kb[0] = v + db * inv_w
    for j in range(t - w + 1, t + 1):
        a = x[j] - ka[0]
        b = x[j - lag] - kb[0]
        sa += a
        sb += b
        saa += a * a
        sbb += b * b
        sab += a * b
    psa[0] = sa
    psb[0] = sb
    psaa[0] = saa
    psbb[0] = sbb
    psab[0] = sab


cdef void _autocorr_run(const f8* x, idx_t s, idx_t e, idx_t w, idx_t lag, f8* o) noexcept nogil:
    """Outputs s + w + lag - 1 .. e - 1 of a run of finite values x[s..e-1].

    Sliding sums in blocks: the serial loop keeps the sums (re-centred exactly when
    cancellation threatens, and every ``max(w, RECOMPUTE_EVERY)`` steps) and stores each
    window's centred moments; a vectorised loop turns them into correlations. A side is
    constant when none of its values differs from its predecessor (the index of each side's
    last change is tracked), and then the output is NaN.
    """
    cdef idx_t t0 = s + w + lag - 1, i, j, i0, m, ca = s, cb = s, since = 0
    cdef idx_t every = recompute_every(w)
    cdef f8 inv_w = 1.0 / w, ka = 0.0, kb = 0.0, sa, sb, saa, sbb, sab, amax, bmax
    cdef f8 v, vl, vo, vol, a, b, ao, bo, va, vb
    cdef f8 bva[WIN_BLOCK]
    cdef f8 bvb[WIN_BLOCK]
    cdef f8 bcv[WIN_BLOCK]
    _autocorr_sums(x, t0, w, lag, inv_w, &ka, &kb, &sa, &sb, &saa, &sbb, &sab)
    amax = saa
    bmax = sbb
    # ca, cb: the last index j <= i (resp. i - lag) with x[j] != x[j-1]
    for j in range(s + 1, t0 + 1):
        if x[j] != x[j - 1]:
            ca = j
        if j <= t0 - lag and x[j] != x[j - 1]:
            cb = j
    i0 = t0
    while i0 < e:
        m = WIN_BLOCK if e - i0 > WIN_BLOCK else e - i0
        for j in range(m):
            i = i0 + j
            if i > t0:
                v = x[i]
                vl = x[i - lag]
                vo = x[i - w]
                vol = x[i - w - lag]
                a = v - ka
                b = vl - kb
                ao = vo - ka
                bo = vol - kb
                sa += a - ao
                sb += b - bo
                saa += a * a - ao * ao
                sbb += b * b - bo * bo
                sab += a * b - ao * bo
                amax = fast_max(amax, saa)
                bmax = fast_max(bmax, sbb)
                ca = i if v != x[i - 1] else ca
                cb = i - lag if vl != x[i - lag - 1] else cb
                since += 1
            va = saa - sa * sa * inv_w
            vb = sbb - sb * sb * inv_w
            # (rarely true: predictable branches are cheaper than combining the flags)
            if (ca <= i - w + 1 or cb <= i - lag - w + 1 or va < CANCEL_RATIO * amax
                    or vb < CANCEL_RATIO * bmax or since >= every):
                if ca <= i - w + 1 or cb <= i - lag - w + 1:
                    va = NAN  # a constant side: no correlation
                else:
                    _autocorr_sums(x, i, w, lag, inv_w, &ka, &kb, &sa, &sb, &saa, &sbb, &sab)
                    amax = saa
                    bmax = sbb
                    since = 0
                    va = saa - sa * sa * inv_w
                    vb = sbb - sb * sb * inv_w
            bva[j] = va
            bvb[j] = vb
            bcv[j] = sab - sa * sb * inv_w
        gr_correlation(bcv, bva, bvb, m, o + i0)
        i0 += m


cdef void _autocorr1_run(const f8* x, idx_t s, idx_t e, idx_t w, f8* o) noexcept nogil:
    """_autocorr_run for lag 1: both sides on one centre, so the lagged side's sums are the
    unlagged side's of the step before (see gr_ac1_steps) and only three sums slide."""
    cdef idx_t t0 = s + w, i, i0, m, cb = s, every = recompute_every(w)
    cdef f8 inv_w = 1.0 / w
    cdef gr_ac1_state st
    cdef f8 bva[WIN_BLOCK]
    cdef f8 bvb[WIN_BLOCK]
    cdef f8 bcv[WIN_BLOCK]
    # st.ca: the last index j <= t0 with x[j] != x[j-1]; cb: the same for j <= t0 - 1
    st.ca = s
    for i in range(s + 1, t0 + 1):
        if x[i] != x[i - 1]:
            cb = st.ca
            st.ca = i
    if st.ca <= t0 - 1:
        cb = st.ca
    gr_ac1_exact(&st, x, t0, w, inv_w, &bva[0], &bvb[0], &bcv[0])
    if st.ca <= t0 - w + 1 or cb <= t0 - w:
        bva[0] = NAN
    i0 = t0
    i = t0 + 1
    while i0 < e:
        m = WIN_BLOCK if e - i0 > WIN_BLOCK else e - i0
        while i < i0 + m:
            i = gr_ac1_steps(&st, x, i, i0 + m, w, inv_w, every, i0, bva, bvb, bcv, &cb)
            if i == i0 + m:
                break
            if st.ca <= i - w + 1 or cb <= i - w:
                bva[i - i0] = NAN  # a constant side: no correlation
                bvb[i - i0] = 0.0
                bcv[i - i0] = 0.0
            else:
                gr_ac1_exact(&st, x, i, w, inv_w, &bva[i - i0], &bvb[i - i0], &bcv[i - i0])
            i += 1
        gr_correlation(bcv, bva, bvb, m, o + i0)
        i0 += m


def rolling_autocorr(const f8[::1] x, idx_t window, idx_t lag):
    """Pearson correlation of x[t-window+1..t] with x[t-window+1-lag..t-lag]; NaN when a
    window holds a NaN or +/-inf, or either side is constant."""
    cdef idx_t n = x.shape[0], w = window, i = 0, s, e, span = window + lag
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    if n == 0:
        return out
    cdef const f8* xp = &x[0]
    cdef f8* op = &o[0]
    with nogil:
        while i < n:
            s = _finite_run(xp, i, n, op, &e)
            fill_nan(op, s, s + span - 1 if s + span - 1 < e else e)
            if s + span - 1 < e:
                if lag == 1:
                    _autocorr1_run(xp, s, e, w, op)
                else:
                    _autocorr_run(xp, s, e, w, lag, op)
            i = e
    return out


cdef enum:
    VR_SPARE = 1024  # q-sum buffer: window q-sums plus this many before shifting them down


cdef inline void _vr_sums(const f8* r, const f8* qw, idx_t i, idx_t w, idx_t m, f8 c,
                   f8* st) noexcept nogil:
    """Exact sums of window i: returns r[i-w+1..i] (relative to c) centred on their mean,
    and the window's q-sums qw[0..m-1] (oldest first) centred on theirs.
    st = (k1, a1, b1, k2, a2, b2)."""
    cdef idx_t j
    cdef f8 v = r[i], d = 0.0, y, a = 0.0, b = 0.0, sq = qw[m - 1], k
    for j in range(i - w + 1, i + 1):
        d += r[j] - v
    k = (v - c) + d / w
    for j in range(i - w + 1, i + 1):
        y = (r[j] - c) - k
        a += y
        b += y * y
    st[0] = k
    st[1] = a
    st[2] = b
    d = 0.0
    for j in range(m):
        d += qw[j] - sq
    k = sq + d / m
    a = 0.0
    b = 0.0
    for j in range(m):
        y = qw[j] - k
        a += y
        b += y * y
    st[3] = k
    st[4] = a
    st[5] = b


cdef void _vr_run(const f8* r, idx_t s, idx_t e, idx_t q, idx_t w, f8 c, f8* qs,
                  f8* o) noexcept nogil:
    """Outputs s + w - 1 .. e - 1 of a run of finite returns r[s..e-1].

    Two sliding moment trackers (returns over ``w``, q-sums over ``m = w - q + 1``), re-centred
    exactly when cancellation threatens and every ``max(w, RECOMPUTE_EVERY)`` steps. Blocks of
    WIN_BLOCK outputs: the block's q-sums are computed first in one vectorised pass (into
    ``qs``, m + VR_SPARE long, whose last m are shifted to its start when the block would not
    fit), then the serial loop (gr_vr_steps) slides the sums, then a vectorised pass forms the
    ratios. Each q-sum is summed afresh (q adds), so it does not depend on where the run
    starts. Constant windows (no value differs from its predecessor since the last change
    index) are NaN.
    """
    cdef idx_t m = w - q + 1, size = m + VR_SPARE, t0 = s + w - 1, i, j, p, i0, nb, i1
    cdef idx_t every = recompute_every(w)
    cdef f8 inv_w = 1.0 / w, inv_m = 1.0 / m, factor = (w - 1.0) / ((m - 1.0) * q)
    cdef f8 st6[6]
    cdef gr_vr_state st
    cdef f8 bv[2 * WIN_BLOCK]  # pairs (ss1, ss2)
    memset(&st, 0, sizeof(st))  # set at step t0 before first use; zeroed to keep gcc's flow analysis quiet
    st.last = s
    for i in range(s + 1, t0 + 1):
        if r[i] != r[i - 1]:
            st.last = i
    # q-sums of bars s + q - 1 .. t0 - 1; qs[p] is always the last bar's whose sums were slid
    gr_qsums(r + s + q - 1, m - 1, q, c, qs)
    p = m - 2
    i0 = t0
    i = t0
    while i0 < e:
        nb = WIN_BLOCK if e - i0 > WIN_BLOCK else e - i0
        i1 = i0 + nb
        if p + nb >= size:
            memmove(qs, qs + p + 1 - m, m * sizeof(f8))
            p = m - 1
        gr_qsums(r + i0, nb, q, c, qs + p + 1)
        while i < i1:
            if i > t0:
                j = gr_vr_steps(&st, r, qs + p + 1, m, i, i1, w, c, inv_w, inv_m, every,
                                bv + 2 * (i - i0))
                p += j - i
                i = j
                if i == i1:
                    break
                if st.last <= i - w + 1:  # constant returns: no variance to compare
                    p += 1
                    bv[2 * (i - i0)] = NAN
                    bv[2 * (i - i0) + 1] = 0.0
                    i += 1
                    continue
            p += 1
            _vr_sums(r, qs + p - m + 1, i, w, m, c, st6)
            st.k1 = st6[0]
            st.a1 = st6[1]
            st.b1 = st6[2]
            st.k2 = st6[3]
            st.a2 = st6[4]
            st.b2 = st6[5]
            st.top1 = st.b1
            st.top2 = st.b2
            st.since = 0
            bv[2 * (i - i0)] = st.b1 - st.a1 * st.a1 * inv_w if st.last > i - w + 1 else NAN
            bv[2 * (i - i0) + 1] = st.b2 - st.a2 * st.a2 * inv_m
            i += 1
        gr_variance_ratio(bv, nb, factor, o + i0)
        i0 = i1


def variance_ratio(const f8[::1] r, idx_t q, idx_t window):
    """var(q-bar sums of r) / (q var(r)) over each full window of finite r (ddof=1).

    The q-bar sums are the window - q + 1 overlapping sums that lie inside the window.
    NaN when the window's returns are all equal. O(n q) for the sums, O(n) otherwise.
    """
    cdef idx_t n = r.shape[0], w = window, i = 0, s, e
    cdef f8 c = NAN
    out = np.empty(n, dtype=np.float64)
    qsums = np.empty(window - q + 1 + VR_SPARE, dtype=np.float64)
    if n == 0:
        return out
    cdef f8[::1] o = out, qs = qsums
    cdef const f8* rp = &r[0]
    cdef f8* op = &o[0]
    with nogil:
        # VR is invariant to a constant added to r: values are taken relative to the first
        # finite return, which keeps the q-sums exact on offset data.
        for i in range(n):
            if is_finite(rp[i]):
                c = rp[i]
                break
        i = 0
        while i < n:
            s = _finite_run(rp, i, n, op, &e)
            fill_nan(op, s, s + w - 1 if s + w - 1 < e else e)
            if s + w - 1 < e:
                _vr_run(rp, s, e, q, w, c, &qs[0], op)
            i = e
    return out
