"""Rolling percentile rank and rolling quantile band versus pandas and bottleneck.

bottleneck's ``move_rank`` is a different normalisation of the same window statistic (rank of
the last value scaled to [-1, 1]); it is timed as a peer for speed only. Its cost grows as
O(n * w), so at w = 43,200 it runs on a shorter series in a case of its own.
"""
from __future__ import annotations

import numpy as np
from compare_peers import Case

SLOW_PEER_N = 100_000  # series length for the O(n * w) peer at the long window


def _closes(n: int, seed: int = 42) -> np.ndarray:
    """A price-like random walk with a few NaN, rounded to cents so that ties occur."""
    rng = np.random.default_rng(seed)
    x = np.round(30_000 + np.cumsum(rng.standard_normal(n) * 5), 2)
    x[rng.integers(0, n, max(1, n // 1000))] = np.nan
    return x


def cases(n: int) -> list[Case]:
    import pandas as pd

    from gridregime.kernels import rolling_percentile_rank, rolling_quantile_band

    try:
        import bottleneck as bn
    except ImportError:  # pragma: no cover - peers are optional
        bn = None

    x = _closes(n)
    s = pd.Series(x)
    out = []
    for window, target in ((720, "target <= 120 ns/el"), (43_200, "target <= 200 ns/el")):
        peers = {"pandas rolling.rank(pct)": lambda w=window: s.rolling(w).rank(pct=True)}
        if bn is not None and window <= 1_000:
            peers["bottleneck move_rank (other normalisation)"] = lambda w=window: bn.move_rank(x, w)
        out.append(Case(f"percentile_rank w={window}", lambda w=window: rolling_percentile_rank(x, w),
                        peers, n=n, target=target))

    if bn is not None:
        short = _closes(min(n, SLOW_PEER_N), seed=7)
        out.append(Case(
            f"percentile_rank w=43200 n={len(short)}",
            lambda: rolling_percentile_rank(short, 43_200),
            {"bottleneck move_rank (other normalisation)": lambda: bn.move_rank(short, 43_200)},
            n=len(short), target="O(n log w) vs O(n w)",
        ))

    for window in (72, 24):
        out.append(Case(
            f"quantile_band w={window} (q=0.1, 0.9)",
            lambda w=window: rolling_quantile_band(x, w, 0.10, 0.90),
            {"pandas rolling.quantile x2": lambda w=window: (s.rolling(w).quantile(0.10), s.rolling(w).quantile(0.90))},
            n=n,
        ))
    return out
