#!/usr/bin/env python
"""Live-collection speed: one symbol-hour, 20 symbols in one trigger, and a loopback load test.

Usage: python tools/bench_collect.py [--data tests/data] [--dir DIR] [--hours 24] [--symbols 20]
                                     [--requests 2000] [--concurrency 20] [--skip-load]

Cases (all from a file source, the committed real ETH-USDT slice, with a warm store: the previous
hour of every symbol is stored, so the history is the previous 1h file plus the new bar):

  one symbol-hour   collect + store + analyse + _regime.json + YAML + supervisor step, per hour
  20 symbols        one collect_hour() call for 20 symbols (copies of the slice under 20 names)
  load test         a real uvicorn server on 127.0.0.1, hours already stored, N requests with C in
                    flight: p50 / p99 latency and errors

The store lives under --dir (default: a temporary directory on the working disk; fsync dominates,
so pass a tmpfs directory such as /dev/shm to see the compute alone).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2021, 4, 19, tzinfo=UTC)


def _percentile(values, q):
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def make_source_dir(data: Path, out: Path, n: int) -> list[str]:
    """``n`` copies of the ETH-USDT slices under names AAA0-USDT ... (same bars, separate markets)."""
    out.mkdir(parents=True, exist_ok=True)
    symbols = []
    for k in range(n):
        sym = f"BENCH{k}-USDT"
        symbols.append(sym)
        for src in data.glob("ETH-USDT_*.parquet"):
            dst = out / src.name.replace("ETH-USDT", sym)
            if not dst.exists():
                os.link(src, dst) if src.stat().st_dev == out.stat().st_dev else shutil.copy(src, dst)
    return symbols


def bench_collector(data: Path, work: Path, hours: int, n_symbols: int) -> dict:
    from gridregime.collect import ParquetDirSource
    from gridregime.collect.collector import MetricsCollector

    symbols = make_source_dir(data, work / "source", n_symbols)
    source = ParquetDirSource(work / "source")
    # one symbol, hour after hour
    one = MetricsCollector(source, work / "store-one")
    one.collect_hour(START, [symbols[0]])  # cold: history from the source
    times = []
    for k in range(1, hours + 1):
        t0 = time.perf_counter()
        report = one.collect_hour(START + timedelta(hours=k), [symbols[0]])
        times.append((time.perf_counter() - t0) * 1000)
        assert report.complete, report.to_dict()
    repeat = []
    for k in range(1, hours + 1):
        t0 = time.perf_counter()
        one.collect_hour(START + timedelta(hours=k), [symbols[0]])
        repeat.append((time.perf_counter() - t0) * 1000)
    # 20 symbols per trigger
    many = MetricsCollector(source, work / "store-many")
    many.collect_hour(START, symbols)
    many_times = []
    for k in range(1, min(hours, 12) + 1):
        t0 = time.perf_counter()
        report = many.collect_hour(START + timedelta(hours=k), symbols)
        many_times.append((time.perf_counter() - t0) * 1000)
        assert report.complete
    return {
        "one_symbol_hour_ms": {"median": statistics.median(times), "mean": statistics.fmean(times),
                               "p90": _percentile(times, 90), "hours": len(times)},
        "repeat_ms": {"median": statistics.median(repeat)},
        f"{n_symbols}_symbols_ms": {"median": statistics.median(many_times), "mean": statistics.fmean(many_times),
                                    "max": max(many_times), "triggers": len(many_times)},
        "store": str(many.root),
        "symbols": symbols,
    }


def load_test(work: Path, symbols: list[str], hours: int, requests: int, concurrency: int) -> dict:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "bench-token-0123456789abcdef"
    env = {**os.environ, "GRIDREGIME_TOKEN": token}
    proc = subprocess.Popen([sys.executable, "-m", "gridregime", "serve", "--root", str(work / "store-many"),
                             "--source", f"parquet:{work / 'source'}", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        bodies = [{"trigger_time": (START + timedelta(hours=1 + (i % hours), seconds=5)).isoformat(),
                   "symbols": [symbols[i % len(symbols)]]} for i in range(requests)]

        async def run():
            sem = asyncio.Semaphore(concurrency)
            lat, errors = [], 0
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                         timeout=30, limits=limits) as client:
                async def one(body):
                    nonlocal errors
                    async with sem:
                        t0 = time.perf_counter()
                        try:
                            r = await client.post("/webhook/collect", json=body)
                            ok = r.status_code == 200 and r.json()["results"][0]["status"] == "ok"
                        except httpx.HTTPError:
                            ok = False
                        lat.append((time.perf_counter() - t0) * 1000)
                        errors += not ok

                t0 = time.perf_counter()
                await asyncio.gather(*(one(b) for b in bodies))
                return lat, errors, time.perf_counter() - t0

        lat, errors, wall = asyncio.run(run())
        # one request at a time: the latency of a single call, without queueing
        seq = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            for body in bodies[:200]:
                t0 = time.perf_counter()
                r = client.post("/webhook/collect", json=body)
                seq.append((time.perf_counter() - t0) * 1000)
                errors += r.status_code != 200
    finally:
        proc.kill()
        proc.wait(timeout=10)
    return {"requests": requests, "concurrency": concurrency, "errors": errors,
            "p50_ms": _percentile(lat, 50), "p99_ms": _percentile(lat, 99), "max_ms": max(lat),
            "throughput_rps": requests / wall, "sequential_p50_ms": _percentile(seq, 50),
            "sequential_p99_ms": _percentile(seq, 99)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "tests" / "data"))
    ap.add_argument("--dir", default=None, help="where the stores go (default: a temporary directory)")
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--skip-load", action="store_true")
    args = ap.parse_args(argv)
    own = args.dir is None
    work = Path(tempfile.mkdtemp(prefix="bench-collect-", dir=args.dir))
    try:
        res = bench_collector(Path(args.data), work, args.hours, args.symbols)
        o, m = res["one_symbol_hour_ms"], res[f"{args.symbols}_symbols_ms"]
        print(f"store: {work}")
        print(f"one symbol-hour (warm store): median {o['median']:.2f} ms, mean {o['mean']:.2f} ms, "
              f"p90 {o['p90']:.2f} ms over {o['hours']} hours")
        print(f"repeat of a stored hour: median {res['repeat_ms']['median']:.3f} ms")
        print(f"{args.symbols} symbols in one trigger: median {m['median']:.1f} ms, mean {m['mean']:.1f} ms, "
              f"max {m['max']:.1f} ms over {m['triggers']} triggers")
        if not args.skip_load:
            lt = load_test(work, res["symbols"], min(args.hours, 12), args.requests, args.concurrency)
            print(f"load test: {lt['requests']} requests, {lt['concurrency']} in flight, hours stored: "
                  f"p50 {lt['p50_ms']:.1f} ms, p99 {lt['p99_ms']:.1f} ms, max {lt['max_ms']:.1f} ms, "
                  f"{lt['throughput_rps']:.0f} req/s, errors {lt['errors']}")
            print(f"one request at a time (200): p50 {lt['sequential_p50_ms']:.2f} ms, "
                  f"p99 {lt['sequential_p99_ms']:.2f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not own:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
