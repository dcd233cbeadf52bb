"""``gridregime backtest``: re-analyse a range, supervise it, simulate every policy, write a report."""
from __future__ import annotations

import argparse

from gridregime.errors import InvalidParameterError

_SETTINGS = {"levels", "fee", "path", "seeds", "budget", "lot", "min_notional", "bootstrap_seed", "resamples"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backtest",
        help="judge verdicts and grid decisions by what a grid would have earned",
        description="Re-analyse every stored hour from --start to --end (inclusive), drive the grid "
        "supervisor hour by hour, simulate the policies ALWAYS, VERDICT, STICKY, SUPERVISOR, ADX_FILTER, "
        "RANDOM, HOLD and FLAT on the 1m bars of the snapshots, and write report.md, report.json, "
        "hours.parquet and equity.parquet into --out. With --source instead of --root the hourly bars of "
        "a data source are analysed and traded directly (coarse mode, flagged in the report).",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--root", help="snapshot root directory")
    where.add_argument("--source", metavar="KIND:PATH",
                       help="coarse mode: a data source of 1h bars, e.g. parquet:DIR or binance-csv:PATH")
    p.add_argument("--symbols", required=True, nargs="+", help="symbols, e.g. ETH-USDT BTC-USDT")
    p.add_argument("--start", required=True, help="first hour, ISO-8601 (UTC)")
    p.add_argument("--end", required=True, help="last hour, ISO-8601 (UTC), inclusive")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the report and tables")
    p.add_argument("--config", default=None, help="settings TOML file: [regime] analysis, [gates] and [grid] for the supervisor")
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
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gridregime.backtest import BacktestSettings, run_backtest, symbol_range, write_report
    from gridregime.backtest.report import policy_table
    from gridregime.commands._config import load_settings_option

    if args.workers < 1:
        raise InvalidParameterError(f"--workers: expected an integer >= 1, got {args.workers}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidParameterError(f"--out: expected a directory, got {args.out!r} (a file)")
    symbols = [s for item in args.symbols for s in item.split(",") if s]
    if not symbols:
        raise InvalidParameterError("--symbols: expected at least one symbol such as ETH-USDT")
    try:
        settings = BacktestSettings(levels=args.levels, fee=args.fee, path=args.path, seeds=args.seeds,
                                    budget=args.budget, lot=args.lot, min_notional=args.min_notional,
                                    bootstrap_seed=args.bootstrap_seed)
        ranges = [symbol_range(s, args.start, args.end, root=args.root, source=args.source) for s in symbols]
    except InvalidParameterError as exc:
        name, sep, rest = str(exc).partition(":")
        if sep and name in _SETTINGS | {"start", "end", "root", "symbols"}:
            raise InvalidParameterError(f"--{name.replace('_', '-')}:{rest}") from exc
        raise
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
