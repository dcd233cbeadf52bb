# cython: cdivision=True
"""Trend statistics over price windows: least-squares line, Kaufman efficiency ratio and
mean crossings.

Kernels validate nothing (see :mod:`gridregime.kernels.rolling` for the checked wrappers);
they allocate the output with the GIL held and run their loop without it. A statistic is
NaN when its window holds a missing value, and depends on its window only (not on where
the series starts). Regression and efficiency ratio treat +/-inf as missing themselves
(their wrappers skip the scan for infinities); mean crossings relies on the wrapper turning
inf into NaN. Sums slide as described in ``_sliding.pxd``.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, fabs

from gridregime._libs._float_ops cimport fill_nan, is_finite
from gridregime._libs._sliding cimport CANCEL_RATIO, recompute_every
from gridregime._libs._types cimport f8, idx_t

cnp.import_array()

cdef extern from "gridregime/mean_crossings.h" nogil:
    idx_t gr_mean_crossings(const f8* x, idx_t w, f8 m) noexcept
    void gr_window_means8(const f8* x, idx_t i, idx_t w, f8* m) noexcept


def rolling_linreg(const f8[::1] y, idx_t window):
    """OLS of y on 0..window-1 over each full window of finite values: (slope, intercept, r2).

    The three outputs are rows of one (3, n) block (one allocation instead of three)."""
    cdef idx_t n = y.shape[0], w = window, i, j, run = 0, eq = 0, since = 0
    cdef idx_t every = recompute_every(w)
    cdef f8 v, yo, yn, k = 0.0, s1 = 0.0, s2 = 0.0, sxy = 0.0, s2max = 0.0, prev = NAN
    cdef f8 half = (w - 1) * 0.5, sxx = w * (w * w - 1.0) / 12.0, ssq, sxc, slope, r2, d
    cdef f8 inv_w = 1.0 / w, inv_sxx = 1.0 / sxx
    out = np.empty((3, n), dtype=np.float64)
    out_s, out_i, out_r = out
    cdef f8[::1] os = out_s, oi = out_i, orr = out_r
    with nogil:
        for i in range(n):
            v = y[i]
            if not is_finite(v):
                run = 0
                eq = 0
                prev = NAN
                os[i] = NAN
                oi[i] = NAN
                orr[i] = NAN
                continue
            run += 1
            if v == prev:
                eq += 1
            else:
                eq = 1
                prev = v
            if run == 1:
                k = v
                s1 = 0.0
                s2 = 0.0
                sxy = 0.0
                s2max = 0.0
                since = 0
            yn = v - k
            if run <= w:
                sxy += (run - 1) * yn
                s1 += yn
                s2 += yn * yn
            else:
                yo = y[i - w] - k
                sxy += yo - s1 + (w - 1) * yn
                s1 += yn - yo
                s2 += yn * yn - yo * yo
            if s2 > s2max:
                s2max = s2
            since += 1
            if run < w:
                os[i] = NAN
                oi[i] = NAN
                orr[i] = NAN
                continue
            if eq >= w:
                os[i] = 0.0
                oi[i] = v
                orr[i] = 0.0
                continue
            ssq = s2 - s1 * s1 * inv_w
            if ssq < CANCEL_RATIO * s2max or since >= every:
                d = 0.0
                for j in range(w):
                    d += y[i - w + 1 + j] - v
                k = v + d * inv_w
                s1 = 0.0
                s2 = 0.0
                sxy = 0.0
                for j in range(w):
                    yn = y[i - w + 1 + j] - k
                    s1 += yn
                    s2 += yn * yn
                    sxy += j * yn
                s2max = s2
                since = 0
                ssq = s2 - s1 * s1 * inv_w
            sxc = sxy - half * s1
            slope = sxc * inv_sxx
            os[i] = slope
            oi[i] = (k + s1 * inv_w) - slope * half
            if ssq > 0.0:
                r2 = slope * sxc / ssq
                orr[i] = r2 if r2 < 1.0 else 1.0
            else:
                orr[i] = 0.0
    return out_s, out_i, out_r


def efficiency_ratio(const f8[::1] x, idx_t window):
    """|x[t] - x[t-window]| / sum |x[j] - x[j-1]| over j in (t-window, t]; 0 when flat."""
    cdef idx_t n = x.shape[0], w = window, i, j, run = 0, moving = 0, since = 0
    cdef idx_t every = recompute_every(w)
    cdef f8 v, d, vol = 0.0, volmax = 0.0, e
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    with nogil:
        for i in range(n):
            v = x[i]
            if not is_finite(v):
                run = 0
                o[i] = NAN
                continue
            run += 1
            if run == 1:
                vol = 0.0
                volmax = 0.0
                moving = 0
                since = 0
                o[i] = NAN
                continue
            d = fabs(v - x[i - 1])
            vol += d
            moving += d != 0.0
            if run > w + 1:
                d = fabs(x[i - w] - x[i - w - 1])
                vol -= d
                moving -= d != 0.0
            if vol > volmax:
                volmax = vol
            since += 1
            if run <= w:
                o[i] = NAN
                continue
            if moving == 0:
                o[i] = 0.0
                continue
            if vol < CANCEL_RATIO * volmax or since >= every:
                vol = 0.0
                for j in range(i - w + 1, i + 1):
                    vol += fabs(x[j] - x[j - 1])
                volmax = vol
                since = 0
            e = fabs(v - x[i - w]) / vol
            o[i] = e if e < 1.0 else 1.0
    return out


def rolling_mean_crossings(const f8[::1] x, idx_t window):
    """Number of sign changes of x - mean within each full, NaN-free window.

    The mean is the window's left-to-right sum divided by ``window``; values equal to the
    mean are skipped (a touch is a crossing only when the sign differs on the other side).
    O(n * window), eight windows at a time.
    """
    cdef idx_t n = x.shape[0], w = window, i, k, s, e
    cdef f8 m
    cdef f8 m8[8]
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    cdef f8[::1] o = out
    cdef const f8* xp = &x[0]
    cdef f8* op = &o[0]
    with nogil:
        i = 0
        while i < n:
            # a run of non-NaN values x[s .. e-1]; its first w-1 outputs are warm-up
            s = i
            while s < n and xp[s] != xp[s]:
                op[s] = NAN
                s += 1
            e = s
            while e < n and xp[e] == xp[e]:
                e += 1
            i = s + w - 1 if s + w - 1 < e else e
            fill_nan(op, s, i)
            while i + 7 < e:
                gr_window_means8(xp, i, w, m8)
                for k in range(8):
                    op[i + k] = gr_mean_crossings(xp + i + k - w + 1, w, m8[k])
                i += 8
            while i < e:
                m = 0.0
                for k in range(i - w + 1, i + 1):
                    m += xp[k]
                op[i] = gr_mean_crossings(xp + i - w + 1, w, m / w)
                i += 1
            i = e
    return out
