"""Snapshot stores and dashboard sites shared by the dashboard tests.

The store holds the committed real ETH-USDT slice (2021-04-19..21, with the exchange halt of
04-20) and a synthetic SOL-USDT market over the same hours, plus the committed BTC-USDT minute
slice of 2025-06-01..03, whose snapshots hold too little hourly history for a verdict.
"""
from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from gridregime.collect import SyntheticSource, import_snapshots
from gridregime.collect.sources import ParquetDirSource
from gridregime.snapshot import SnapshotStorage

SYMBOLS = ("ETH-USDT", "SOL-USDT")
START = datetime(2021, 4, 19, tzinfo=UTC)
END = datetime(2021, 4, 21, 23, tzinfo=UTC)  # inclusive: 72 hours
SHORT_SYMBOL = "BTC-USDT"
SHORT_START = datetime(2025, 6, 1, tzinfo=UTC)
SHORT_END = datetime(2025, 6, 3, 23, tzinfo=UTC)
HOSTILE = ("<script>document.body.setAttribute('data-pwned','script')</script>"
           "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">")


def figure(html: str, chart: str = "main") -> dict:
    """The figure JSON embedded in a page for chart ``chart``."""
    m = re.search(rf'<script type="application/json" id="figure-{chart}">(.*?)</script>', html, re.S)
    assert m, f"no figure-{chart} in the page"
    return orjson.loads(m.group(1))


def ribbon(fig: dict) -> dict[int, str]:
    """Hour (epoch ms) → verdict label, from the verdict ribbon's bar traces."""
    out = {}
    for trace in fig["data"]:
        if str(trace.get("meta", "")).startswith("ribbon:"):
            label = trace["meta"].split(":", 1)[1]
            out.update({int(x): label for x in trace["x"]})
    return out


@pytest.fixture(scope="session")
def dash_store(tmp_path_factory, data_dir) -> Path:
    root = tmp_path_factory.mktemp("dash_store")
    storage = SnapshotStorage(root)
    real = ParquetDirSource(data_dir)
    import_snapshots(real, "ETH-USDT", START, END.replace(hour=0, day=22), storage, history_source=real)
    import_snapshots(SyntheticSource(11), "SOL-USDT", START, END.replace(hour=0, day=22), storage)
    import_snapshots(real, SHORT_SYMBOL, SHORT_START, SHORT_END.replace(hour=0, day=4), storage)
    return root


@pytest.fixture(scope="session")
def tables(dash_store, tmp_path_factory) -> dict[str, Path]:
    """The results and grid tables of a batch run over the store (which also writes each hour's
    ``_regime.json``), as ``gridregime batch --out --grid-out --write-analysis`` writes them."""
    from gridregime.service import RegimeAnalysisService

    out = tmp_path_factory.mktemp("tables")
    batch = RegimeAnalysisService(dash_store).analyze_many(SYMBOLS, START, END, write_analysis=True,
                                                          keep_results=False, supervise=True)
    return {"results": batch.write_parquet(out / "results.parquet"),
            "grid": batch.write_grid_parquet(out / "grid.parquet")}


@pytest.fixture(scope="session")
def site_from_store(dash_store, tmp_path_factory):
    from gridregime.dashboard import build_dashboard

    return build_dashboard(dash_store, SYMBOLS, START, END, tmp_path_factory.mktemp("site_store"))


@pytest.fixture(scope="session")
def site_from_tables(dash_store, tables, tmp_path_factory):
    from gridregime.dashboard import build_dashboard

    return build_dashboard(dash_store, SYMBOLS, START, END, tmp_path_factory.mktemp("site_tables"),
                           results=tables["results"], grid=tables["grid"])


@pytest.fixture(scope="session")
def hostile_site(dash_store, tables, tmp_path_factory):
    """A site whose grid table gives a stop a hostile reason and whose store gives that hour's
    analysis a hostile decision factor."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gridregime.dashboard import build_dashboard
    from gridregime.snapshot.paths import analysis_path

    work = tmp_path_factory.mktemp("hostile")
    root = work / "store"
    shutil.copytree(dash_store, root)
    grid = pq.read_table(tables["grid"])
    events = grid.column("events").to_pylist()
    stop = next(i for i, e in enumerate(events) if "stop" in e.split(","))
    reasons = [HOSTILE if i == stop else None for i in range(grid.num_rows)]
    if "reason" in grid.column_names:  # the supervisor's own reasons: replace them
        grid = grid.drop_columns(["reason"])
    pq.write_table(grid.append_column("reason", pa.array(reasons, type=pa.string())), work / "grid.parquet")
    symbol, hour = grid.column("symbol")[stop].as_py(), grid.column("hour")[stop].as_py()
    path = analysis_path(root, symbol, hour)
    doc = orjson.loads(path.read_bytes())
    doc["decision_factors"][0]["check"] = HOSTILE
    path.write_bytes(orjson.dumps(doc))
    report = build_dashboard(root, SYMBOLS, START, END, work / "site", results=tables["results"],
                             grid=work / "grid.parquet")
    return report, symbol


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium for the session; skipped where none is installed (never on CI)."""
    from gridregime.dashboard.browser import HeadlessChromium, find_chromium

    if find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium installed (.ci/run installs it)")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    with HeadlessChromium(width=1400, height=1000) as browser:
        yield browser
