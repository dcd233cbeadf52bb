"""Rolling/recursive indicator kernels versus TA-Lib, bottleneck, pandas and numpy.

Same seeded OHLC random walk for everybody (no NaN: TA-Lib propagates a NaN to the end).
Targets are those of issue 3 (ratios to the peer measured in the same run).
"""
from __future__ import annotations

import numpy as np
from compare_peers import Case


def _bars(n: int, seed: int = 11):
    rng = np.random.default_rng(seed)
    close = 30_000 + np.cumsum(rng.standard_normal(n) * 5)
    high = close + rng.random(n) * 4
    low = close - rng.random(n) * 4
    return high, low, close


def cases(n: int) -> list[Case]:
    import bottleneck as bn
    import pandas as pd
    import talib

    from gridregime import kernels as K

    h, l, c = _bars(n)
    s = pd.Series(c)
    r = K.log_returns(c)
    rs = pd.Series(r)
    t = pd.Series(np.arange(n, dtype=float))

    def pandas_ols(w=48):
        slope = s.rolling(w).cov(t) / t.rolling(w).var()
        r2 = s.rolling(w).corr(t) ** 2
        return slope, r2

    def pandas_er(w=24):
        return (s - s.shift(w)).abs() / s.diff().abs().rolling(w).sum()

    def pandas_vr(q=4, w=48):
        return rs.rolling(q).sum().rolling(w - q + 1).var() / (q * rs.rolling(w).var())

    return [
        Case("atr p=14", lambda: K.atr(h, l, c, 14), {"talib ATR": lambda: talib.ATR(h, l, c, 14)},
             target="target <= 1.5x TA-Lib"),
        Case("adx+di p=14 (3 outputs)", lambda: K.adx(h, l, c, 14),
             {"talib ADX": lambda: talib.ADX(h, l, c, 14),
              "talib ADX+PLUS_DI+MINUS_DI": lambda: (talib.ADX(h, l, c, 14), talib.PLUS_DI(h, l, c, 14),
                                                     talib.MINUS_DI(h, l, c, 14))},
             target="target <= 0.5x TA-Lib ADX"),
        Case("ema p=24 (sma seed)", lambda: K.ema(c, 24),
             {"talib EMA": lambda: talib.EMA(c, 24), "pandas ewm": lambda: s.ewm(span=24, adjust=False).mean()},
             target="target <= 8 ns/el"),
        Case("wilder p=14", lambda: K.wilder(c, 14), {}, target=""),
        Case("rolling_mean w=48", lambda: K.rolling_mean(c, 48),
             {"bottleneck move_mean": lambda: bn.move_mean(c, 48), "pandas rolling.mean": lambda: s.rolling(48).mean()}),
        Case("rolling_std w=48", lambda: K.rolling_std(c, 48),
             {"bottleneck move_std": lambda: bn.move_std(c, 48, ddof=1),
              "pandas rolling.std": lambda: s.rolling(48).std()},
             target="target <= 1.3x bottleneck"),
        Case("log_returns", lambda: K.log_returns(c), {"numpy log ratio": lambda: np.log(c[1:] / c[:-1])}),
        Case("linreg w=48 (slope, intercept, r2)", lambda: K.rolling_linreg(c, 48),
             {"talib LINEARREG_SLOPE (slope only)": lambda: talib.LINEARREG_SLOPE(c, 48),
              "pandas rolling OLS (cov/var, corr^2)": pandas_ols},
             target="target <= 8 ns/el"),
        Case("efficiency_ratio w=24", lambda: K.efficiency_ratio(c, 24), {"pandas": pandas_er},
             target="target <= 8 ns/el"),
        Case("autocorr lag=1 w=48", lambda: K.rolling_autocorr(r, 48, 1),
             {"pandas rolling.corr(shift)": lambda: rs.rolling(48).corr(rs.shift(1))}, target="target <= 8 ns/el"),
        Case("variance_ratio q=4 w=48", lambda: K.variance_ratio(r, 4, 48), {"pandas": pandas_vr},
             target="target <= 8 ns/el"),
        Case("mean_crossings w=48", lambda: K.rolling_mean_crossings(c, 48), {},
             target="O(n*w), documented"),
        Case("bollinger_bandwidth w=20", lambda: K.bollinger_bandwidth(c, 20, 2.0),
             {"talib BBANDS": lambda: talib.BBANDS(c, 20, 2.0, 2.0, 0)}),
        Case("rolling_max w=48", lambda: K.rolling_max(c, 48), {"bottleneck move_max": lambda: bn.move_max(c, 48)}),
        Case("rolling_min w=48", lambda: K.rolling_min(c, 48), {"bottleneck move_min": lambda: bn.move_min(c, 48)}),
    ]
