"""``gridregime calibrate``: choose analysis and supervisor settings walk-forward (past windows only)."""
from __future__ import annotations

import argparse

from gridregime.commands import _options as options
from gridregime.errors import InvalidParameterError


def register(sub: argparse._SubParsersAction) -> None:
    p = options.add_command(
        sub, "calibrate", run,
        help="choose settings walk-forward and report in-sample next to out-of-sample",
        description="""
            Cut --start..--end into folds of --train-months followed by --test-months (30-day months). In each
            fold, backtest the defaults and every combination of the --vary values on the training window,
            keep the best by --objective, and score it on the test window it never saw. Writes the values
            chosen on the most recent training window as a settings TOML (--out) and the fold table
            (--report).
        """,
    )
    options.add_root(p)
    options.add_symbols_range(p)
    p.add_argument("--train-months", dest="train_months", type=int, required=True, help="training window, months")
    p.add_argument("--test-months", dest="test_months", type=int, required=True, help="test window, months")
    p.add_argument("--vary", required=True, nargs="+", metavar="NAME=V1,V2",
                   help="RegimeConfig fields, gates.<field> or grid.<field>, and the values to try, e.g. "
                   "grid_start_min_room_atr=1.25,1.75,2.25 gates.min_hours_stopped=6,12")
    p.add_argument("--objective", default="start_hold",
                   choices=("start_hold", "start_grid_pnl", "supervisor", "supervisor_return"),
                   help="what a configuration is chosen by (default start_hold)")
    options.add_config(p, "settings TOML the candidates start from ([regime], [gates], [grid])")
    p.add_argument("--out", required=True, metavar="FILE", help="write the chosen values here (TOML)")
    p.add_argument("--report", default=None, metavar="DIR", help="also write calibrate.md and calibrate.json here")
    options.add_workers(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import orjson

    from gridregime._atomic import atomic_write_bytes, atomic_write_text
    from gridregime.backtest.calibrate import parse_vary, walk_forward
    from gridregime.commands._config import load_settings_option

    options.check_store_root(args.root)
    if not Path(args.out).parent.is_dir():
        raise InvalidParameterError(f"--out: expected a file in an existing directory, got {args.out!r}")
    options.check_workers(args.workers)
    symbols = options.split_symbols(args.symbols, required=False)
    vary = parse_vary(args.vary)
    base, supervisor = load_settings_option(args.config)
    with options.named_as_options(("train_months", "test_months", "start", "end", "symbols")):
        result = walk_forward(args.root, symbols, args.start, args.end, train_months=args.train_months,
                              test_months=args.test_months, vary=vary, objective=args.objective,
                              base=base, supervisor=supervisor, workers=args.workers)
    atomic_write_text(Path(args.out), result.to_toml())
    md = result.to_markdown()
    if args.report:
        report = Path(args.report)
        report.mkdir(parents=True, exist_ok=True)
        atomic_write_text(report / "calibrate.md", md)
        atomic_write_bytes(report / "calibrate.json", orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    print(md, end="")
    print(f"chosen values: {args.out}")
    return 0
