"""asv benchmarks of the dashboard build: four synthetic symbols over a week, from the store plus
the batch's tables (what ``gridregime demo`` does) and from the store alone (analysis inside).

The month x 20 symbols target (build <= 20 s, site <= 40 MB, a symbol page rendered by headless
Chromium in <= 3 s) is checked by ``tools/bench_dashboard.py``, which also drives the browser.
"""
from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta

START = datetime(2024, 3, 1, tzinfo=UTC)
HOURS = 168
SYMBOLS = ("SYN00-USDT", "SYN01-USDT", "SYN02-USDT", "SYN03-USDT")
END = START + timedelta(hours=HOURS - 1)


def setup_cache():
    """The store and the batch's results and grid tables, built once per benchmark run."""
    from gridregime.collect import SyntheticSource, import_snapshots
    from gridregime.service import RegimeAnalysisService
    from gridregime.snapshot import SnapshotStorage

    base = os.path.abspath("dashboard_bench")
    root = os.path.join(base, "store")
    for k, symbol in enumerate(SYMBOLS):
        import_snapshots(SyntheticSource(100 + k), symbol, START, START + timedelta(hours=HOURS),
                         SnapshotStorage(root))
    batch = RegimeAnalysisService(root).analyze_many(SYMBOLS, START, END, keep_results=False, supervise=True)
    batch.write_parquet(os.path.join(base, "results.parquet"))
    batch.write_grid_parquet(os.path.join(base, "grid.parquet"))
    return base


class DashboardBuild:
    timeout = 600

    def setup(self, base):
        self.out = os.path.join(base, "site")

    def teardown(self, base):
        shutil.rmtree(self.out, ignore_errors=True)

    def _with_tables(self, base):
        from gridregime.dashboard import build_dashboard

        build_dashboard(os.path.join(base, "store"), SYMBOLS, START, END, self.out,
                        results=os.path.join(base, "results.parquet"), grid=os.path.join(base, "grid.parquet"))

    def time_build_with_tables(self, base):
        self._with_tables(base)

    def peakmem_build_with_tables(self, base):
        self._with_tables(base)

    def time_build_from_store(self, base):
        from gridregime.dashboard import build_dashboard

        build_dashboard(os.path.join(base, "store"), SYMBOLS, START, END, self.out)
