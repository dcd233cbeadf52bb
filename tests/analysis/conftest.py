"""Fixtures of the analysis tests: synthetic bars built here (no files outside tests/data)."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from gridregime.bars import aggregate_hourly, bars_table
from gridregime.timeutil import MINUTE_MS, to_ms

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def random_minutes(n_hours: int, seed: int = 0, start: datetime = START, decimals: int = 2,
                   drift_per_hour: float = 0.0):
    """A seeded random-walk market of ``n_hours`` × 60 one-minute bars, prices at ``decimals`` decimals.

    Volatility and drift switch every few days so that ranks and scores vary.
    """
    rng = np.random.default_rng(seed)
    n = n_hours * 60
    vol = np.repeat(rng.choice([0.0008, 0.0015, 0.003], size=n_hours // 48 + 1), 48 * 60)[:n]
    drift = np.repeat(rng.choice([-1.0, 0.0, 0.0, 1.0], size=n_hours // 36 + 1), 36 * 60)[:n]
    steps = rng.normal(0.0, 1.0, n) * vol + drift * drift_per_hour / 60.0
    close = 2000.0 * np.exp(np.cumsum(steps))
    open_ = np.r_[close[0], close[:-1]]
    wick = np.abs(rng.normal(0, 0.4, n)) * vol * close
    high = np.maximum(open_, close) + wick
    low = np.minimum(open_, close) - wick
    q = lambda x: np.round(x, decimals)  # noqa: E731 - prices at tick (nearest double)
    open_, high, low, close = q(open_), q(high), q(low), q(close)
    high = np.maximum.reduce([high, open_, close])
    low = np.minimum.reduce([low, open_, close])
    ts = to_ms(start) + np.arange(n, dtype=np.int64) * MINUTE_MS
    volume = np.round(rng.gamma(2.0, 5.0, n), 4)
    return bars_table(ts, open_, high, low, close, volume)


@pytest.fixture(scope="session")
def market():
    """(minute, hourly) tables: 1500 hours of a seeded random market."""
    minute = random_minutes(1500, seed=7, drift_per_hour=0.004)
    hourly, _ = aggregate_hourly(minute)
    return minute, hourly
