"""Where the demo finds market data: the first of these that exists.

1. The directory named by the ``GRIDREGIME_SAMPLE_DATA`` environment variable.
2. A ``shared/data/real`` directory in the current directory or one of its parents (a checkout
   next to the project's development data).
3. The small real slice shipped inside the package (``gridregime/data``).
4. The synthetic source (always available).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

from gridregime.collect.sources.parquet import ParquetDirSource
from gridregime.collect.sources.synthetic import SyntheticSource
from gridregime.errors import InvalidParameterError

SAMPLE_DATA_ENV = "GRIDREGIME_SAMPLE_DATA"
#: Week the demo uses when it falls back to the synthetic market.
SYNTHETIC_DEMO_START = datetime(2025, 6, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class SampleData:
    """A source for the demo, where it came from, and the range of 1m data it holds."""

    source: object
    origin: str  # "env", "shared", "package" or "synthetic"
    description: str
    start: datetime
    end: datetime
    has_hourly: bool


def packaged_data_dir() -> Path:
    return Path(str(resources.files("gridregime") / "data"))


def _candidate_dirs(cwd: Path) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for parent in (cwd, *cwd.parents):
        out.append(("shared", parent / "shared" / "data" / "real"))
    out.append(("package", packaged_data_dir()))
    return out


def _from_dir(origin: str, directory: Path, symbol: str, days: int, history_hours: int) -> SampleData | None:
    source = ParquetDirSource(directory)
    files = source.files(symbol, "1m")
    if not files:
        return None
    latest = max(files, key=lambda f: (f.first, f.last))
    # Leave room for a full hourly history inside the file when it is long enough.
    # Otherwise take the file's last ``days`` days, so the minutes before them still seed history.
    lead = timedelta(days=-(-history_hours // 24))
    if latest.start + lead + timedelta(days=days) <= latest.end:
        start = latest.start + lead
    else:
        start = max(latest.start, _day_floor(latest.end - timedelta(days=days)))
    end = min(start + timedelta(days=days), latest.end)
    return SampleData(source, origin, f"{directory} ({latest.path.name})", start, end,
                      has_hourly=bool(source.files(symbol, "1h")))


def _day_floor(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def find_sample_data(symbol: str = "ETH-USDT", *, days: int = 7, history_hours: int = 1000,
                     cwd: Path | None = None) -> SampleData:
    """Pick the demo's data: ``days`` days of the most recent 1m file for ``symbol``.

    The days start ``history_hours`` (rounded up to whole days) after the file's first day when
    the file is long enough, so every snapshot gets a full hourly history from the minutes;
    otherwise they start with the file (and ``1h`` files in the same directory, if any, seed
    the history).

    Raises
    ------
    InvalidParameterError
        If ``GRIDREGIME_SAMPLE_DATA`` is set but is not a directory holding ``symbol`` 1m files.
    """
    env = os.environ.get(SAMPLE_DATA_ENV)
    if env:
        directory = Path(env)
        if not directory.is_dir():
            raise InvalidParameterError(f"{SAMPLE_DATA_ENV}: expected a directory of Parquet files, got {env!r}")
        found = _from_dir("env", directory, symbol, days, history_hours)
        if found is None:
            raise InvalidParameterError(
                f"{SAMPLE_DATA_ENV}: no {symbol}_1m_FIRST_LAST.parquet file in {env!r}"
            )
        return found
    for origin, directory in _candidate_dirs(Path.cwd() if cwd is None else cwd):
        if directory.is_dir():
            found = _from_dir(origin, directory, symbol, days, history_hours)
            if found is not None:
                return found
    start = SYNTHETIC_DEMO_START
    source = SyntheticSource(0)
    return SampleData(source, "synthetic", "synthetic regime-switching market (seed 0)", start,
                      start + timedelta(days=days), has_hourly=True)
