"""asv benchmarks of the grid PnL simulator (one symbol-month of 1m bars, daily grids)."""
from __future__ import annotations

import numpy as np

BARS = 43_200  # 30 days of 1m bars
DAY = 1_440


def _month_of_bars(n: int = BARS, seed: int = 42):
    """Seeded random walk of 1m bars around 30,000, 0.05 % per bar, on a 0.01 tick."""
    rng = np.random.default_rng(seed)
    close = np.round(30_000 * np.exp(np.cumsum(rng.standard_normal(n) * 5e-4)), 2)
    opens = np.r_[30_000.0, close[:-1]]
    wick = np.abs(rng.standard_normal((2, n))) * 30_000 * 3e-4
    high = np.round(np.maximum(opens, close) + wick[0], 2)
    low = np.round(np.minimum(opens, close) - wick[1], 2)
    return opens, high, low, close


class SimulateGrids:
    """Target: <= 5 ms for 43,200 bars x 10 levels. One grid per day, re-centred at the day's
    open with the inventory carried (``carried``) or liquidated every day (``closed``)."""

    params = [[10, 100, 1000], ["pessimistic", "ohlc"], ["carried", "closed"]]  # noqa: RUF012 (asv reads class attributes)
    param_names = ["levels", "path", "segments"]  # noqa: RUF012

    def setup(self, levels, path, segments):
        from gridregime.kernels import Segment, grid_slots, simulate_grids

        self.simulate = simulate_grids
        self.bars = _month_of_bars()
        opens = self.bars[0]
        self.segments = []
        for s in range(0, BARS, DAY):
            e = min(BARS, s + DAY)
            mid = float(opens[s])
            slots = grid_slots(mid * 0.985, mid * 1.015, levels, "GEOMETRIC", 1000.0, tick=0.01, min_notional=0.0)
            self.segments.append(Segment(s, e, slots, close_at_end=segments == "closed" or e == BARS))
        self.path = path

    def time_simulate_grids(self, levels, path, segments):
        self.simulate(*self.bars, self.segments, path=self.path)

    def peakmem_simulate_grids(self, levels, path, segments):
        self.simulate(*self.bars, self.segments, path=self.path)


class GridSlotsConstruction:
    params = [[10, 1000]]  # noqa: RUF012 (asv reads class attributes)
    param_names = ["levels"]  # noqa: RUF012

    def setup(self, levels):
        from gridregime.kernels import grid_slots

        self.grid_slots = grid_slots

    def time_grid_slots(self, levels):
        self.grid_slots(29_000.0, 31_000.0, levels, "ARITHMETIC", 1000.0, tick=0.01, lot=0.00001)


class SimulateWindows:
    """The backtest's forward grid P&L for a symbol-month: one fresh account per hour over the
    next 24 hours of 1m bars (720 overlapping windows of 1,440 bars), 10 levels."""

    def setup(self):
        from gridregime.kernels import grid_slots, simulate_windows

        self.simulate = simulate_windows
        self.bars = _month_of_bars(BARS + DAY)
        opens = self.bars[0]
        self.windows = []
        for hour in range(BARS // 60):
            s = hour * 60
            mid = float(opens[s])
            slots = grid_slots(mid * 0.985, mid * 1.015, 10, "ARITHMETIC", 1000.0, tick=0.01, min_notional=5.0)
            self.windows.append((s, s + DAY, slots))
        self.budgets = [1000.0] * len(self.windows)

    def time_simulate_windows(self):
        self.simulate(*self.bars, self.windows, self.budgets, size_to_equity=True)
