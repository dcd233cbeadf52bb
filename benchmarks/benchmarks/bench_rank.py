"""asv benchmarks of the rolling percentile rank and the range-discovery primitives."""
from __future__ import annotations

import numpy as np


def _closes(n: int, seed: int = 42) -> np.ndarray:
    """Seeded price-like random walk rounded to cents (ties occur), with a few NaN."""
    rng = np.random.default_rng(seed)
    x = np.round(30_000 + np.cumsum(rng.standard_normal(n) * 5), 2)
    x[rng.integers(0, n, max(1, n // 1000))] = np.nan
    return x


class RollingPercentileRank:
    """Issue 3 targets at n = 1e6: <= 120 ns/el at w = 720, <= 200 ns/el at w = 43,200."""

    params = [[10_000, 1_000_000], [24, 720, 43_200]]  # noqa: RUF012 (asv reads class attributes)
    param_names = ["n", "window"]  # noqa: RUF012

    def setup(self, n, window):
        from gridregime.kernels import rolling_percentile_rank

        self.x = _closes(n)
        self.rank = rolling_percentile_rank
        self.min_periods = min(window, 168)

    def time_rolling_percentile_rank(self, n, window):
        self.rank(self.x, window, self.min_periods)

    def peakmem_rolling_percentile_rank(self, n, window):
        self.rank(self.x, window, self.min_periods)


class PercentileRankLast:
    params = [[720, 1_000_000]]  # noqa: RUF012 (asv reads class attributes)
    param_names = ["n"]  # noqa: RUF012

    def setup(self, n):
        from gridregime.kernels import percentile_rank_last

        self.x = _closes(n)
        self.rank_last = percentile_rank_last

    def time_percentile_rank_last(self, n):
        self.rank_last(self.x, 168)


class RollingQuantileBand:
    params = [[10_000, 1_000_000], [24, 72]]  # noqa: RUF012 (asv reads class attributes)
    param_names = ["n", "window"]  # noqa: RUF012

    def setup(self, n, window):
        from gridregime.kernels import rolling_quantile_band

        self.x = _closes(n)
        self.band = rolling_quantile_band

    def time_rolling_quantile_band(self, n, window):
        self.band(self.x, window, 0.10, 0.90)

    def peakmem_rolling_quantile_band(self, n, window):
        self.band(self.x, window, 0.10, 0.90)


class RangePrimitives:
    """One range discovery's worth of work: 72 hourly bars."""

    params = [[72, 10_000]]  # noqa: RUF012 (asv reads class attributes)
    param_names = ["n"]  # noqa: RUF012

    def setup(self, n):
        from gridregime import kernels

        self.k = kernels
        rng = np.random.default_rng(1)
        self.close = _closes(n + 1, seed=3)[1:]
        self.close[np.isnan(self.close)] = 30_000.0
        spread = np.abs(rng.standard_normal(n)) * 3
        self.high, self.low = self.close + spread, self.close - spread
        self.volume = rng.exponential(10.0, n)
        self.lo, self.hi = float(self.low.min()), float(self.high.max())

    def time_fractal_pivots(self, n):
        self.k.fractal_pivots(self.high, self.low, 2)

    def time_cluster_levels(self, n):
        self.k.cluster_levels(self.close, 5.0)

    def time_touch_counts(self, n):
        self.k.touch_counts(self.high, self.low, self.lo + 10, self.hi - 10, 2.0)

    def time_volume_profile_and_value_area(self, n):
        edges, per_bin = self.k.volume_profile(self.close, self.volume, self.lo, self.hi, 24)
        self.k.value_area(edges, per_bin, 0.70)
