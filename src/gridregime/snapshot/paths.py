"""Where each snapshot file lives: ``<root>/YYYY/MM/DD/HH/<SYMBOL>_<kind>.json``.

Every function here validates the symbol first, so nothing path-like ever reaches the
filesystem, and takes the hour through :func:`gridregime.timeutil.to_utc_hour`.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import to_utc_hour

TIMEFRAMES = ("1m", "1h")


def check_timeframe(timeframe: object) -> str:
    """Return ``timeframe`` if it is one of the market-file timeframes (``"1m"``, ``"1h"``)."""
    if timeframe not in TIMEFRAMES:
        raise InvalidParameterError(f"timeframe: expected one of {list(TIMEFRAMES)}, got {timeframe!r}")
    return timeframe  # type: ignore[return-value]


def hour_dir(root: str | os.PathLike, hour: object) -> Path:
    """Directory ``<root>/YYYY/MM/DD/HH`` of an hour."""
    h = to_utc_hour(hour)
    return Path(root) / f"{h.year:04d}" / f"{h.month:02d}" / f"{h.day:02d}" / f"{h.hour:02d}"


def market_file_name(symbol: str, timeframe: str) -> str:
    return f"{validate_symbol(symbol)}_{check_timeframe(timeframe)}.json"


def market_path(root: str | os.PathLike, symbol: str, timeframe: str, hour: object) -> Path:
    """Path of the 1m or 1h market file of ``symbol`` at ``hour``."""
    name = market_file_name(symbol, timeframe)
    return hour_dir(root, hour) / name


def analysis_path(root: str | os.PathLike, symbol: str, hour: object) -> Path:
    """Path of the analysis (``<SYMBOL>_regime.json``) of ``symbol`` at ``hour``."""
    name = f"{validate_symbol(symbol)}_regime.json"
    return hour_dir(root, hour) / name


def summary_path(root: str | os.PathLike, symbol: str, hour: object) -> Path:
    """Path of the human-readable summary ``<root>/YYYY/MM/DD/HH_<SYMBOL>.yaml``."""
    symbol = validate_symbol(symbol)
    h = to_utc_hour(hour)
    return Path(root) / f"{h.year:04d}" / f"{h.month:02d}" / f"{h.day:02d}" / f"{h.hour:02d}_{symbol}.yaml"


def parse_market_file_name(name: str) -> tuple[str, str] | None:
    """``"ETH-USDT_1m.json"`` → ``("ETH-USDT", "1m")``; ``None`` for anything else."""
    if not name.endswith(".json") or name.startswith("."):
        return None
    stem = name[:-5]
    symbol, sep, timeframe = stem.rpartition("_")
    if not sep or timeframe not in TIMEFRAMES:
        return None
    try:
        validate_symbol(symbol)
    except InvalidParameterError:
        return None
    return symbol, timeframe


def hour_of_dir(year: str, month: str, day: str, hour: str) -> datetime | None:
    """The hour named by the four directory levels, or ``None`` if they do not name one."""
    if not (len(year) == 4 and len(month) == len(day) == len(hour) == 2):
        return None
    if not (year.isdigit() and month.isdigit() and day.isdigit() and hour.isdigit()):
        return None
    try:
        return to_utc_hour(datetime(int(year), int(month), int(day), int(hour)))
    except ValueError:
        return None
