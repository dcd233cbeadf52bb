#!/usr/bin/env python
"""Run gridregime's kernels and their peers side by side, in one process, and print ratios.

Usage: python tools/compare_peers.py [--n 1000000] [--repeat 5] [--only NAME[,NAME]] [--json FILE]

Each module in tools/peer_cases/ defines ``cases(n) -> list[Case]``. A case holds our callable
and zero or more peer callables computing the same quantity on the same seeded data. Timing is
the best of ``repeat`` runs (time.perf_counter), reported as ns per element and as the ratio
ours / peer (below 1.0 means we are faster). The runs of a case are interleaved (ours, peer 1,
peer 2, ours, ...), so a machine that slows down part-way slows every callable alike and the
ratios stay meaningful on a shared machine even when the absolute ns/el do not.
"""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).parent))


@dataclass
class Case:
    name: str  # e.g. "percentile_rank w=720"
    ours: Callable[[], object]
    peers: dict[str, Callable[[], object]] = field(default_factory=dict)
    n: int = 0  # elements processed per call, for ns/element
    target: str = ""  # the target, printed beside the result


def best_of_interleaved(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best time of each callable over ``repeat`` rounds, one call of each per round."""
    for fn in fns:
        fn()  # warm-up (imports, caches, allocations)
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated case-module names")
    ap.add_argument("--json", default="", help="also write the rows as JSON to this file")
    args = ap.parse_args(argv)

    import peer_cases

    only = {s for s in args.only.split(",") if s}
    rows = []
    for info in sorted(pkgutil.iter_modules(peer_cases.__path__), key=lambda m: m.name):
        if only and info.name not in only:
            continue
        module = importlib.import_module(f"peer_cases.{info.name}")
        for case in module.cases(args.n):
            n = case.n or args.n
            names = list(case.peers)
            t_ours, *t_peers = best_of_interleaved([case.ours] + [case.peers[p] for p in names], args.repeat)
            row = {"case": case.name, "n": n, "ours_ns_el": t_ours / n * 1e9, "target": case.target, "peers": {}}
            for pname, t_peer in zip(names, t_peers):
                row["peers"][pname] = {"ns_el": t_peer / n * 1e9, "ratio": t_ours / t_peer}
            rows.append(row)
            peers = "  ".join(
                f"{p}: {v['ns_el']:9.2f} ns/el  ours/peer={v['ratio']:.3f}" for p, v in row["peers"].items()
            )
            print(f"{case.name:<38} ours {row['ours_ns_el']:9.2f} ns/el  {peers}  {case.target}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
