"""``gridregime collect``: store, analyse and supervise the hour that just closed (cron-friendly)."""
from __future__ import annotations

import argparse
import sys

import orjson

from gridregime.commands._options import add_command, add_config, add_created_root, add_grid_dir
from gridregime.errors import InvalidParameterError

EPILOG = """\
sources (KIND:PATH):
  ccxt:EXCHANGE        a live exchange through ccxt (extra 'exchange'), e.g. ccxt:binance
  parquet:DIR          SYMBOL_TF_FIRST_LAST.parquet files
  binance-csv:PATH     a Binance public-data kline CSV or zip, or a directory of them
  freqtrade:DIR        freqtrade PAIR-TF.json / .feather files
  synthetic:SEED       the seeded regime-switching market

examples:
  # crontab, five seconds past every hour
  0 * * * * sleep 5; gridregime collect --source ccxt:binance --symbols ETH-USDT BTC-USDT --root /srv/snapshots
  # one given hour, offline
  gridregime collect --source parquet:data/real --symbols ETH-USDT --root snapshots --hour 2021-04-19T13:00Z
  # backfill, hour by hour through the same path
  gridregime collect --source parquet:data/real --symbols ETH-USDT --root snapshots \\
      --start 2021-04-19T00:00Z --end 2021-04-21T23:00Z

Exit status: 0 when every symbol-hour was stored and analysed, 1 when any was incomplete or
failed (the output says which and why), 2 on bad options.
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers, "collect", run,
        help="store the hour that just closed, analyse it, write the YAML summary, step the grid",
        description="""
            For each symbol: fetch the minutes of the hour that just closed (or --hour, or every hour of
            --start..--end), store the snapshot, analyse it from the stored files, write _regime.json and
            HH_SYMBOL.yaml and step the grid supervisor. Hours already collected are answered from the stored
            files.
        """,
        epilog=EPILOG,
    )
    p.add_argument("--source", required=True, metavar="KIND:PATH", help="where the bars come from")
    p.add_argument("--symbols", required=True, nargs="+", help="markets, e.g. ETH-USDT BTC-USDT (or comma-separated)")
    add_created_root(p)
    when = p.add_mutually_exclusive_group()
    when.add_argument("--hour", help="collect this hour (UTC, ISO-8601) instead of the one that just closed")
    when.add_argument("--start", help="backfill from this hour (UTC, ISO-8601), with --end")
    p.add_argument("--end", help="last hour of a backfill, inclusive")
    add_grid_dir(p)
    add_config(p)
    p.add_argument("--json", action="store_true", help="print the answers as JSON (one object per hour)")


def _symbols(items: list[str]) -> list[str]:
    symbols = [s.strip() for item in items for s in item.split(",") if s.strip()]
    if not symbols:
        raise InvalidParameterError("--symbols: expected at least one symbol such as ETH-USDT")
    return symbols


def _rename(exc: InvalidParameterError, names: dict[str, str]) -> InvalidParameterError:
    name, sep, rest = str(exc).partition(":")
    if sep and name in names:
        return InvalidParameterError(f"{names[name]}:{rest}")
    return exc


def run(args: argparse.Namespace) -> int:
    from gridregime.collect import open_source
    from gridregime.collect.collector import MetricsCollector
    from gridregime.commands._config import load_config_option as load_config

    if args.end is not None and args.start is None:
        raise InvalidParameterError("--end: only meaningful with --start")
    if args.start is not None and args.end is None:
        raise InvalidParameterError("--start: expected --end as well (the last hour, inclusive)")
    symbols = _symbols(args.symbols)
    source = open_source(args.source, name="--source")
    collector = MetricsCollector(source, args.root, config=load_config(args.config), grid_dir=args.grid_dir)
    names = {"symbols": "--symbols", "hour": "--hour", "start": "--start", "end": "--end"}
    try:
        symbols = collector.check_symbols(symbols)
        if args.start is not None:
            reports = collector.collect_range(args.start, args.end, symbols)
        elif args.hour is not None:
            reports = [collector.collect_hour(args.hour, symbols)]
        else:
            reports = [collector.collect(None, symbols)]
    except InvalidParameterError as exc:
        raise _rename(exc, names) from exc
    for report in reports:
        if args.json:
            sys.stdout.write(orjson.dumps(report.to_dict()).decode() + "\n")
        else:
            for r in report.results:
                if r.status in ("ok", "insufficient_data"):
                    detail = f"{r.verdict or '-'} conf {r.confidence if r.confidence is not None else '-'}"
                    if r.action:
                        detail += f", {r.action}"
                    if r.gate_phase:
                        detail += f", gates {r.gate_phase}"
                    print(f"{r.hour} {r.symbol} {r.status}: {detail} -> {r.files.get('summary')}")
                else:
                    print(f"{r.hour} {r.symbol} {r.status}: {r.reason}")
    return 0 if all(rep.complete for rep in reports) else 1
