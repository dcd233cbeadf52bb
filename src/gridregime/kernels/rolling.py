"""Rolling and recursive indicators (ATR family, smoothing, moving statistics, regression).

Every function coerces its inputs to contiguous float64 once (``+/-inf`` become NaN),
validates its parameters, and calls a GIL-free kernel in :mod:`gridregime._libs` (``ohlc``,
``smoothing``, ``moments``, ``trend``, ``returns``, ``extremes``). Outputs are new float64
arrays of the input length.

NaN policies (each function says which one it follows):

*restart*
    Recursive filters (``ema``, ``wilder``, ``atr``, ``adx``) treat a NaN as a break in the
    series: the output is NaN there, and each maximal run of valid bars is smoothed as if it
    were a series of its own, warm-up included. On NaN-free input this is exactly TA-Lib.
*skip*
    ``rolling_mean`` / ``rolling_std`` ignore NaN inside the window and need ``min_periods``
    valid values (pandas / bottleneck semantics).
*window*
    The other window statistics are NaN whenever their window (as defined per function)
    contains a NaN.

Window statistics depend only on their window: ``f(x)[t] == f(x[s:])[t - s]`` for any
``s <= t - window + 1``.
"""
from __future__ import annotations

import math

import numpy as np

from gridregime._libs import extremes as _extremes
from gridregime._libs import moments as _moments
from gridregime._libs import ohlc as _ohlc
from gridregime._libs import returns as _returns
from gridregime._libs import smoothing as _smoothing
from gridregime._libs import trend as _trend
from gridregime.errors import InvalidParameterError
from gridregime.kernels._validate import (
    as_1d_numeric,
    as_float64,
    check_min_periods,
    check_same_length,
    check_window,
)

__all__ = [
    "adx",
    "atr",
    "bollinger_bandwidth",
    "efficiency_ratio",
    "ema",
    "log_returns",
    "rolling_autocorr",
    "rolling_linreg",
    "rolling_max",
    "rolling_mean",
    "rolling_mean_crossings",
    "rolling_min",
    "rolling_std",
    "true_range",
    "variance_ratio",
    "wilder",
]

_EMA_SEEDS = ("sma", "first")


def _float64_keep_inf(values, name: str) -> np.ndarray:
    """``as_float64`` without its infinity scan, for kernels that test finiteness per value.

    The OHLC kernels, the moment kernels (mean, std, Bollinger bandwidth), regression,
    efficiency ratio, autocorrelation and variance ratio are single cheap passes that an
    extra scan for ``inf`` per input would slow down markedly; they treat +/-inf as missing
    themselves, so the result is the same as with ``as_float64``.
    """
    return np.ascontiguousarray(as_1d_numeric(values, name), dtype=np.float64)


def _ohlc_arrays(high, low, close) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = _float64_keep_inf(high, "high")
    l = _float64_keep_inf(low, "low")
    c = _float64_keep_inf(close, "close")
    check_same_length(high=h, low=l, close=c)
    return h, l, c


def true_range(high, low, close) -> np.ndarray:
    """True range per bar, in price units.

    ``TR[i] = max(high[i], close[i-1]) - min(low[i], close[i-1])``; when there is no previous
    close (first bar, or ``close[i-1]`` is NaN) ``TR[i] = high[i] - low[i]``.

    NaN policy: NaN where ``high[i]`` or ``low[i]`` is NaN. No warm-up. O(n).
    """
    h, l, c = _ohlc_arrays(high, low, close)
    return _ohlc.true_range(h, l, c)


def atr(high, low, close, period: int = 14) -> np.ndarray:
    """Average true range (Wilder smoothing, TA-Lib seeding), in price units.

    ``atr[period]`` is the mean of ``TR[1..period]`` (TA-Lib skips the first bar, which has
    no previous close); afterwards ``ATR = ATR_prev * (1 - 1/period) + TR / period``.

    NaN policy: *restart* — a bar with any NaN field is NaN and starts a new series.
    Warm-up: the first ``period`` bars of each run of valid bars. O(n).
    """
    h, l, c = _ohlc_arrays(high, low, close)
    period = check_window(period, "period")
    return _ohlc.atr(h, l, c, period)


