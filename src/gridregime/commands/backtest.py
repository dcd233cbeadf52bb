"""``gridregime backtest``: re-analyse a range, supervise it, simulate every policy, write a report."""
from __future__ import annotations

import argparse

from gridregime.commands import _options as options
from gridregime.errors import InvalidParameterError

_SETTINGS = {"levels", "fee", "path", "seeds", "budget", "lot", "min_notional", "bootstrap_seed", "resamples"}


def register(sub: argparse._SubParsersAction) -> None:
    p = options.add_command(
        sub, "backtest", run,
        help="judge verdicts and grid decisions by what a grid would have earned",
        description="""
            Re-analyse every stored hour from --start to --end (inclusive), drive the grid supervisor hour by
            hour, simulate the policies ALWAYS, VERDICT, STICKY, SUPERVISOR, ADX_FILTER, VOL_PREMIUM, RANDOM, HOLD
            and FLAT on the 1m bars of the snapshots, and write report.md, report.json, hours.parquet and
            equity.parquet into --out. With --source instead of --root the hourly bars of a data source are
            analysed and traded directly (coarse mode, flagged in the report).
        """,
    )
    where = p.add_mutually_exclusive_group(required=True)
    options.add_root(where, required=False)
    where.add_argument("--source", metavar="KIND:PATH",
                       help="coarse mode: a data source of 1h bars, e.g. parquet:DIR or binance-csv:PATH")
    options.add_symbols_range(p)
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the report and tables")
    options.add_config(p, "settings TOML file: [regime] analysis, [gates] and [grid] for the supervisor")
    p.add_argument("--levels", type=int, default=10, help="levels of the simple policies' grids (default 10)")
    p.add_argument("--fee", type=float, default=0.00075, help="fee per fill as a fraction (default 0.00075)")
    p.add_argument("--path", choices=("pessimistic", "ohlc"), default="pessimistic",
                   help="intrabar path of the headline figures (default pessimistic)")
    p.add_argument("--seeds", type=int, default=20, help="RANDOM policy seeds (default 20)")
    p.add_argument("--budget", type=float, default=1000.0, help="quote budget per symbol-range (default 1000)")
    p.add_argument("--lot", type=float, default=None, help="base quantity step (default: auto from the price)")
    p.add_argument("--min-notional", dest="min_notional", type=float, default=5.0,
                   help="smallest order in quote units (default 5)")
    p.add_argument("--bootstrap-seed", dest="bootstrap_seed", type=int, default=0,
                   help="seed of the day-block bootstrap and of RANDOM (default 0)")
    options.add_workers(p)
    options.add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gridregime.backtest import BacktestSettings, run_backtest, symbol_range, write_report
    from gridregime.backtest.report import policy_table
    from gridregime.commands._config import load_settings_option

    options.check_workers(args.workers)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidParameterError(f"--out: expected a directory, got {args.out!r} (a file)")
    symbols = options.split_symbols(args.symbols)
    with options.named_as_options(_SETTINGS | {"start", "end", "root", "symbols"}):
        settings = BacktestSettings(levels=args.levels, fee=args.fee, path=args.path, seeds=args.seeds,
                                    budget=args.budget, lot=args.lot, min_notional=args.min_notional,
                                    bootstrap_seed=args.bootstrap_seed)
        ranges = [symbol_range(s, args.start, args.end, root=args.root, source=args.source) for s in symbols]
    config, supervisor = load_settings_option(args.config)
    result = run_backtest(ranges, config=config, settings=settings, workers=args.workers,
                          progress=not args.quiet, supervisor=supervisor)
    paths = write_report(result, out)
    print("\n".join(policy_table(result.pooled["policies"])))
    for d in result.differences:
        if d["kind"] == "forward_hold" and d["estimate"] is not None:
            print(f"24 h range-hold, {d['a']} minus all hours: {100 * d['estimate']:+.1f} pp "
                  f"(90 % CI {100 * (d['low'] or 0):+.1f} … {100 * (d['high'] or 0):+.1f})")
    for f in result.failures:
        print(f"not backtested: {f['range']}: {f['reason']}")
    print(f"report: {paths['report_md']}")
    print(f"done in {result.seconds:.1f} s")
    return 0
