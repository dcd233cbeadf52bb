"""asv benchmarks of the snapshot reader: a month (720 hours, 1000-bar history) of one symbol.

Target (issue 2): ``load_range`` of a month <= 40 ms warm, i.e. <= 25 us per minute file.
The store is built once by ``setup_cache`` from seeded synthetic candles at cent ticks.
"""
from __future__ import annotations

import os
from datetime import timedelta

SYMBOL = "ETH-USDT"
HOURS = 720
HISTORY = 1000


def _synthetic_minutes(hours: int):
    import numpy as np

    from gridregime.bars import bars_table

    rng = np.random.default_rng(20240301)
    n = hours * 60
    ts = 1_709_251_200_000 + 60_000 * np.arange(n, dtype=np.int64)  # 2024-03-01T00:00Z
    close = np.round(2500 * np.exp(np.cumsum(rng.normal(0, 5e-4, n))), 2)
    open_ = np.r_[close[0], close[:-1]]
    high = np.round(np.maximum(open_, close) + rng.random(n), 2)
    low = np.round(np.minimum(open_, close) - rng.random(n), 2)
    return bars_table(ts, open_, high, low, close, np.round(rng.random(n) * 100, 4))


class SnapshotMonth:
    timeout = 900

    def setup_cache(self):
        from gridregime.bars import aggregate_hourly, slice_time
        from gridregime.snapshot import SnapshotStorage
        from gridregime.timeutil import HOUR_MS, from_ms

        minutes = _synthetic_minutes(HOURS + HISTORY)
        hourly, _ = aggregate_hourly(minutes)
        hts = hourly.column("ts").cast("int64").to_numpy()
        root = os.path.abspath("snapshots")
        storage = SnapshotStorage(root, history_hours=HISTORY)
        hours = [from_ms(int(t)) for t in hts[-HOURS:]]
        for hour in hours:
            h = int(hour.timestamp() * 1000)
            storage.write_hour(SYMBOL, hour, slice_time(minutes, h, h + HOUR_MS),
                               slice_time(hourly, h - (HISTORY - 1) * HOUR_MS, h + 1),
                               source="synthetic", collected_at=hour + timedelta(hours=1))
        return root, hours[0], hours[-1]

    def setup(self, cache):
        from gridregime.snapshot import SnapshotReader

        self.root, self.start, self.end = cache
        self.reader = SnapshotReader(self.root)
        self.reader.load_range(SYMBOL, self.start, self.end)  # warm the page cache
        self.reader.load_range(SYMBOL, self.start, self.end, use_cache=True)  # build the columnar cache

    def time_load_range(self, cache):
        self.reader.load_range(SYMBOL, self.start, self.end)

    def peakmem_load_range(self, cache):
        self.reader.load_range(SYMBOL, self.start, self.end)

    def time_load_range_cached(self, cache):
        self.reader.load_range(SYMBOL, self.start, self.end, use_cache=True)

    def time_load_snapshot(self, cache):
        self.reader.load_snapshot(SYMBOL, self.end)
