"""Shared hypothesis strategies for kernel tests.

Arrays are built from segments so the awkward cases appear often: runs of NaN, flat
stretches, repeated values (ties), values on a coarse grid next to arbitrary floats, arrays
shorter than the window, empty arrays, and a large common offset (+1e9) that punishes naive
sums of squares.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

OFFSETS = (0.0, 1e9)

# Values on a quarter grid make exact ties and exact means common; arbitrary floats in a
# moderate range cover everything else.
grid_values = st.integers(-200, 200).map(lambda i: i / 4.0)
# six decimals: arbitrary-looking prices, without denormal-sized values whose squares underflow
free_values = st.integers(-10**9, 10**9).map(lambda i: i / 1e6)
element = st.one_of(grid_values, free_values)


def _fill(rng: np.random.Generator, k: int) -> list[float]:
    """k values, half on the quarter grid (ties, exact means), half with six decimals."""
    grid = rng.integers(-200, 201, size=k) / 4.0
    free = rng.integers(-10**9, 10**9 + 1, size=k) / 1e6
    return list(np.where(rng.random(k) < 0.5, grid, free))


@st.composite
def segments(draw, max_size: int, allow_nan: bool):
    """A list of floats made of random, flat, tie-heavy and NaN segments.

    The segment structure is drawn (and shrinks); values inside a random segment come from a
    drawn seed, which keeps generation fast.
    """
    kinds = ["random", "flat", "ties"] + (["nan"] if allow_nan else [])
    specs = draw(
        st.lists(
            st.tuples(st.sampled_from(kinds), st.integers(1, max(1, max_size // 2)),
                      st.integers(0, 2**32 - 1)),
            min_size=1, max_size=5,
        )
    )
    out: list[float] = []
    for kind, k, seed in specs:
        rng = np.random.default_rng(seed)
        if kind == "random":
            out += _fill(rng, k)
        elif kind == "flat":
            out += _fill(rng, 1) * k
        elif kind == "ties":
            pool = rng.integers(-8, 9, size=3) / 4.0
            out += list(rng.choice(pool, size=k))
        else:
            out += [float("nan")] * k
    return out[:max_size]


@st.composite
def float_arrays(draw, min_size: int = 0, max_size: int = 60, allow_nan: bool = True,
                 positive: bool = False, offsets: tuple[float, ...] = OFFSETS):
    """1-D float64 arrays with NaN runs, flat stretches, ties and an optional +1e9 offset.

    ``positive=True`` shifts the values above zero (prices, for log returns).
    """
    n = draw(st.integers(min_size, max_size))
    values = draw(segments(max(n, 1), allow_nan))[:n]
    values += _fill(np.random.default_rng(n), n - len(values))
    arr = np.array(values, dtype=np.float64)
    offset = draw(st.sampled_from(offsets))
    if positive:
        offset = max(offset, 2e3)  # values are >= -1e3
    return arr + offset


@st.composite
def ohlc_arrays(draw, min_size: int = 0, max_size: int = 60, allow_nan: bool = True,
                offsets: tuple[float, ...] = OFFSETS):
    """(high, low, close) with low <= close <= high on every valid bar."""
    close = draw(float_arrays(min_size, max_size, allow_nan=allow_nan, offsets=offsets))
    n = len(close)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # bar extensions: often 0 (high == close, flat bars), otherwise quarter steps
    up = rng.integers(0, 9, size=n) / 4.0 * (rng.random(n) < 0.7)
    dn = rng.integers(0, 9, size=n) / 4.0 * (rng.random(n) < 0.7)
    return close + up, close - dn, close


windows = st.integers(1, 12)
