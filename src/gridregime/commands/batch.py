"""``gridregime batch``: re-analyse a range of stored hours for one or more symbols."""
from __future__ import annotations

import argparse
import os
import sys

import orjson

from gridregime.commands import _options as options
from gridregime.service import EXECUTORS

_OPTIONS = {"start", "end", "symbols", "workers", "executor"}


def register(sub: argparse._SubParsersAction) -> None:
    p = options.add_command(
        sub, "batch", run,
        help="re-analyse a range of stored hours (one pass per symbol, parallel)",
        description="""
            Analyse every stored hour from --start to --end (inclusive) for each symbol, print a summary and
            optionally write the results table (Parquet). An hour that cannot be read or is invalid is skipped
            and named with the reason; the others are analysed. Exit status 1 when no hour was analysed, or
            with --strict when any hour was skipped.
        """,
    )
    options.add_root(p)
    options.add_symbols_range(p)
    options.add_workers(p)
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="serial, process (default with --workers > 1) or dask")
    options.add_config(p)
    p.add_argument("--out", default=None, help="write the results table to this Parquet file")
    p.add_argument("--write-analysis", action="store_true",
                   help="also write each hour's _regime.json beside its snapshot")
    p.add_argument("--grid-out", default=None, metavar="FILE",
                   help="also drive recommendations and restart gates hour by hour (no grid until the first "
                   "ENABLE_GRID on RANGE_OK) and write their per-hour table to this Parquet file")
    p.add_argument("--grid-dir", default=None, metavar="DIR",
                   help="with --grid-out: persist grid histories and gate states here")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    options.add_quiet(p)
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 when any hour was skipped (missing, invalid, unreadable or failed)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gridregime.commands._config import load_config_option as load_config
    from gridregime.errors import InvalidParameterError
    from gridregime.service import ExecutionOptions, RegimeAnalysisService
    from gridregime.timeutil import iso_z, to_utc_hour

    options.check_store_root(args.root)
    options.check_workers(args.workers)
    cpus = os.cpu_count() or 1
    if args.workers > cpus and args.executor != "dask":
        print(f"gridregime batch: warning: --workers {args.workers} is more than the {cpus} CPU(s) of this "
              f"machine; using {cpus}", file=sys.stderr)
        args.workers = cpus
    if args.out and not Path(args.out).parent.is_dir():
        raise InvalidParameterError(f"--out: expected a file in an existing directory, got {args.out!r}")
    if args.grid_out and not Path(args.grid_out).parent.is_dir():
        raise InvalidParameterError(f"--grid-out: expected a file in an existing directory, got {args.grid_out!r}")
    if args.grid_dir and not args.grid_out:
        raise InvalidParameterError("--grid-dir: only meaningful with --grid-out")
    symbols = options.split_symbols(args.symbols)
    service = RegimeAnalysisService(args.root, load_config(args.config))
    with options.named_as_options(_OPTIONS):
        batch = service.analyze_many(
            symbols, args.start, args.end,
            execution=ExecutionOptions(workers=args.workers, executor=args.executor, progress=not args.quiet),
            write_analysis=args.write_analysis, keep_results=False, supervise=bool(args.grid_out),
            grid_dir=args.grid_dir,
        )
    if batch.planned is None:
        print(f"gridregime batch: note: the store at {args.root} holds no hour between --start and --end",
              file=sys.stderr)
    elif (batch.planned[0], batch.planned[1]) != (to_utc_hour(args.start), to_utc_hour(args.end)):
        print(f"gridregime batch: note: range clipped to the hours the store holds: "
              f"{iso_z(batch.planned[0])} .. {iso_z(batch.planned[1])}", file=sys.stderr)
    summary = batch.summary()
    if args.out:
        summary["results_table"] = str(batch.write_parquet(args.out))
    if args.grid_out:
        batch.write_grid_parquet(args.grid_out)
        summary["grid_events"] = batch.grid_events()
        summary["grid_table"] = str(args.grid_out)
    if args.json:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(format_summary(summary, batch.failures))
    if not batch.analysed:
        print(f"gridregime batch: error: no hour was analysed ({summary['hours_skipped']} skipped)", file=sys.stderr)
        return 1
    if args.strict and batch.failures:
        print(f"gridregime batch: error: {len(batch.failures)} hour(s) skipped (--strict)", file=sys.stderr)
        return 1
    return 0


def format_summary(summary: dict, failures) -> str:
    lines = [
        f"hours analysed: {summary['hours_analysed']}",
        f"hours skipped:  {summary['hours_skipped']}"
        + (f"  ({', '.join(f'{k}: {v}' for k, v in summary['skipped_by_reason'].items())})"
           if summary["skipped_by_reason"] else ""),
    ]
    total = sum(summary["verdicts"].values()) or 1
    for verdict, n in summary["verdicts"].items():
        lines.append(f"  {verdict:<11} {n:6d}  {100 * n / total:5.1f} %")
    if summary.get("warming_up_hours"):
        lines.append(f"  warming up: {summary['warming_up_hours']} analysed hours had fewer hourly bars behind "
                     "their ranks than a full rank window plus warm-up (confidence lowered)")
    for f in failures[:20]:
        lines.append(f"  skipped {f.symbol} {f.hour:%Y-%m-%dT%H:00Z} [{f.kind}] {f.reason}")
    if len(failures) > 20:
        lines.append(f"  ... and {len(failures) - 20} more skipped hours")
    lines.append(f"wall time: {summary['wall_time_s']:.2f} s")
    for symbol, events in summary.get("grid_events", {}).items():
        lines.append(f"grid {symbol}: " + ", ".join(f"{k} {v}" for k, v in sorted(events.items())))
    if "results_table" in summary:
        lines.append(f"results table: {summary['results_table']}")
    if "grid_table" in summary:
        lines.append(f"grid table: {summary['grid_table']}")
    return "\n".join(lines)
