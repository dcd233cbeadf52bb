"""``gridregime grid verify SYMBOL``: check (and on request mend) a grid configuration history."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grid",
        help="inspect grid configuration histories",
        description="Grid configuration histories (hash-chained, append-only; SPEC §6).",
    )
    gsub = p.add_subparsers(dest="grid_command", metavar="ACTION")
    gsub.required = True
    v = gsub.add_parser(
        "verify",
        help="verify a symbol's grid history; --repair mends a damaged one",
        description="Check the hash chain and head file of SYMBOL's grid history. Exit status 0 when it "
        "verifies, 1 when it does not. With --repair, a history that fails is mended: the longest valid "
        "prefix is kept, the damaged files are kept beside it (*.damaged-<time>) and the repair is "
        "recorded as a new entry.",
    )
    v.add_argument("symbol", metavar="SYMBOL", help="market, e.g. ETH-USDT")
    v.add_argument("--dir", required=True, metavar="DIR",
                   help="directory holding SYMBOL.jsonl (a --grid-dir of batch or a store dir: DIR/grids is used "
                   "when it holds the history)")
    v.add_argument("--repair", action="store_true", help="mend a history that fails verification")
    v.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gridregime.errors import InvalidParameterError
    from gridregime.grid.store import GridHistoryStore
    from gridregime.symbols import validate_symbol

    symbol = validate_symbol(args.symbol, name="SYMBOL")
    directory = Path(args.dir)
    if not directory.is_dir():
        raise InvalidParameterError(f"--dir: expected a directory, got {args.dir!r}")
    nested = directory / "grids"
    if not (directory / f"{symbol}.jsonl").exists() and (nested / f"{symbol}.jsonl").exists():
        directory = nested
    store = GridHistoryStore(directory)
    report = store.verify(symbol)
    if report.ok:
        tail = " (a partial last line from an interrupted write is ignored)" if report.torn_tail else ""
        print(f"{store.path(symbol)}: ok, {report.versions} version(s){tail}")
        return 0
    print(f"{store.path(symbol)}: FAILED verification, {len(report.problems)} problem(s):")
    for problem in report.problems:
        print(f"  {problem}")
    if not args.repair:
        print("history left untouched; run again with --repair to keep the valid versions and record the repair")
        return 1
    fixed = store.repair(symbol)
    for path in fixed.damaged_files:
        print(f"damaged file kept as {path}")
    if fixed.entry is None:
        print("repaired: no valid version was left; the history starts empty")
    else:
        print(f"repaired: kept versions 1..{fixed.versions_kept}, recorded the repair as version {fixed.entry.version}")
    after = store.verify(symbol)
    print(f"{store.path(symbol)}: {'ok' if after.ok else 'still failing'}, {after.versions} version(s)")
    return 0 if after.ok else 1
