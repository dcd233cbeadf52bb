"""asv benchmarks of the rolling/recursive indicator kernels (issue 3 targets at n = 1e6:
ATR <= 1.5x TA-Lib, ADX <= 0.5x TA-Lib, rolling std <= 1.3x bottleneck, OLS slope + R2,
EMA, ER, autocorrelation and variance ratio <= 8 ns/el)."""
from __future__ import annotations

import functools

import numpy as np


@functools.cache
def _bars(n: int, seed: int = 11):
    """Seeded OHLC random walk with a few NaN bars, cached across benchmarks."""
    rng = np.random.default_rng(seed)
    close = 30_000 + np.cumsum(rng.standard_normal(n) * 5)
    high = close + rng.random(n) * 4
    low = close - rng.random(n) * 4
    close[rng.integers(0, n, max(1, n // 10_000))] = np.nan
    return high, low, close


class Recursive:
    params = [[10_000, 1_000_000], [14, 48]]  # noqa: RUF012 (asv reads class attributes)
    param_names = ["n", "period"]  # noqa: RUF012

    def setup(self, n, period):
        from gridregime import kernels

        self.k = kernels
        self.h, self.l, self.c = _bars(n)

    def time_atr(self, n, period):
        self.k.atr(self.h, self.l, self.c, period)

    def time_adx(self, n, period):
        self.k.adx(self.h, self.l, self.c, period)

    def time_ema(self, n, period):
        self.k.ema(self.c, period)

    def time_wilder(self, n, period):
        self.k.wilder(self.c, period)

    def peakmem_adx(self, n, period):
        self.k.adx(self.h, self.l, self.c, period)


class Window:
    params = [[10_000, 1_000_000], [24, 48, 168]]  # noqa: RUF012 (asv reads class attributes)
    param_names = ["n", "window"]  # noqa: RUF012

    def setup(self, n, window):
        from gridregime import kernels

        self.k = kernels
        _, _, self.c = _bars(n)
        self.r = kernels.log_returns(self.c)

    def time_rolling_mean(self, n, window):
        self.k.rolling_mean(self.c, window)

    def time_rolling_std(self, n, window):
        self.k.rolling_std(self.c, window)

    def peakmem_rolling_std(self, n, window):
        self.k.rolling_std(self.c, window)

    def time_rolling_linreg(self, n, window):
        self.k.rolling_linreg(self.c, window)

    def peakmem_rolling_linreg(self, n, window):
        self.k.rolling_linreg(self.c, window)

    def time_efficiency_ratio(self, n, window):
        self.k.efficiency_ratio(self.c, window)

    def time_rolling_autocorr(self, n, window):
        self.k.rolling_autocorr(self.r, window, 1)

    def time_variance_ratio(self, n, window):
        self.k.variance_ratio(self.r, 4, window)

    def peakmem_variance_ratio(self, n, window):
        self.k.variance_ratio(self.r, 4, window)

    def time_bollinger_bandwidth(self, n, window):
        self.k.bollinger_bandwidth(self.c, window, 2.0)

    def time_rolling_max(self, n, window):
        self.k.rolling_max(self.c, window)


class MeanCrossings:
    """O(n * window) by design; one window size is enough."""

    params = [[10_000, 1_000_000]]  # noqa: RUF012 (asv reads class attributes)
    param_names = ["n"]  # noqa: RUF012

    def setup(self, n):
        from gridregime import kernels

        self.k = kernels
        _, _, self.c = _bars(n)

    def time_rolling_mean_crossings(self, n):
        self.k.rolling_mean_crossings(self.c, 48)
