"""``gridregime dashboard``: build the static dashboard site from the snapshot store."""
from __future__ import annotations

import argparse

from gridregime.commands import _options as options


def register(sub: argparse._SubParsersAction) -> None:
    p = options.add_command(
        sub, "dashboard", run,
        help="build an offline static dashboard site (index + one page per symbol)",
        description="""
            Build a static site from the snapshot files: per symbol, candles with the discovered range and the
            grid levels, the verdict ribbon, confidence and scores, stops, restarts and repositions with their
            reasons, and the restart-gate timeline; an index across symbols. Without --results / --grid the
            analysis and the grid supervisor run on the store. No network is used; open OUT/index.html in a
            browser. Needs the dashboard extra: pip install "gridregime[dashboard]".
        """,
    )
    options.add_root(p)
    options.add_symbols_range(p)
    p.add_argument("--out", required=True, metavar="SITE", help="site directory to write (index.html inside)")
    p.add_argument("--results", default=None, metavar="FILE",
                   help="results table (Parquet) of gridregime batch --out; default: analyse here")
    p.add_argument("--grid", default=None, metavar="FILE",
                   help="grid table (Parquet) of gridregime batch --grid-out; default: supervise here")
    p.add_argument("--backtest", default=None, metavar="DIR",
                   help="backtest report directory (equity.parquet): equity curves per policy")
    options.add_config(p, "RegimeConfig TOML file (for the analysis run here)")
    options.add_workers(p, purpose=" for the analysis")
    options.add_quiet(p, "no progress bar, print only the index path")


#: Keyword arguments of ``build_dashboard`` that are options of this command (errors name the option).
_OPTIONS = {"root", "symbols", "start", "end", "out", "results", "grid", "backtest", "workers"}


def run(args: argparse.Namespace) -> int:
    from gridregime.commands._config import load_config_option as load_config
    from gridregime.dashboard import build_dashboard

    symbols = options.split_symbols(args.symbols, required=False)
    with options.named_as_options(_OPTIONS):
        report = build_dashboard(args.root, symbols, args.start, args.end, args.out, results=args.results,
                                 grid=args.grid, backtest=args.backtest, config=load_config(args.config),
                                 workers=args.workers, progress=not args.quiet)
    if not args.quiet:
        for note in report.notes:
            print(f"note: {note}")
        print(f"{len(report.pages)} symbol page(s), {report.site_bytes / 1e6:.1f} MB, "
              f"built in {report.seconds:.1f} s")
    print(report.index)
    return 0
