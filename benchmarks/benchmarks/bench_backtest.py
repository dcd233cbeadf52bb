"""asv benchmarks of the backtest runner: one symbol-month from JSON snapshots, every policy,
20 RANDOM seeds, both intrabar path modes (target: <= 2 s; ``tools/bench_backtest.py`` prints
the same timing next to the CLI's wall time and the pooled run over the development files)."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

START = datetime(2024, 3, 1, tzinfo=UTC)
MONTH = 720
SYMBOL = "ETH-USDT"


def setup_cache():
    from gridregime.collect import SyntheticSource, import_snapshots
    from gridregime.snapshot import SnapshotStorage

    root = os.path.abspath("backtest_store")
    import_snapshots(SyntheticSource(3), SYMBOL, START, START + timedelta(hours=MONTH), SnapshotStorage(root))
    return root


class BacktestMonth:
    timeout = 600
    params = [0, 20]
    param_names = ["seeds"]

    def setup(self, root, seeds):
        from gridregime.backtest import BacktestSettings, symbol_range

        self.ranges = [symbol_range(SYMBOL, START, START + timedelta(hours=MONTH - 1), root=root)]
        self.settings = BacktestSettings(seeds=seeds)

    def time_backtest_month(self, root, seeds):
        from gridregime.backtest import run_backtest

        run_backtest(self.ranges, settings=self.settings)

    def peakmem_backtest_month(self, root, seeds):
        from gridregime.backtest import run_backtest

        run_backtest(self.ranges, settings=self.settings)
