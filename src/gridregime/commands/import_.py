"""``gridregime import``: build snapshots from freqtrade / Binance CSV / Parquet / synthetic data."""
from __future__ import annotations

import argparse
import sys
import warnings

from gridregime.commands._options import add_command, add_quiet
from gridregime.errors import InvalidParameterError

EPILOG = """\
sources (KIND:PATH):
  parquet:DIR          SYMBOL_TF_FIRST_LAST.parquet files (ts, open, high, low, close, volume)
  binance-csv:PATH     a Binance public-data kline CSV or zip, or a directory of them
  freqtrade:DIR        freqtrade PAIR-TF.json / .feather files (ETH_USDT-1m.feather)
  synthetic:SEED       the seeded regime-switching market

example:
  gridregime import --source parquet:data/real --symbol ETH-USDT \\
      --start 2021-04-19 --end 2021-04-22 --out snapshots --history parquet:data/real
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers, "import", run,
        help="build snapshots for every complete hour of a range from a data source",
        description="""
            Write regime-ready snapshots (1m + 1h files) for every complete hour in [--start, --end). Hours
            with missing minutes are skipped and listed.
        """,
        epilog=EPILOG,
    )
    p.add_argument("--source", required=True, metavar="KIND:PATH", help="where the 1m bars come from")
    p.add_argument("--symbol", required=True, help="market, e.g. ETH-USDT")
    p.add_argument("--start", required=True, help="first hour (UTC, ISO-8601, e.g. 2021-04-19 or 2021-04-19T05:00Z)")
    p.add_argument("--end", required=True, help="end hour, exclusive")
    p.add_argument("--out", required=True, metavar="DIR", help="snapshot store root")
    p.add_argument("--history", metavar="KIND:PATH",
                   help="source of 1h bars seeding the history before the first minute")
    p.add_argument("--history-hours", metavar="N", help="hours of history in each 1h file (default 1000)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace stored files whose content differs (raw files are immutable otherwise)")
    p.add_argument("--price-scale", metavar="N",
                   help="store prices as integers round(price * N), N a power of ten (default: inferred, "
                   "the smallest 10**d >= 100 that holds every price exactly)")
    add_quiet(p)


def _parse_int(text: str | None, option: str, ok, expected: str) -> int | None:
    """``text`` as an integer accepted by ``ok``, None when not given; a one-line error otherwise."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise InvalidParameterError(f"{option}: expected {expected}, got {text!r}")
    return value


def parse_history_hours(text: str | None) -> int | None:
    return _parse_int(text, "--history-hours", lambda v: v >= 1, "a positive integer")


def parse_price_scale(text: str | None) -> int | None:
    from gridregime.snapshot.format import is_power_of_ten

    return _parse_int(text, "--price-scale", is_power_of_ten, "a power of ten (1, 10, 100, ...)")


def _import(import_snapshots, source, symbol, start, end, storage, history, history_hours, args, price_scale):
    """Run the import; a price scale that cannot be inferred names the option that sets it."""
    try:
        return import_snapshots(source, symbol, start, end, storage, history_source=history,
                                history_hours=history_hours, progress=not args.quiet,
                                overwrite=args.overwrite, price_scale=price_scale)
    except InvalidParameterError as exc:
        if "pass the scale explicitly" in str(exc):
            raise InvalidParameterError(f"--price-scale: {exc}") from None
        raise


def run(args: argparse.Namespace) -> int:
    from gridregime.collect import import_snapshots, open_source
    from gridregime.collect.sources.parquet import SourceNote
    from gridregime.snapshot import SnapshotStorage
    from gridregime.symbols import validate_symbol
    from gridregime.timeutil import to_utc_hour

    symbol = validate_symbol(args.symbol, name="--symbol")
    start = to_utc_hour(args.start, name="--start")
    end = to_utc_hour(args.end, name="--end")
    if end <= start:
        raise InvalidParameterError(f"--end: expected a time after --start ({args.start}), got {args.end!r}")
    history_hours = parse_history_hours(args.history_hours)
    price_scale = parse_price_scale(args.price_scale)
    source = open_source(args.source, name="--source")
    history = open_source(args.history, name="--history") if args.history else None
    storage = SnapshotStorage(args.out, **({"history_hours": history_hours} if history_hours else {}))
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", SourceNote)
        report = _import(import_snapshots, source, symbol, start, end, storage, history, history_hours, args,
                         price_scale)
    notes = [n for n in notes if issubclass(n.category, SourceNote)]
    for note in notes:
        print(f"note: {note.message}", file=sys.stderr)
    print(report.summary())
    print(f"snapshots: {storage.root}")
    return 0 if (report.written or report.unchanged) else 1
