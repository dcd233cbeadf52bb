"""``gridregime dashboard``: build the static dashboard site from the snapshot store."""
from __future__ import annotations

import argparse

_OPTIONS = {"root", "symbols", "start", "end", "out", "results", "grid", "backtest", "workers"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard",
        help="build an offline static dashboard site (index + one page per symbol)",
        description="Build a static site from the snapshot files: per symbol, candles with the "
        "discovered range and the grid levels, the verdict ribbon, confidence and scores, stops, "
        "restarts and repositions with their reasons, and the restart-gate timeline; an index across "
        "symbols. Without --results / --grid the analysis and the grid supervisor run on the store. "
        "No network is used; open OUT/index.html in a browser. Needs the dashboard extra: "
        'pip install "gridregime[dashboard]".',
    )
    p.add_argument("--root", required=True, help="snapshot root directory")
    p.add_argument("--symbols", required=True, nargs="+", help="symbols, e.g. ETH-USDT BTC-USDT")
    p.add_argument("--start", required=True, help="first hour, ISO-8601 (UTC)")
    p.add_argument("--end", required=True, help="last hour, ISO-8601 (UTC), inclusive")
    p.add_argument("--out", required=True, metavar="SITE", help="site directory to write (index.html inside)")
    p.add_argument("--results", default=None, metavar="FILE",
                   help="results table (Parquet) of gridregime batch --out; default: analyse here")
    p.add_argument("--grid", default=None, metavar="FILE",
                   help="grid table (Parquet) of gridregime batch --grid-out; default: supervise here")
    p.add_argument("--backtest", default=None, metavar="DIR",
                   help="backtest report directory (equity.parquet): equity curves per policy")
    p.add_argument("--config", default=None, help="RegimeConfig TOML file (for the analysis run here)")
    p.add_argument("--workers", type=int, default=1, help="worker processes for the analysis (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, print only the index path")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridregime.commands._config import load_config_option as load_config
    from gridregime.dashboard import build_dashboard
    from gridregime.errors import InvalidParameterError

    symbols = [s for item in args.symbols for s in item.split(",") if s]
    try:
        report = build_dashboard(args.root, symbols, args.start, args.end, args.out, results=args.results,
                                 grid=args.grid, backtest=args.backtest, config=load_config(args.config),
                                 workers=args.workers, progress=not args.quiet)
    except InvalidParameterError as exc:
        # name the command-line option, not the keyword argument behind it
        name, sep, rest = str(exc).partition(":")
        if sep and name in _OPTIONS:
            raise InvalidParameterError(f"--{name}:{rest}") from exc
        raise
    if not args.quiet:
        for note in report.notes:
            print(f"note: {note}")
        print(f"{len(report.pages)} symbol page(s), {report.site_bytes / 1e6:.1f} MB, "
              f"built in {report.seconds:.1f} s")
    print(report.index)
    return 0
