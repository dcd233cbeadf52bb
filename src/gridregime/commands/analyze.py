"""``gridregime analyze``: analyse one hour from the snapshot store and print the result as JSON."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import orjson

from gridregime.commands._options import add_command, add_config, add_root
from gridregime.errors import InvalidParameterError


def register(subparsers) -> None:
    p = add_command(
        subparsers, "analyze", run, help="analyse one hour from snapshots; print the RegimeResult as JSON",
        description="""
            Load the snapshot of SYMBOL at HOUR from ROOT, run the regime engine and print the result as JSON
            (schema: gridregime/schemas/regime_result.schema.json).
        """,
    )
    add_root(p)
    p.add_argument("--symbol", required=True, help="market, e.g. ETH-USDT")
    p.add_argument("--hour", required=True, help="hour to analyse, ISO-8601 UTC, e.g. 2024-01-15T13:00Z")
    p.add_argument("--grid", default=None,
                   help="JSON file of the configured grid (lower, upper, levels; a JSON-lines history "
                        "uses its last entry); adds the grid comparison")
    add_config(p, "RegimeConfig TOML file (default: built-in defaults)")
    p.add_argument("--out", default=None, help="write the JSON here instead of stdout")
    p.add_argument("--compact", action="store_true", help="one-line JSON")


def load_grid(path: str | Path) -> SimpleNamespace:
    """Read ``lower``, ``upper`` and ``levels`` from a grid JSON file (or the last line of a
    JSON-lines history; fields may sit at the top level or under ``"config"``)."""
    from gridregime.snapshot.errors import SnapshotNotFoundError
    from gridregime.snapshot.fileio import SnapshotReadError, read_snapshot_bytes

    path = Path(path)
    try:
        text = read_snapshot_bytes(path, max_bytes=1 << 24).decode("utf-8").strip()
    except SnapshotNotFoundError:
        raise InvalidParameterError(f"--grid {path}: file not found") from None
    except SnapshotReadError as exc:
        raise InvalidParameterError(f"--grid {path}: {exc.reason}") from None
    except UnicodeDecodeError:
        raise InvalidParameterError(f"--grid {path}: expected UTF-8 JSON text") from None
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        try:
            doc = orjson.loads(lines[-1]) if lines else None
        except orjson.JSONDecodeError as exc:
            raise InvalidParameterError(f"--grid {path}: invalid JSON ({exc})") from None
    if isinstance(doc, dict) and "config" in doc and isinstance(doc["config"], dict):
        doc = doc["config"]
    if not isinstance(doc, dict):
        raise InvalidParameterError(f"--grid {path}: expected a JSON object with lower, upper, levels")
    values = {}
    for field, kind in (("lower", float), ("upper", float), ("levels", int)):
        if field not in doc:
            raise InvalidParameterError(f"--grid {path}: missing field {field!r}")
        value = doc[field]
        if kind is int:
            # a whole number only: 1.9 levels is an error, not 1
            if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
                raise InvalidParameterError(f"--grid {path}: field 'levels': expected a whole number, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidParameterError(f"--grid {path}: field {field!r}: expected a finite number, got {value!r}")
        values[field] = kind(value)
    return SimpleNamespace(**values)


def run(args: argparse.Namespace) -> int:
    from gridregime.analysis import RegimeEngine
    from gridregime.commands._config import load_config_option as load_config
    from gridregime.snapshot import SnapshotReader

    engine = RegimeEngine(load_config(args.config))
    from gridregime.symbols import validate_symbol
    from gridregime.timeutil import to_utc_hour

    symbol = validate_symbol(args.symbol, name="--symbol")
    hour = to_utc_hour(args.hour, name="--hour")
    if not Path(args.root).is_dir():
        raise InvalidParameterError(f"--root: expected a snapshot directory, got {args.root!r}")
    grid = load_grid(args.grid) if args.grid else None
    snapshot = SnapshotReader(args.root).load_snapshot(symbol, hour)
    result = engine.analyze_from_snapshot(snapshot, grid_config=grid)
    data = result.to_json(indent=not args.compact) + b"\n"
    if args.out:
        from gridregime._atomic import atomic_write_bytes

        atomic_write_bytes(Path(args.out), data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
