#!/usr/bin/env python
"""Time the dashboard build for a month x 20 symbols, the site's size, and how fast Chromium renders it.

Cases (targets in brackets):

1. build from the store plus the results and grid tables of a batch run (what ``gridregime demo``
   does) [<= 20 s wall for a month x 20 symbols];
2. build from the store alone (the analysis and the grid supervisor run inside the build, with
   ``--workers`` processes);
3. the site's size on disk, all files [<= 40 MB];
4. headless Chromium: seconds from navigation to every chart rendered, for a symbol page in a fresh
   browser (cold: Plotly's bundle parsed for the first time) and again in the same browser (warm),
   and for the index [<= 3 s per symbol page].

The store holds one synthetic month per symbol (one seed per symbol, 1000-hour histories), built
once into ``--store`` and reused.

Usage::

    python tools/bench_dashboard.py [--store DIR] [--symbols 20] [--workers 2] [--out DIR] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

MONTH = 720
START = datetime(2024, 3, 1, tzinfo=UTC)


def symbols_of(n: int) -> list[str]:
    return [f"SYN{k:02d}-USDT" for k in range(n)]


def _build_one(args) -> int:
    root, symbol, seed = args
    from gridregime.collect import SyntheticSource, import_snapshots
    from gridregime.snapshot import SnapshotStorage

    report = import_snapshots(SyntheticSource(seed), symbol, START, START + timedelta(hours=MONTH),
                              SnapshotStorage(root))
    return len(report.written) + len(report.unchanged)


def build_store(root: Path, n: int, workers: int) -> float:
    from concurrent.futures import ProcessPoolExecutor

    marker = root / f".built-{n}"
    if marker.exists():
        return 0.0
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(str(root), s, 100 + k) for k, s in enumerate(symbols_of(n))]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(_build_one, jobs))
    assert all(d == MONTH for d in done), done
    marker.write_text("ok\n")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", default=None, help="snapshot store to build or reuse (default: temporary)")
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None, help="where the sites go (default: temporary)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh browsers for the render timing (default 3)")
    ap.add_argument("--json", default=None, help="also write the figures as JSON here")
    args = ap.parse_args(argv)

    from gridregime.dashboard import build_dashboard
    from gridregime.service import ExecutionOptions, RegimeAnalysisService

    tmp = tempfile.TemporaryDirectory(prefix="bench-dashboard-")
    store = Path(args.store) if args.store else Path(tmp.name) / "store"
    out = Path(args.out) if args.out else Path(tmp.name)
    symbols = symbols_of(args.symbols)
    end = START + timedelta(hours=MONTH - 1)
    figures: dict[str, float | int | str] = {"symbols": args.symbols, "hours": MONTH, "workers": args.workers}

    figures["store_build_s"] = round(build_store(store, args.symbols, args.workers), 2)
    figures["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(f"store: {store} ({args.symbols} symbols x {MONTH} h)")

    t0 = time.perf_counter()
    batch = RegimeAnalysisService(store).analyze_many(symbols, START, end,
                                                      execution=ExecutionOptions(workers=args.workers),
                                                      keep_results=False, supervise=True)
    results = batch.write_parquet(out / "results.parquet")
    grid = batch.write_grid_parquet(out / "grid.parquet")
    figures["batch_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    with_tables = build_dashboard(store, symbols, START, end, out / "site-tables", results=results, grid=grid)
    figures["build_with_tables_s"] = round(time.perf_counter() - t0, 2)
    figures["site_mb"] = round(with_tables.site_bytes / 1e6, 2)
    pages = sorted(p.stat().st_size for p in with_tables.pages.values())
    figures["symbol_page_kb_max"] = round(pages[-1] / 1e3, 1)
    figures["plotly_js_mb"] = round((with_tables.out / "assets" / "plotly.min.js").stat().st_size / 1e6, 2)
    print(f"build from store + tables: {figures['build_with_tables_s']:.2f} s   (batch before it: "
          f"{figures['batch_s']:.2f} s)")
    print(f"site: {figures['site_mb']:.2f} MB in all (plotly.min.js {figures['plotly_js_mb']:.2f} MB, "
          f"largest symbol page {figures['symbol_page_kb_max']:.0f} kB)")

    t0 = time.perf_counter()
    build_dashboard(store, symbols, START, end, out / "site-store", workers=args.workers)
    figures["build_from_store_s"] = round(time.perf_counter() - t0, 2)
    print(f"build from the store alone (analysis + supervision inside, {args.workers} workers): "
          f"{figures['build_from_store_s']:.2f} s")

    try:
        from gridregime.dashboard.browser import HeadlessChromium, find_chromium
    except ImportError as exc:  # pragma: no cover
        print(f"no browser timing: {exc}")
    else:
        if find_chromium() is None:
            print("no browser timing: chromium not found")
        else:
            colds, warms, errors = [], [], []
            for k in range(args.repeat):  # a fresh browser each time: Plotly's bundle parsed anew
                with HeadlessChromium() as browser:
                    cold = browser.load(with_tables.pages[symbols[k % len(symbols)]])
                    warm = [browser.load(with_tables.pages[s]) for s in symbols[1:4]]
                    index = browser.load(with_tables.index)
                colds.append(cold.seconds)
                warms += [w.seconds for w in warm]
                errors += cold.errors + [e for w in warm for e in w.errors] + index.errors
            colds.sort()
            figures["render_symbol_cold_s"] = [round(c, 2) for c in colds]
            figures["render_symbol_warm_s_max"] = round(max(warms), 2) if warms else None
            figures["render_index_s"] = round(index.seconds, 2)
            figures["console_errors"] = len(errors)
            print(f"chromium: symbol page {', '.join(f'{c:.2f}' for c in colds)} s in a fresh browser "
                  f"(bundle parsed anew), at most {figures['render_symbol_warm_s_max']:.2f} s for the next pages; "
                  f"index {figures['render_index_s']:.2f} s; console errors {len(errors)}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
