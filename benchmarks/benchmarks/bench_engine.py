"""asv benchmarks of the regime engine (one hour from a snapshot, load + analyse, many hours)."""
from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone

SYMBOL = "ETH-USDT"
HOUR = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)


def _write_snapshot(root):
    from gridregime.bars import slice_time
    from gridregime.collect.sources.synthetic import SyntheticSource
    from gridregime.snapshot import SnapshotStorage
    from gridregime.timeutil import HOUR_MS, to_ms

    src = SyntheticSource(1)
    h_ms = to_ms(HOUR)
    hourly = src.fetch_ohlcv(SYMBOL, "1h", HOUR - timedelta(hours=999), HOUR + timedelta(hours=1))
    minute = src.fetch_ohlcv(SYMBOL, "1m", HOUR, HOUR + timedelta(hours=1))
    SnapshotStorage(root).write_hour(SYMBOL, HOUR, minute, slice_time(hourly, h_ms - 999 * HOUR_MS, h_ms + HOUR_MS),
                                     source=src.name)


class EngineOneHour:
    """SPEC §14 / issue 4: analyze_from_snapshot <= 2 ms median; load + analyse <= 4 ms."""

    def setup(self):
        from gridregime.analysis import RegimeEngine
        from gridregime.snapshot import SnapshotReader

        self.tmp = tempfile.TemporaryDirectory()
        _write_snapshot(self.tmp.name)
        self.reader = SnapshotReader(self.tmp.name)
        self.snapshot = self.reader.load_snapshot(SYMBOL, HOUR)
        self.engine = RegimeEngine()
        self.engine.analyze_from_snapshot(self.snapshot)  # warm caches (feature warm-up table)

    def teardown(self):
        self.tmp.cleanup()

    def time_analyze_from_snapshot(self):
        self.engine.analyze_from_snapshot(self.snapshot)

    def time_load_and_analyze(self):
        self.engine.analyze_from_snapshot(self.reader.load_snapshot(SYMBOL, HOUR))

    def time_result_to_json(self):
        self.engine.analyze_from_snapshot(self.snapshot).to_json()

    def peakmem_analyze_from_snapshot(self):
        self.engine.analyze_from_snapshot(self.snapshot)


class EngineManyHours:
    """The batch path: every feature once over the series, then each hour classified."""

    params = [168, 720]
    param_names = ["hours"]
    timeout = 300

    def setup(self, hours):
        from gridregime.analysis import RegimeEngine
        from gridregime.collect.sources.synthetic import SyntheticSource

        src = SyntheticSource(1)
        end = HOUR + timedelta(hours=1)
        self.hourly = src.fetch_ohlcv(SYMBOL, "1h", end - timedelta(hours=1000 + hours), end)
        self.minute = src.fetch_ohlcv(SYMBOL, "1m", end - timedelta(hours=hours), end)
        self.hours = [end - timedelta(hours=k) for k in range(hours, 0, -1)]
        self.engine = RegimeEngine()

    def time_analyze_hours(self, hours):
        self.engine.analyze_hours(SYMBOL, self.hourly, self.minute, self.hours)
