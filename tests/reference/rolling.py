"""Slow, obviously-correct twins of the rolling/recursive kernels.

Plain Python loops over lists, one window at a time. Means, variances and covariances are
computed in exact rational arithmetic (``fractions.Fraction``) and rounded once at the end,
so the twins are exact references even on data with a +1e9 offset. They define the expected values (and NaN policies) the compiled kernels
are tested against; speed is no concern here.
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np

NAN = float("nan")


def _isnan(v: float) -> bool:
    return math.isnan(v)


def _out(n: int) -> list[float]:
    return [NAN] * n


def _runs(valid: list[bool]):
    """Yield (start, stop) of every maximal run of True."""
    i, n = 0, len(valid)
    while i < n:
        if not valid[i]:
            i += 1
            continue
        j = i
        while j < n and valid[j]:
            j += 1
        yield i, j
        i = j


def _exact(vals) -> list[Fraction]:
    return [Fraction(v) for v in vals]


def _mean(vals) -> Fraction:
    """Exact mean."""
    return sum(_exact(vals), Fraction(0)) / len(vals)


def _ssq(vals) -> Fraction:
    """Exact sum of squared deviations from the mean."""
    m = _mean(vals)
    return sum(((v - m) ** 2 for v in _exact(vals)), Fraction(0))


def _cov_sum(a, b) -> Fraction:
    """Exact sum of products of deviations from the means."""
    am, bm = _mean(a), _mean(b)
    return sum(((u - am) * (v - bm) for u, v in zip(_exact(a), _exact(b))), Fraction(0))


def _full_window(x: list[float], t: int, size: int) -> list[float] | None:
    """x[t-size+1 .. t] when it exists and holds no NaN."""
    if t - size + 1 < 0:
        return None
    w = x[t - size + 1 : t + 1]
    return None if any(_isnan(v) for v in w) else w


# --- true range and the recursive filters ----------------------------------------------


def true_range(high, low, close) -> np.ndarray:
    n = len(high)
    out = _out(n)
    for i in range(n):
        pc = close[i - 1] if i > 0 else NAN
        if _isnan(high[i]) or _isnan(low[i]):
            out[i] = NAN
        elif _isnan(pc):
            out[i] = high[i] - low[i]
        else:
            out[i] = max(high[i], pc) - min(low[i], pc)
    return np.array(out)


def _valid_bars(high, low, close) -> list[bool]:
    return [not (_isnan(h) or _isnan(l) or _isnan(c)) for h, l, c in zip(high, low, close)]


def atr(high, low, close, period: int) -> np.ndarray:
    """TA-Lib ATR applied to every run of bars whose three fields are valid."""
    n = len(high)
    out = _out(n)
    for s, e in _runs(_valid_bars(high, low, close)):
        tr = [None] + [
            max(high[i], close[i - 1]) - min(low[i], close[i - 1]) for i in range(s + 1, e)
        ]
        if e - s <= period:
            continue
        a = math.fsum(tr[1 : period + 1]) / period
        out[s + period] = a
        for j in range(period + 1, e - s):
            a = (a * (period - 1) + tr[j]) / period
            out[s + j] = a
    return np.array(out)


def _ta_is_zero(v: float) -> bool:
    return -1e-14 < v < 1e-14


def adx(high, low, close, period: int):
    """TA-Lib ADX / PLUS_DI / MINUS_DI applied to every run of valid bars."""
    n = len(high)
    o_adx, o_pdi, o_mdi = _out(n), _out(n), _out(n)
    for s, e in _runs(_valid_bars(high, low, close)):
        sp = sm = st = 0.0
        dxs = []  # DX per bar from s+period on (None when TA-Lib computes none)
        adx_value = None
        for i in range(s + 1, e):
            up = high[i] - high[i - 1]
            dn = low[i - 1] - low[i]
            pdm = up if (up > 0 and up > dn) else 0.0
            mdm = dn if (dn > 0 and dn > up) else 0.0
            tr = max(high[i], close[i - 1]) - min(low[i], close[i - 1])
            k = i - s  # bars since the run started
            if k < period:
                sp, sm, st = sp + pdm, sm + mdm, st + tr
                continue
            sp = sp - sp / period + pdm
            sm = sm - sm / period + mdm
            st = st - st / period + tr
            if _ta_is_zero(st):
                pdi = mdi = 0.0
                dx = None
            else:
                pdi = 100.0 * sp / st
                mdi = 100.0 * sm / st
                dx = None if _ta_is_zero(pdi + mdi) else 100.0 * abs(pdi - mdi) / (pdi + mdi)
            o_pdi[i], o_mdi[i] = pdi, mdi
            dxs.append(dx)
            if len(dxs) == period:
                adx_value = math.fsum(d for d in dxs if d is not None) / period
                o_adx[i] = adx_value
            elif len(dxs) > period:
                if dx is not None:
                    adx_value = (adx_value * (period - 1) + dx) / period
                o_adx[i] = adx_value
    return np.array(o_adx), np.array(o_pdi), np.array(o_mdi)


def ema(x, period: int, seed: str = "sma") -> np.ndarray:
    """EMA with alpha = 2/(period+1), restarted on every run of valid values."""
    return _smooth(x, period, 2.0 / (period + 1), seed)


def wilder(x, period: int) -> np.ndarray:
    return _smooth(x, period, 1.0 / period, "sma")


def _smooth(x, period: int, alpha: float, seed: str) -> np.ndarray:
    n = len(x)
    out = _out(n)
    for s, e in _runs([not _isnan(v) for v in x]):
        if seed == "first":
            m = x[s]
            out[s] = m
            start = s + 1
        else:
            if e - s < period:
                continue
            m = math.fsum(x[s : s + period]) / period
            out[s + period - 1] = m
            start = s + period
        for i in range(start, e):
            m = alpha * x[i] + (1 - alpha) * m
            out[i] = m
    return np.array(out)


# --- moving statistics -------------------------------------------------------------------


def _valid_in_window(x, t: int, window: int) -> list[float]:
    return [v for v in x[max(0, t - window + 1) : t + 1] if not _isnan(v)]


def rolling_mean(x, window: int, min_periods: int | None = None) -> np.ndarray:
    minp = window if min_periods is None else min_periods
    out = _out(len(x))
    for t in range(len(x)):
        vals = _valid_in_window(x, t, window)
        if len(vals) >= minp:
            out[t] = float(_mean(vals))
    return np.array(out)


def rolling_std(x, window: int, min_periods: int | None = None, ddof: int = 1) -> np.ndarray:
    minp = window if min_periods is None else min_periods
    out = _out(len(x))
    for t in range(len(x)):
        vals = _valid_in_window(x, t, window)
        if len(vals) >= minp and len(vals) > ddof:
            out[t] = math.sqrt(_ssq(vals) / (len(vals) - ddof))  # Fraction -> float once
    return np.array(out)


def bollinger_bandwidth(x, window: int, k: float) -> np.ndarray:
    out = _out(len(x))
    for t in range(len(x)):
        w = _full_window(x, t, window)
        if w is None:
            continue
        m = _mean(w)
        if m != 0:
            out[t] = 2 * k * math.sqrt(_ssq(w) / window) / float(m)
    return np.array(out)


def log_returns(x) -> np.ndarray:
    out = _out(len(x))
    for i in range(1, len(x)):
        a, b = x[i - 1], x[i]
        if a > 0 and b > 0:
            out[i] = math.log(b / a)
    return np.array(out)


def rolling_linreg(y, window: int):
    n = len(y)
    slope, intercept, r2 = _out(n), _out(n), _out(n)
    xs = list(range(window))
    xm = Fraction(window - 1, 2)
    sxx = _ssq(xs)
    for t in range(n):
        w = _full_window(y, t, window)
        if w is None:
            continue
        syy = _ssq(w)
        sxy = _cov_sum(xs, w)
        b = sxy / sxx
        slope[t] = float(b)
        intercept[t] = float(_mean(w) - b * xm)
        r2[t] = 0.0 if syy == 0 else float(sxy * sxy / (sxx * syy))
    return np.array(slope), np.array(intercept), np.array(r2)


def efficiency_ratio(x, window: int) -> np.ndarray:
    out = _out(len(x))
    for t in range(len(x)):
        w = _full_window(x, t, window + 1)
        if w is None:
            continue
        path = math.fsum(abs(w[j] - w[j - 1]) for j in range(1, len(w)))
        out[t] = 0.0 if path == 0 else min(1.0, abs(w[-1] - w[0]) / path)
    return np.array(out)


def rolling_autocorr(x, window: int, lag: int = 1) -> np.ndarray:
    out = _out(len(x))
    for t in range(len(x)):
        w = _full_window(x, t, window + lag)
        if w is None:
            continue
        a, b = w[lag:], w[:-lag]
        saa, sbb = _ssq(a), _ssq(b)
        if saa == 0 or sbb == 0:
            continue
        sab = _cov_sum(a, b)
        out[t] = math.copysign(math.sqrt(sab * sab / (saa * sbb)), sab)
    return np.array(out)


def variance_ratio(r, q: int, window: int) -> np.ndarray:
    out = _out(len(r))
    for t in range(len(r)):
        w = _full_window(r, t, window)
        if w is None:
            continue
        var1 = _ssq(w) / (window - 1)
        if var1 == 0:
            continue
        sums = [sum(_exact(w[j - q + 1 : j + 1]), Fraction(0)) for j in range(q - 1, window)]
        varq = _ssq(sums) / (len(sums) - 1)
        out[t] = float(varq / (q * var1))
    return np.array(out)


def rolling_mean_crossings(x, window: int) -> np.ndarray:
    out = _out(len(x))
    for t in range(len(x)):
        w = _full_window(x, t, window)
        if w is None:
            continue
        total = 0.0
        for v in w:  # left to right, the documented definition of the window mean
            total += v
        m = total / window
        signs = [1 if v > m else -1 for v in w if v != m]
        out[t] = float(sum(1 for a, b in itertools.pairwise(signs) if a != b))
    return np.array(out)


def rolling_max(x, window: int) -> np.ndarray:
    out = _out(len(x))
    for t in range(len(x)):
        w = _full_window(x, t, window)
        if w is not None:
            out[t] = max(w)
    return np.array(out)


def rolling_min(x, window: int) -> np.ndarray:
    out = _out(len(x))
    for t in range(len(x)):
        w = _full_window(x, t, window)
        if w is not None:
            out[t] = min(w)
    return np.array(out)
