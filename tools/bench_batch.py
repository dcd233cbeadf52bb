#!/usr/bin/env python
"""Time the batch path (``RegimeAnalysisService``) against a pandas per-hour baseline, in one run.

Cases (issue 6 targets in brackets):

1. one symbol, one month (720 hours) from JSON snapshots: load + analyse, serial, in-process
   [<= 0.5 s wall];
2. the pandas + TA-Lib per-hour re-implementation (``tools/peer_cases/engine.py``) on the same
   720 hours, each from its own snapshot's 1000-bar history [case 1 >= 20x faster]. It is slow, so
   ``--sample`` evenly spaced hours are timed and the total is extrapolated to 720 (printed);
3. the service's own one-hour path (``analyze_timestamp``) on the same sample, extrapolated;
4. 20 symbols x one month with 2 worker processes, wall time including process start
   [<= 6 s], and peak RSS of the parent plus the largest child [<= 1 GB].

The month of case 1 is built from the real ETH-USDT 1m file of the shared data set when it is
there (else from synthetic candles); the 20 symbols come from the synthetic source with one seed
per symbol. Stores are built once and kept in ``--store`` (default: a temporary directory).

Usage::

    python tools/bench_batch.py [--store DIR] [--data PARQUET] [--sample 48] [--repeat 3]
                                [--symbols 20] [--workers 2] [--no-baseline] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

MONTH = 720
HISTORY = 1000
SYMBOL = "ETH-USDT"


def many_symbols(n: int) -> list[str]:
    return [f"SYN{k:02d}-USDT" for k in range(n)]


def _build_synthetic(args) -> int:
    root, symbol, seed, start = args
    from gridregime.collect import SyntheticSource, import_snapshots
    from gridregime.snapshot import SnapshotStorage

    report = import_snapshots(SyntheticSource(seed), symbol, start, start + timedelta(hours=MONTH),
                              SnapshotStorage(root, history_hours=HISTORY))
    return len(report.written) + len(report.unchanged)


def build_stores(store: Path, data: str | None, n_symbols: int, workers: int):
    """One real (or synthetic) month for SYMBOL in store/one, n synthetic months in store/many."""
    from concurrent.futures import ProcessPoolExecutor
    from datetime import datetime

    from bench_load_range import build_month, load_minutes

    one = store / "one"
    minutes, source = load_minutes(data, MONTH + HISTORY)
    hours = build_month(one, minutes, MONTH)
    many = store / "many"
    start = datetime(2024, 3, 1, tzinfo=UTC)
    marker = many / f".built-{n_symbols}"
    if not marker.exists():
        jobs = [(str(many), s, 100 + k, start) for k, s in enumerate(many_symbols(n_symbols))]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(_build_synthetic, jobs))
        assert all(d == MONTH for d in done), done
        marker.write_text("ok\n")
    return hours, source, start


def best(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> tuple[float, float]:
    """(parent peak RSS, largest child peak RSS) in MB (Linux reports ru_maxrss in kB)."""
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale
    return own, kids


class RssSampler:
    """Peak of (parent + all live children) RSS, sampled every 20 ms with psutil if available."""

    def __init__(self):
        import threading

        try:
            import psutil
        except ImportError:
            self.proc = None
            return
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = 0
            try:
                total = self.proc.memory_info().rss
                for child in self.proc.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except Exception:  # a child that just ended
                        pass
            except Exception:
                pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.02)

    def __enter__(self):
        if self.proc is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self._stop.set()
            self._thread.join()

    @property
    def peak_mb(self):
        return None if self.proc is None else self.peak / 2**20


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="build (once) and keep the snapshot stores in this directory")
    ap.add_argument("--data", help="1m Parquet for the one-symbol month (default: the shared real ETH-USDT file)")
    ap.add_argument("--sample", type=int, default=48, help="hours timed for the per-hour paths (default 48)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip case 2 (the pandas per-hour baseline takes minutes)")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    for name in ("sample", "repeat", "symbols", "workers"):
        if getattr(args, name) < 1:
            ap.error(f"--{name}: expected an integer >= 1, got {getattr(args, name)}")

    tmp = None
    store = Path(args.store) if args.store else Path(tmp := tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        t0 = time.perf_counter()
        hours, source, many_start = build_stores(store, args.data, args.symbols, args.workers)
        print(f"stores ready in {time.perf_counter() - t0:.1f} s; one-symbol month from "
              f"{os.path.basename(source)} ({len(hours)} hours, {HISTORY}-bar history)")
        if args.build_only:
            return 0
        return run(args, store, hours, many_start)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args, store: Path, hours, many_start) -> int:
    from gridregime.service import ExecutionOptions, RegimeAnalysisService
    from gridregime.snapshot import SnapshotReader

    rows = []
    one = store / "one"
    service = RegimeAnalysisService(one)
    first, last = hours[0], hours[-1]

    # 1. one symbol, one month, load + analyse in-process (fresh service each time)
    c0 = time.process_time()
    t_batch, batch = best(lambda: RegimeAnalysisService(one).analyze_range(SYMBOL, first, last,
                                                                            keep_results=False), args.repeat)
    cpu_batch = (time.process_time() - c0) / args.repeat
    assert batch.analysed + len(batch.failures) + batch.insufficient == len(hours), batch.summary()
    rows.append(("1 symbol x 720 h: load + analyse (serial)", t_batch, "<= 0.5 s"))

    # 2./3. per-hour paths on a sample of the same hours, extrapolated to the month
    step = max(1, len(hours) // args.sample)
    sample = hours[::step][:args.sample]
    reader = SnapshotReader(one)
    peer_total = None
    try:
        if args.no_baseline:
            raise ImportError("--no-baseline")
        import talib
        from peer_cases.engine import _pandas_hour

        def pandas_month_sample():
            for h in sample:
                snap = reader.load_snapshot(SYMBOL, h)
                _pandas_hour(snap.hourly.to_pandas(), talib)

        t, _ = best(pandas_month_sample, 1)
        peer_total = t / len(sample) * len(hours)
        rows.append((f"pandas+TA-Lib per hour (load + analyse; {len(sample)} h timed, x{len(hours) / len(sample):.0f})",
                     peer_total, "baseline"))
    except ImportError as exc:
        print(f"no pandas baseline ({exc})", file=sys.stderr)
    t, _ = best(lambda: [service.analyze_timestamp(SYMBOL, h) for h in sample], 1)
    rows.append((f"analyze_timestamp per hour ({len(sample)} h timed, x{len(hours) / len(sample):.0f})",
                 t / len(sample) * len(hours), ""))

    # 4. many symbols x one month, process pool (wall includes starting the workers)
    many = RegimeAnalysisService(store / "many")
    symbols = many_symbols(args.symbols)
    end = many_start + timedelta(hours=MONTH - 1)
    k0 = cpu_children()
    with RssSampler() as sampler:
        t0 = time.perf_counter()
        res = many.analyze_many(symbols, many_start, end, execution=ExecutionOptions(workers=args.workers),
                                keep_results=False)
        t_many = time.perf_counter() - t0
    cpu_many = cpu_children() - k0
    assert res.analysed + res.insufficient == len(symbols) * MONTH and not res.failures, res.summary()
    rows.append((f"{len(symbols)} symbols x 720 h, {args.workers} workers (incl. process start)", t_many, "<= 6 s"))
    parent, child = peak_rss_mb()

    print(f"\n{'case':<66} {'seconds':>9} {'ms/hour':>9}  target")
    for name, t, target in rows:
        per = t / (len(symbols) * MONTH if name.startswith(f"{len(symbols)} symbols") else len(hours)) * 1e3
        print(f"{name:<66} {t:>9.3f} {per:>9.3f}  {target}")
    # the machine may be shared: CPU seconds show what the wall times would be on idle cores
    print(f"\nCPU time: 1 symbol x 720 h {cpu_batch:.3f} s (mean of {args.repeat}); "
          f"{len(symbols)} symbols x 720 h: {cpu_many:.2f} s in the workers "
          f"(/{args.workers} workers = {cpu_many / args.workers:.2f} s)")
    if peer_total:
        print(f"ratio pandas per-hour / batch (1 symbol, month): {peer_total / t_batch:.1f}x  (target >= 20x)")
    print(f"peak RSS (getrusage): parent {parent:.0f} MB, largest child {child:.0f} MB; "
          f"bound parent + {args.workers} x largest child = {parent + args.workers * child:.0f} MB  (target <= 1024 MB)")
    if sampler.peak_mb is not None:
        print(f"peak RSS (psutil, parent + live children sampled every 20 ms): {sampler.peak_mb:.0f} MB")
    print(f"verdicts (1 symbol month): {batch.verdict_counts()}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"rows": [{"case": n, "seconds": t, "target": g} for n, t, g in rows],
             "cpu_seconds": {"one_symbol_month": cpu_batch, "many_symbols_workers_total": cpu_many},
             "ratio_pandas_over_batch": (peer_total / t_batch) if peer_total else None,
             "peak_rss_mb": {"parent": parent, "largest_child": child, "sampled_total": sampler.peak_mb}},
            indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