def adx(high, low, close, period: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average directional index with +DI and -DI, TA-Lib's ADX / PLUS_DI / MINUS_DI.

    All three are in points (0-100). DI values start at index ``period`` and ADX at
    ``2 * period - 1``, exactly where TA-Lib has its first value; DI is 0 when the smoothed
    true range is (TA-Lib's) zero.

    NaN policy: *restart* — a bar with any NaN field is NaN in all three outputs and starts
    a new series. Warm-up: ``period`` bars (DI), ``2 * period - 1`` bars (ADX) of each run.
    O(n), one pass for the three outputs.

    Returns
    -------
    adx, plus_di, minus_di : ndarray
        Rows of one ``(3, n)`` array (a single allocation), each C-contiguous.
    """
    h, l, c = _ohlc_arrays(high, low, close)
    period = check_window(period, "period", minimum=2)
    return _ohlc.adx(h, l, c, period)


def ema(x, period: int, *, seed: str = "sma") -> np.ndarray:
    """Exponential moving average, ``alpha = 2 / (period + 1)``, in the units of ``x``.

    ``seed="sma"``: TA-Lib EMA — the first value (index ``period - 1``) is the mean of the
    first ``period`` values. ``seed="first"``: pandas ``ewm(span=period, adjust=False)`` —
    the first value is ``x[0]``, no warm-up.

    NaN policy: *restart* — a NaN gives NaN and the filter re-seeds on the next valid value
    (pandas instead carries the last average through NaN; on NaN-free input both agree).
    Warm-up: ``period - 1`` values per run with ``seed="sma"``, none with ``"first"``. O(n).
    """
    a = as_float64(x, "x")
    period = check_window(period, "period")
    if seed not in _EMA_SEEDS:
        raise InvalidParameterError(f"seed: expected one of {_EMA_SEEDS}, got {seed!r}")
    return _smoothing.ema(a, period, 2.0 / (period + 1.0), seed == "first")


def wilder(x, period: int) -> np.ndarray:
    """Wilder's smoothing (``alpha = 1 / period``) seeded by the mean of the first ``period``
    values, in the units of ``x``.

    NaN policy: *restart*. Warm-up: ``period - 1`` values per run of valid values. O(n).
    """
    a = as_float64(x, "x")
    period = check_window(period, "period")
    return _smoothing.ema(a, period, 1.0 / period, False)


def rolling_mean(x, window: int, min_periods: int | None = None) -> np.ndarray:
    """Mean of the valid values among the last ``window``, in the units of ``x``.

    NaN policy: *skip* — NaN values are ignored; the output is NaN while fewer than
    ``min_periods`` (default ``window``) values in the window are valid. Equals pandas
    ``rolling(window, min_periods).mean()``. Warm-up: ``min_periods - 1``. O(n).
    """
    a = _float64_keep_inf(x, "x")
    window = check_window(window)
    min_periods = check_min_periods(min_periods, window)
    return _moments.rolling_mean(a, window, min_periods)


def rolling_std(x, window: int, min_periods: int | None = None, ddof: int = 1) -> np.ndarray:
    """Standard deviation of the valid values among the last ``window``, units of ``x``.

    Divides by ``count - ddof``. A window whose valid values are all equal gives exactly 0.
    Accurate on data with a large common offset (sums are kept relative to a recent mean).

    NaN policy: *skip* — NaN values are ignored; NaN while fewer than ``min_periods``
    (default ``window``) values are valid or ``count <= ddof``. Equals pandas
    ``rolling(window, min_periods).std(ddof)`` and bottleneck ``move_std``. O(n) amortised.
    """
    a = _float64_keep_inf(x, "x")
    window = check_window(window)
    min_periods = check_min_periods(min_periods, window)
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or not 0 <= ddof < window:
        raise InvalidParameterError(f"ddof: expected an integer in [0, window={window}), got {ddof!r}")
    return _moments.rolling_std(a, window, min_periods, int(ddof))


def log_returns(x) -> np.ndarray:
    """Natural-log returns ``log(x[i] / x[i-1])`` (dimensionless), ``r[0] = NaN``.

    NaN policy: NaN where ``x[i]`` or ``x[i-1]`` is NaN or not positive. O(n).
    """
    return _returns.log_returns(as_float64(x, "x"))


def rolling_linreg(y, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares line of ``y`` on ``0..window-1`` over each window.

    ``slope`` is in y-units per bar, ``intercept`` is the fitted value at the window's first
    bar, ``r2`` is the coefficient of determination in [0, 1] (0 for a flat window).

    NaN policy: *window* — NaN when the window ``y[t-window+1..t]`` holds a NaN.
    Warm-up: ``window - 1``. O(n) amortised (sliding sums, exact recomputation when
    cancellation threatens). The three arrays are rows of one ``(3, n)`` array (a single
    allocation), each C-contiguous.
    """
    a = _float64_keep_inf(y, "y")
    window = check_window(window, minimum=2)
    return _trend.rolling_linreg(a, window)


def efficiency_ratio(x, window: int) -> np.ndarray:
    """Kaufman efficiency ratio in [0, 1]: net move over path length.

    ``ER[t] = |x[t] - x[t-window]| / sum(|x[j] - x[j-1]|, j = t-window+1..t)``; 0 when the
    path length is 0 (a flat stretch has no direction).

    NaN policy: *window* — NaN when any of ``x[t-window..t]`` is NaN. Warm-up: ``window``.
    O(n) amortised.
    """
    a = _float64_keep_inf(x, "x")
    window = check_window(window)
    return _trend.efficiency_ratio(a, window)


def rolling_autocorr(x, window: int, lag: int = 1) -> np.ndarray:
    """Rolling lag-``lag`` autocorrelation in [-1, 1]: pandas
    ``s.rolling(window).corr(s.shift(lag))``.

    Pearson correlation of ``x[t-window+1..t]`` with ``x[t-window+1-lag..t-lag]``; NaN when
    either side is constant (pandas gives NaN or +/-inf there).

    NaN policy: *window* — NaN when any of ``x[t-window+1-lag..t]`` is NaN.
    Warm-up: ``window + lag - 1``. O(n) amortised.
    """
    a = _float64_keep_inf(x, "x")
    window = check_window(window, minimum=2)
    lag = check_window(lag, "lag")
    return _returns.rolling_autocorr(a, window, lag)


def variance_ratio(r, q: int, window: int) -> np.ndarray:
    """Variance ratio (dimensionless) of log returns ``r`` over each window.

    ``VR = var(S) / (q * var(r_window))`` with sample variances (ddof=1), where ``S`` are the
    ``window - q + 1`` overlapping sums of ``q`` consecutive returns inside the window. Near 1
    for a random walk, below 1 for mean reversion, above 1 for trending. NaN when the window's
    returns are constant.

    NaN policy: *window* — NaN when ``r[t-window+1..t]`` holds a NaN. Warm-up: ``window - 1``
    (``window`` bars of prices, since ``r[0]`` is NaN). O(n * q) for the sums plus O(n).
    """
    a = _float64_keep_inf(r, "r")
    q = check_window(q, "q", minimum=2)
    window = check_window(window, minimum=q + 1)
    return _returns.variance_ratio(a, q, window)


def rolling_mean_crossings(x, window: int) -> np.ndarray:
    """Number of times ``x`` crosses its window mean within each window (a count, as float).

    The mean is the window's sum divided by ``window``; the count is the number of sign
    changes of ``x[j] - mean`` over the window, values equal to the mean being skipped.

    NaN policy: *window* — NaN when the window holds a NaN. Warm-up: ``window - 1``.
    O(n * window): each window is rescanned (48 bars in the default features).
    """
    a = as_float64(x, "x")
    window = check_window(window, minimum=2)
    return _trend.rolling_mean_crossings(a, window)


def bollinger_bandwidth(x, window: int = 20, k: float = 2.0) -> np.ndarray:
    """Bollinger bandwidth ``(upper - lower) / middle = 2 k std / mean`` (dimensionless).

    ``std`` is the population standard deviation (ddof=0) as in TA-Lib BBANDS. NaN where
    the mean is 0.

    NaN policy: *window* — NaN when the window holds a NaN. Warm-up: ``window - 1``.
    O(n) amortised.
    """
    a = _float64_keep_inf(x, "x")
    window = check_window(window)
    if isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)) or not (
        math.isfinite(k) and k > 0
    ):
        raise InvalidParameterError(f"k: expected a finite number > 0, got {k!r}")
    return _moments.bollinger_bandwidth(a, window, float(k))


def rolling_max(x, window: int) -> np.ndarray:
    """Maximum of each window (units of ``x``); bottleneck ``move_max`` with full windows.

    NaN policy: *window* — NaN when the window holds a NaN. Warm-up: ``window - 1``.
    O(n) amortised (monotonic deque).
    """
    return _rolling_extreme(x, window, want_max=True)


def rolling_min(x, window: int) -> np.ndarray:
    """Minimum of each window; bottleneck ``move_min`` with full windows, otherwise as
    :func:`rolling_max` (units, NaN policy, warm-up, complexity)."""
    return _rolling_extreme(x, window, want_max=False)


def _rolling_extreme(x, window: int, want_max: bool) -> np.ndarray:
    a = as_float64(x, "x")
    window = check_window(window)
    return _extremes.rolling_extreme(a, window, want_max)
