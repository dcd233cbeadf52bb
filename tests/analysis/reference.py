"""Slow, obviously-correct twins (pandas / TA-Lib / plain loops) of what the engine computes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import talib


def atr(h, l, c, period=14):
    return talib.ATR(h, l, c, timeperiod=period)


def adx(h, l, c, period=14):
    return (talib.ADX(h, l, c, timeperiod=period), talib.PLUS_DI(h, l, c, timeperiod=period),
            talib.MINUS_DI(h, l, c, timeperiod=period))


def log_returns(x):
    out = np.full(len(x), np.nan)
    out[1:] = np.log(x[1:] / x[:-1])
    return out


def rolling_linreg(y, window):
    n = len(y)
    slope, icpt, r2 = (np.full(n, np.nan) for _ in range(3))
    xs = np.arange(window, dtype=float)
    for t in range(window - 1, n):
        w = y[t - window + 1:t + 1]
        b, a = np.polyfit(xs, w, 1)
        slope[t], icpt[t] = b, a
        ss_tot = ((w - w.mean()) ** 2).sum()
        ss_res = ((w - (a + b * xs)) ** 2).sum()
        r2[t] = 1 - ss_res / ss_tot if ss_tot > 0 else np.nan
    return slope, icpt, r2


def efficiency_ratio(x, window):
    s = pd.Series(x)
    change = (s - s.shift(window)).abs()
    path = s.diff().abs().rolling(window).sum()
    return (change / path).to_numpy()


def rolling_std(x, window, min_periods=None, ddof=1):
    return pd.Series(x).rolling(window, min_periods=min_periods).std(ddof=ddof).to_numpy()


def rolling_mean(x, window, min_periods=None):
    return pd.Series(x).rolling(window, min_periods=min_periods).mean().to_numpy()


def rolling_autocorr(x, window, lag=1):
    s = pd.Series(x)
    return s.rolling(window).corr(s.shift(lag)).to_numpy()


def variance_ratio(r, q, window):
    """Var of overlapping q-bar returns / (q · var of 1-bar returns), both over the window."""
    s = pd.Series(r)
    rq = s.rolling(q).sum()
    return (rq.rolling(window).var() / (q * s.rolling(window).var())).to_numpy()


def rolling_mean_crossings(x, window):
    n = len(x)
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        w = x[t - window + 1:t + 1]
        d = np.sign(w - w.mean())
        d = d[d != 0]
        out[t] = float(np.count_nonzero(d[1:] != d[:-1]))
    return out


def bollinger_bandwidth(x, window=20, k=2.0):
    s = pd.Series(x)
    m = s.rolling(window).mean()
    sd = s.rolling(window).std(ddof=0)
    return (2 * k * sd / m).to_numpy()


def rolling_percentile_rank(x, window, min_periods=None):
    return pd.Series(x).rolling(window, min_periods=min_periods).rank(pct=True).to_numpy()


def percentile_rank_last(x, min_periods=1):
    x = np.asarray(x, float)
    return float(pd.Series(x).rolling(len(x), min_periods=min_periods).rank(pct=True).iloc[-1])


def rolling_quantile_band(x, window, lower_q=0.10, upper_q=0.90):
    r = pd.Series(x).rolling(window)
    return r.quantile(lower_q).to_numpy(), r.quantile(upper_q).to_numpy()


def fractal_pivots(high, low, order=2):
    n = len(high)
    ph, pl = np.zeros(n, bool), np.zeros(n, bool)
    for i in range(order, n - order):
        nb = list(range(i - order, i)) + list(range(i + 1, i + order + 1))
        ph[i] = all(high[i] > high[j] for j in nb)
        pl[i] = all(low[i] < low[j] for j in nb)
    return ph, pl


def cluster_levels(prices, tolerance):
    p = np.sort(np.asarray(prices, float))
    if p.size == 0:
        return np.zeros(0), np.zeros(0, np.int64)
    groups = [[p[0]]]
    for v in p[1:]:
        if v - groups[-1][-1] <= tolerance:
            groups[-1].append(v)
        else:
            groups.append([v])
    return np.array([np.mean(g) for g in groups]), np.array([len(g) for g in groups], np.int64)


def touch_counts(high, low, lower, upper, tolerance):
    nl = nu = 0
    in_l = in_u = False
    for h, l in zip(high, low):
        # the bar's [low, high] span reaches within tolerance of the bound
        tl = l <= lower + tolerance and h >= lower - tolerance
        tu = l <= upper + tolerance and h >= upper - tolerance
        nl += tl and not in_l
        nu += tu and not in_u
        in_l, in_u = tl, tu
    return nl, nu


def volume_profile(price, volume, lo, hi, bins):
    edges = np.linspace(lo, hi, bins + 1)
    idx = np.clip(np.searchsorted(edges, price, side="right") - 1, 0, bins - 1)
    vol = np.bincount(idx, weights=volume, minlength=bins).astype(float)
    return edges, vol


def value_area(edges, vol, share=0.70):
    poc = int(np.argmax(vol))
    total = vol.sum()
    lo_i = hi_i = poc
    acc = vol[poc]
    while acc < share * total and (lo_i > 0 or hi_i < len(vol) - 1):
        below = vol[lo_i - 1] if lo_i > 0 else -1
        above = vol[hi_i + 1] if hi_i < len(vol) - 1 else -1
        if above >= below:
            hi_i += 1
            acc += vol[hi_i]
        else:
            lo_i -= 1
            acc += vol[lo_i]
    return (edges[poc] + edges[poc + 1]) / 2, edges[lo_i], edges[hi_i + 1]
