"""Rolling and recursive indicators (ATR family, moving statistics, regression)."""
from __future__ import annotations

import numpy as np

from gridregime._libs import rolling as _rolling
from gridregime.kernels._validate import as_float64, check_same_length, check_window

__all__ = ["true_range", "atr"]


def true_range(high, low, close) -> np.ndarray:
    """True range per bar, in price units.

    ``TR[0] = high[0] - low[0]``; afterwards ``max(high, prev_close) - min(low, prev_close)``.
    NaN in any input propagates to the bars that use it. O(n).
    """
    h, l, c = as_float64(high, "high"), as_float64(low, "low"), as_float64(close, "close")
    check_same_length(high=h, low=l, close=c)
    return _rolling.true_range(h, l, c)


def atr(high, low, close, period: int = 14) -> np.ndarray:
    """Average true range (Wilder smoothing, TA-Lib seeding), in price units.

    The first ``period`` values are NaN; ``atr[period]`` is the mean of ``TR[1..period]``
    (TA-Lib skips the first bar, which has no previous close). O(n).
    """
    h, l, c = as_float64(high, "high"), as_float64(low, "low"), as_float64(close, "close")
    check_same_length(high=h, low=l, close=c)
    period = check_window(period, "period")
    return _rolling.atr(h, l, c, period)
