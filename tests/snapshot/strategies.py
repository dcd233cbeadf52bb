"""Hypothesis strategies for snapshot tests: valid OHLCV on a tick grid."""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from hypothesis import strategies as st

from gridregime.bars import bars_table
from gridregime.symbols import SYMBOL_RE
from gridregime.timeutil import HOUR_MS, MINUTE_MS, UTC, to_ms

symbols = st.from_regex(SYMBOL_RE, fullmatch=True)
hours = st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2025, 12, 31)).map(
    lambda d: d.replace(minute=0, second=0, microsecond=0, tzinfo=UTC))
decimals = st.integers(0, 8)


@st.composite
def tick_bars(draw, n: int, max_int: int = 10**12):
    """``n`` valid bars as scaled ints: (open, high, low, close) int64 arrays + float volumes.

    Hypothesis draws the magnitude of the ticks (1 .. ``max_int``), the width of the wicks,
    the volume regime and a seed; NumPy fills the ``n`` rows (drawing 60-row lists value by
    value through Hypothesis costs far more than the round trip under test).
    """
    top = draw(st.sampled_from([1, 2, 10, 10**3, 10**6, 10**9, max_int]))
    wick_top = draw(st.sampled_from([0, 1, 100, 10**6]))
    volume_kind = draw(st.sampled_from(["zero", "small", "large", "mixed"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    o = rng.integers(1, top, size=n, endpoint=True)
    c = rng.integers(1, top, size=n, endpoint=True)
    h = np.maximum(o, c) + rng.integers(0, wick_top, size=n, endpoint=True)
    lo = np.maximum(np.minimum(o, c) - rng.integers(0, wick_top, size=n, endpoint=True), 1)
    if volume_kind == "zero":
        v = np.zeros(n)
    elif volume_kind == "small":
        v = rng.random(n) * 1e-6
    elif volume_kind == "large":
        v = rng.random(n) * 1e9
    else:
        v = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(0, 5, n))
    return o.astype(np.int64), h.astype(np.int64), lo.astype(np.int64), c.astype(np.int64), v


def to_table(ts_ms, ints, scale: int):
    o, h, lo, c, v = ints
    s = float(scale)
    return bars_table(ts_ms, o / s, h / s, lo / s, c / s, v)


def minute_times(hour: datetime) -> np.ndarray:
    return to_ms(hour) + MINUTE_MS * np.arange(60, dtype=np.int64)


def history_times(hour: datetime, count: int, gaps: list[int]) -> np.ndarray:
    """``count`` hourly times ending with ``hour``, skipping the hour offsets listed in ``gaps``."""
    out, k = [], 0
    while len(out) < count:
        if k == 0 or k not in gaps:
            out.append(to_ms(hour) - k * HOUR_MS)
        k += 1
    return np.array(out[::-1], dtype=np.int64)


def collected(hour: datetime) -> datetime:
    return hour + timedelta(hours=1, seconds=4)
