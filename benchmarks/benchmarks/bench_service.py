"""asv benchmarks of RegimeAnalysisService: a month of one symbol (load + analyse in one pass),
and several symbols over serial and process-pool executors.

Issue 6 targets (checked by ``tools/bench_batch.py``, which also runs the pandas baseline):
one symbol x 720 hours <= 0.5 s in-process; 20 symbols x 720 hours with 2 workers <= 6 s.
"""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

START = datetime(2024, 3, 1, tzinfo=UTC)
MONTH = 720
SYMBOL = "ETH-USDT"
MANY = ("SYN00-USDT", "SYN01-USDT", "SYN02-USDT", "SYN03-USDT")
MANY_HOURS = 168


def _import(root, symbol, seed, hours):
    from gridregime.collect import SyntheticSource, import_snapshots
    from gridregime.snapshot import SnapshotStorage

    import_snapshots(SyntheticSource(seed), symbol, START, START + timedelta(hours=hours), SnapshotStorage(root))


def setup_cache():
    """Build the stores once per benchmark run (in asv's working directory)."""
    root = os.path.abspath("service_store")
    _import(os.path.join(root, "one"), SYMBOL, 1, MONTH)
    for k, symbol in enumerate(MANY):
        _import(os.path.join(root, "many"), symbol, 100 + k, MANY_HOURS)
    return root


class ServiceRange:
    """One symbol, load + analyse every hour of the range in one pass (serial, in-process)."""

    params = [24, 168, MONTH]
    param_names = ["hours"]
    timeout = 600

    def setup(self, root, hours):
        from gridregime.service import RegimeAnalysisService

        self.service = RegimeAnalysisService(os.path.join(root, "one"))
        self.end = START + timedelta(hours=hours - 1)
        self.service.analyze_range(SYMBOL, START, START, keep_results=False)  # imports, first-call costs

    def time_analyze_range(self, root, hours):
        self.service.analyze_range(SYMBOL, START, self.end, keep_results=False)

    def peakmem_analyze_range(self, root, hours):
        self.service.analyze_range(SYMBOL, START, self.end, keep_results=False)


class ServiceOneHour:
    """The live path: one hour loaded from its own snapshot files and analysed."""

    timeout = 600

    def setup(self, root):
        from gridregime.service import RegimeAnalysisService

        self.service = RegimeAnalysisService(os.path.join(root, "one"))
        self.hour = START + timedelta(hours=MONTH - 1)
        self.service.analyze_timestamp(SYMBOL, self.hour)  # imports, first-call costs

    def time_analyze_timestamp(self, root):
        self.service.analyze_timestamp(SYMBOL, self.hour)


class ServiceMany:
    """Several symbols x one week; wall time of the process pool includes starting it."""

    params = ["serial-1", "process-2"]
    param_names = ["executor_workers"]
    timeout = 600

    def setup(self, root, executor_workers):
        from gridregime.service import RegimeAnalysisService

        self.service = RegimeAnalysisService(os.path.join(root, "many"))
        self.end = START + timedelta(hours=MANY_HOURS - 1)

    def time_analyze_many(self, root, executor_workers):
        from gridregime.service import ExecutionOptions

        executor, workers = executor_workers.split("-")
        self.service.analyze_many(list(MANY), START, self.end,
                                  execution=ExecutionOptions(executor=executor, workers=int(workers)),
                                  keep_results=False)
