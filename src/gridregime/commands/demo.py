"""``gridregime demo``: the main job on embedded data (see :mod:`gridregime.demo`)."""
from __future__ import annotations

import argparse

from gridregime.commands._options import add_command, add_quiet, add_workers
from gridregime.demo import DEFAULT_DAYS, DEFAULT_SYMBOLS


def register(subparsers) -> None:
    p = add_command(
        subparsers, "demo", run,
        help="build months of snapshots from the sample data, re-analyse them, write a report",
        description="""
            Import DAYS days of 1m bars per symbol into OUT/snapshots, re-analyse every hour from the stored
            files, and write OUT/results.parquet and OUT/summary.md. Data: $GRIDREGIME_SAMPLE_DATA, else a
            shared/data/real directory here or above, else the slice shipped with gridregime, else the
            synthetic market.
        """,
    )
    p.add_argument("--out", default="gridregime-demo", metavar="DIR",
                   help="output directory (default ./gridregime-demo)")
    p.add_argument("--symbols", nargs="+", default=list(DEFAULT_SYMBOLS),
                   help=f"markets (default {' '.join(DEFAULT_SYMBOLS)})")
    p.add_argument("--days", default=str(DEFAULT_DAYS), help=f"days per symbol, 1 to 366 (default {DEFAULT_DAYS})")
    add_workers(p, default=2)
    add_quiet(p, "no progress bars")


def run(args: argparse.Namespace) -> int:
    from gridregime.demo import run_demo
    from gridregime.errors import InvalidParameterError

    try:
        days = int(args.days)
    except ValueError:
        raise InvalidParameterError(f"--days: expected a whole number of days, got {args.days!r}") from None
    report = run_demo(args.out, symbols=args.symbols, days=days, workers=args.workers,
                      progress=not args.quiet)
    for imp in report.imports:
        print(f"{imp.symbol}: {imp.description}: {imp.written} hours written, {imp.unchanged} already there, "
              f"{len(imp.skipped)} skipped (incomplete minutes)")
    b = report.batch_summary
    verdicts = ", ".join(f"{k} {v}" for k, v in b["verdicts"].items())
    print(f"analysed {b['hours_analysed']} hours ({verdicts}); skipped {b['hours_skipped']} "
          f"{b['skipped_by_reason'] or ''}".rstrip())
    for sym, h in report.hold_rates.items():
        print(f"{sym}: 24 h range-hold {h['hold_range_ok']:.3f} for RANGE_OK hours vs {h['hold_all']:.3f} for all")
    for sym, ev in report.grid_events.items():
        print(f"{sym}: grid {ev.get('stop', 0)} stops, {ev.get('restart', 0)} restarts, "
              f"{ev.get('reposition', 0)} repositions")
    if report.backtest is not None:
        pol = report.backtest.pooled["policies"]
        print("following each policy (backtest, mean over symbols): " + ", ".join(
            f"{name} {100 * pol[name]['mean_return']:+.2f} % (max DD {100 * pol[name]['mean_max_drawdown']:.1f} %)"
            for name in ("ALWAYS", "VERDICT", "STICKY", "SUPERVISOR", "VOL_PREMIUM", "HOLD") if name in pol))
        print(f"backtest:      {(report.backtest_dir / 'report.md').resolve()}")
    if report.dashboard is not None:
        print(f"dashboard:     {report.dashboard.index.resolve()}")
    elif report.dashboard_error:
        print(f"dashboard not built: {report.dashboard_error}")
    print(f"snapshots:     {report.snapshots.resolve()}")
    print(f"results table: {report.results_table.resolve()}")
    print(f"grid table:    {report.grid_table.resolve()}")
    print(f"summary:       {report.summary_md.resolve()}")
    print(f"done in {report.seconds['total']:.1f} s")
    return 0 if b["hours_analysed"] else 1
