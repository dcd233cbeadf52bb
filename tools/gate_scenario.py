"""Real-data scenario for recommendations and restart gates (SPEC §6–8).

Builds regime-ready snapshots for one 1m Parquet file, analyses every hour, and drives the grid
hour by hour from an enabled grid with :class:`gridregime.grid.GridSupervisor` (gates →
recommendation → stop / reposition / restart / promotion), a new supervisor object every hour over
the same state directory, as an hourly service restarted between hours would run it.

It reports stops, each gate's passages, restarts, hours stopped and re-triggers (stops within 24 h
of a restart), and checks that no restart happens inside the time floor, that every restart grid
is probationary with fresh bounds containing the price, that the grid history chain verifies, that
one in-memory ``GridSupervisor.run`` over the same hours gives the same steps, and that a gate
``replay`` with the same stops and restarts gives the same gate states.

Usage::

    python tools/gate_scenario.py --data DIR [--file ETH-USDT_1m_2025-05-20_2025-08-18] [--out out/gate_scenario]
    python tools/gate_scenario.py --bench     # per-call timings of the grid layer, no data needed

``DIR`` is a directory of ``SYMBOL_TF_FIRST_LAST.parquet`` files (the project's real-data set).
Exit status 1 when a check fails.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from gridregime.analysis.engine import RegimeEngine
from gridregime.collect.importer import import_snapshots
from gridregime.collect.sources import ParquetDirSource
from gridregime.grid import (
    GateConfig,
    GridHistoryStore,
    GridMode,
    GridPolicy,
    GridSupervisor,
    Phase,
    SupervisorStep,
    evaluate,
    recommend,
    replay,
    stop,
)
from gridregime.snapshot import SnapshotReader, SnapshotStorage
from gridregime.timeutil import HOUR, UTC, iso_z

NAME_RE = re.compile(r"^(?P<symbol>[A-Z0-9]+-[A-Z0-9]+)_1m_(?P<first>\d{4}-\d{2}-\d{2})_(?P<last>\d{4}-\d{2}-\d{2})$")
RETRIGGER_HOURS = 24


def build_snapshots(data: Path, stem: str, root: Path) -> tuple[str, datetime, datetime]:
    m = NAME_RE.match(stem)
    if not m:
        raise SystemExit(f"--file: expected SYMBOL_1m_FIRST_LAST, got {stem!r}")
    symbol = m["symbol"]
    source = ParquetDirSource(data)
    bars = source.fetch_ohlcv(symbol, "1m", datetime.fromisoformat(m["first"]).replace(tzinfo=UTC),
                              datetime.fromisoformat(m["last"]).replace(tzinfo=UTC) + timedelta(days=1))
    ts = bars.column("ts").to_pylist()
    start = ts[0].replace(minute=0, second=0, microsecond=0)
    if ts[0].minute:
        start += HOUR
    end = ts[-1].replace(minute=0, second=0, microsecond=0)  # exclusive: the last hour may be partial
    t0 = time.perf_counter()
    report = import_snapshots(source, symbol, start, end, SnapshotStorage(root), progress=False)
    print(f"snapshots: {report.summary()} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return symbol, start, end - HOUR


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    snap_root = out / "snapshots"
    symbol, first, last = build_snapshots(Path(args.data), args.file, snap_root)

    t0 = time.perf_counter()
    reader = SnapshotReader(snap_root)
    engine = RegimeEngine()
    if args.per_snapshot:
        # Load and analyse each hour's snapshot on its own, as the live service does.
        results = [engine.analyze_from_snapshot(reader.load_snapshot(symbol, h)) for h in reader.hours(symbol)]
        problems = 0
    else:
        loaded = reader.load_range(symbol, first, last)
        results = engine.analyze_hours(symbol, loaded.hourly, loaded.minute, loaded.hours)
        problems = len(loaded.problems)
    print(f"analysed {len(results)} hours ({time.perf_counter() - t0:.1f} s), {problems} hour problems",
          file=sys.stderr)

    gate_config = GateConfig()
    policy = GridPolicy().with_overrides(
        {"quick_stop_atr": args.quick_stop_atr} if args.quick_stop_atr is not None else None)
    store_dir = out / "state"
    for f in store_dir.glob(f"*/{symbol}*"):
        f.unlink()

    # Live: a new supervisor per hour over the same directory, as an hourly service restarted
    # between hours would run it. The grid starts enabled at the first analysable hour with a range.
    def supervisor(directory: Path | None) -> GridSupervisor:
        return GridSupervisor(symbol, store_dir=directory, gate_config=gate_config, policy=policy,
                              start_enabled=True)

    t0 = time.perf_counter()
    steps = [supervisor(store_dir).step(r) for r in results]
    live_seconds = time.perf_counter() - t0
    print(f"supervised {len(steps)} hours live ({live_seconds:.1f} s)", file=sys.stderr)

    failures = check_steps(steps, gate_config)
    # Replay: one in-memory supervisor over the same results gives the same steps.
    replayed = supervisor(None).run(results)
    if [orjson.dumps(s.to_dict()) for s in replayed] != [orjson.dumps(s.to_dict()) for s in steps]:
        failures.append("in-memory run differs from the hour-by-hour supervisor")
    # Gate-level replay of the same hours with the same stops and restarts gives the same states.
    markets = [s.market for s in steps]
    stops = {s.hour: e.reason for s in steps for e in s.events if e.kind == "stop"}
    restarts = {s.hour for s in steps if "restart" in s.event_kinds()}
    batch, final = replay(markets, None, gate_config, stops=stops, restarts=restarts)
    if [orjson.dumps(e.to_dict()) for e in batch] != [orjson.dumps(s.evaluation.to_dict()) for s in steps]:
        failures.append("gate replay differs from the hour-by-hour evaluation")
    if final.to_dict() != supervisor(store_dir).gate_state.to_dict():
        failures.append("gate replay final state differs from the saved state")
    verify = GridHistoryStore(store_dir / "grids").verify(symbol)
    if not verify.ok:
        failures.append(f"grid history does not verify: {verify.problems}")

    summary = summarise(symbol, steps, verify.versions, gate_config)
    summary["failures"] = failures
    (out / "gate_scenario.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print(render(summary))
    return 1 if failures else 0


def check_steps(steps: list[SupervisorStep], gate_config: GateConfig) -> list[str]:
    """Restart invariants (SPEC §8): outside the time floor, probationary, fresh, fitting the range."""
    failures = []
    previous = None
    for step in steps:
        m = step.market
        if "restart" in step.event_kinds():
            new = step.grid
            hours = step.evaluation.hours_stopped
            if hours is None or hours < gate_config.for_symbol(step.symbol).min_hours_stopped:
                failures.append(f"{m.hour}: restart inside the time floor ({hours} h)")
            if new.mode is not GridMode.PROBATION:
                failures.append(f"{m.hour}: restart grid is not probationary")
            if not (new.contains(m.price) and m.range_lower <= new.lower and new.upper <= m.range_upper):
                failures.append(f"{m.hour}: restart grid does not fit the current range / price")
            if previous is None or (new.lower, new.upper) == (previous.lower, previous.upper):
                failures.append(f"{m.hour}: restart grid reuses the stopped grid's bounds")
        previous = step.grid
    return failures


def summarise(symbol, steps, versions, gate_config) -> dict:
    events = [e for s in steps for e in s.events]
    stops = [e for e in events if e.kind == "stop"]
    restarts = [e for e in events if e.kind == "restart"]
    passages = Counter(e.details["gate"] for e in events if e.kind == "gate_passed")
    hours_stopped = sum(1 for s in steps if s.evaluation.phase is not Phase.ACTIVE)
    verdicts = Counter(s.market.verdict or "insufficient" for s in steps)
    actions = Counter(s.action.value for s in steps if s.action is not None)
    at_restart = [e.details["hours_stopped"] for e in restarts]
    return {
        "symbol": symbol,
        "hours": len(steps),
        "first_hour": iso_z(steps[0].hour, microseconds=True),
        "last_hour": iso_z(steps[-1].hour, microseconds=True),
        "verdicts": dict(verdicts),
        "actions": dict(actions),
        "stops": len(stops),
        "stop_reasons": dict(Counter(e.reason.split(":")[0] for e in stops)),
        "gate_passages": {str(g): passages[g] for g in (1, 2, 3)},
        "restarts": len(restarts),
        "hours_stopped": hours_stopped,
        "hours_stopped_at_restart": at_restart,
        "restart_classifier_verdicts": dict(Counter(e.details["classifier_verdict"] for e in restarts)),
        "min_hours_stopped_at_restart": min(at_restart, default=None),
        "retriggers_within_24h": sum(1 for e in stops if e.details["hours_since_restart"] is not None
                                     and e.details["hours_since_restart"] <= RETRIGGER_HOURS),
        "promotions": sum(1 for e in events if e.kind == "promotion"),
        "repositions": sum(1 for e in events if e.kind == "reposition"),
        "grid_versions": versions,
        "time_floor_hours": gate_config.min_hours_stopped,
        "events": [e.to_dict() for e in events if e.kind != "initial"],
    }


def render(s: dict) -> str:
    lines = [
        f"# Gate scenario: {s['symbol']} {s['first_hour']} .. {s['last_hour']} ({s['hours']} hours)",
        "",
        f"- verdicts: {s['verdicts']}",
        f"- actions: {s['actions']}",
        f"- stops: {s['stops']} (reasons: {s['stop_reasons']})",
        (f"- gate passages: Gate 1 {s['gate_passages']['1']}, Gate 2 {s['gate_passages']['2']}, "
         f"Gate 3 {s['gate_passages']['3']}"),
        (f"- restarts: {s['restarts']}; hours stopped at restart: {s['hours_stopped_at_restart']} "
         f"(min {s['min_hours_stopped_at_restart']}, floor {s['time_floor_hours']}); classifier verdict at "
         f"restart: {s['restart_classifier_verdicts']}"),
        f"- hours stopped in total: {s['hours_stopped']}",
        f"- re-triggers (stop within 24 h of a restart): {s['retriggers_within_24h']}",
        f"- probation promotions: {s['promotions']}; repositions: {s['repositions']}",
        f"- grid history versions: {s['grid_versions']} (chain verified)",
        f"- checks failed: {len(s['failures'])}" + (f": {s['failures'][:5]}" if s["failures"] else ""),
    ]
    return "\n".join(lines)


def bench() -> int:
    """Per-call timings of the grid layer on hand-built states (no data needed)."""
    import tempfile
    import timeit

    from gridregime.grid import GateState, GridConfig, MarketState, initial_state

    h0 = datetime(2025, 6, 1, tzinfo=UTC)

    def market(i: int) -> MarketState:
        return MarketState(symbol="ETH-USDT", hour=h0 + i * HOUR, verdict="RANGE_OK", trend_score=20.0,
                           mean_rev_score=70.0, vol_change_score=20.0, range_quality_score=80.0, grid_capacity=20,
                           grid_capacity_ok=True, spacing=0.5, adx=40.0 - i, atr=1.0, atr_rank=30.0,
                           hour_range_atr=1.0, price=105.0, range_lower=100.0, range_upper=110.0)

    state = initial_state("ETH-USDT")
    for i in range(5):
        state = evaluate(state, market(i)).state
        if i == 0:
            state = stop(state, market(0).hour, "bench")
    m = market(5)
    grid = GridConfig("ETH-USDT", 100.0, 110.0, 11, 1000.0)
    ready = GateState(symbol="ETH-USDT", phase=Phase.READY, stopped_at=m.hour, last_hour=m.hour)
    disabled = grid.with_changes(enabled=False)
    n = 20000
    rows = [
        ("evaluate (one bar at Gate 2)", timeit.timeit(lambda: evaluate(state, m), number=n) / n),
        ("recommend (KEEP)", timeit.timeit(lambda: recommend(m, grid, state), number=n) / n),
        ("recommend (ENABLE_GRID + probation grid)", timeit.timeit(lambda: recommend(m, disabled, ready), number=n) / n),
        ("gate state JSON round trip", timeit.timeit(lambda: GateState.from_json(state.to_json()), number=n) / n),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = GridHistoryStore(tmp)
        store.update("ETH-USDT", "initial", config=grid)
        k = 200
        rows.append((f"store.update (lock, verify tail, append, fsync; {k} versions)",
                     timeit.timeit(lambda: store.update("ETH-USDT", "bench", levels=12), number=k) / k))
        rows.append((f"store.verify ({k + 1} versions)", timeit.timeit(lambda: store.verify("ETH-USDT"), number=20) / 20))
    hours = [market(i) for i in range(500)]
    t0 = time.perf_counter()
    GridSupervisor("ETH-USDT", initial_grid=grid).run(hours)
    rows.append(("supervisor.step (in memory, 500 kept hours)", (time.perf_counter() - t0) / len(hours)))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for h in hours[:200]:
            GridSupervisor("ETH-USDT", store_dir=tmp, initial_grid=grid).step(h)
        rows.append(("supervisor.step (new object + state dir, 200 kept hours)", (time.perf_counter() - t0) / 200))
    for name, seconds in rows:
        print(f"{name:58s} {seconds * 1e6:10.1f} us")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", action="store_true", help="only time the grid layer on hand-built states")
    parser.add_argument("--data", help="directory of SYMBOL_TF_FIRST_LAST.parquet files")
    parser.add_argument("--file", default="ETH-USDT_1m_2025-05-20_2025-08-18", help="1m file stem to replay")
    parser.add_argument("--out", default="out/gate_scenario", help="working directory for snapshots and state")
    parser.add_argument("--quick-stop-atr", type=float, default=None,
                        help="what-if: probation quick-stop distance beyond a grid bound, in ATR (default 0.5)")
    parser.add_argument("--per-snapshot", action="store_true",
                        help="analyse each hour from its own snapshot (default: one batch pass over the range)")
    args = parser.parse_args(argv)
    if args.bench:
        return bench()
    if not args.data:
        parser.error("--data is required (a directory of SYMBOL_TF_FIRST_LAST.parquet files)")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
