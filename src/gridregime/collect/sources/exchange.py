"""Live candles from an exchange through ccxt (optional extra ``exchange``).

:class:`ExchangeSource` is a :class:`~gridregime.collect.sources.base.DataSource` over any object that
speaks ccxt's unified methods (``fetch_ohlcv(symbol, timeframe, since, limit)``, ``fetch_time()``,
``load_markets()``), so tests drive it with a fake exchange and recorded responses, without ccxt.

What it guarantees, whatever the exchange returns:

- pagination by time: each page starts at ``since`` = the last open time received + the
  timeframe, until ``end`` is reached or the exchange has nothing more;
- ccxt's own rate limiter is switched on (``enableRateLimit``);
- network errors (timeouts, rate limits, maintenance, DDoS protection) are retried with
  exponential back-off and jitter; exchange errors (a bad symbol, bad parameters) never are;
- a candle is kept only when it is complete: its open time + the timeframe is at or before the
  exchange's server time (never "drop the last row");
- open times in microseconds are brought to milliseconds; rows are sorted and de-duplicated on
  open time (the later copy of a candle wins: it is the more recent answer);
- missing candles are left missing and recorded in :attr:`ExchangeSource.gaps`.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from gridregime.bars import bars_table
from gridregime.collect.sources.common import SourceDataError, check_time_range, check_timeframe
from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR_MS, MINUTE_MS, from_ms, iso_z

log = logging.getLogger("gridregime.collect.exchange")

TIMEFRAME_MS = {"1m": MINUTE_MS, "1h": HOUR_MS}

#: ccxt exception classes (by name, so fakes need not import ccxt) that a retry may cure.
RETRYABLE_ERRORS = frozenset({"NetworkError", "RequestTimeout", "ExchangeNotAvailable", "DDoSProtection",
                              "RateLimitExceeded", "OnMaintenance"})
#: ccxt exception classes that mean the request itself is wrong: never retried.
EXCHANGE_ERRORS = frozenset({"ExchangeError", "BadSymbol", "BadRequest", "ArgumentsRequired", "NotSupported",
                             "AuthenticationError", "PermissionDenied", "AccountSuspended"})

_US_THRESHOLD = 10**14  # epoch ms stays below this until the year 5138; epoch µs is above it


def is_retryable(exc: BaseException) -> bool:
    """True for ccxt network errors (by class name along the MRO, so exchange errors win)."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    for name in names:  # the most specific class decides
        if name in RETRYABLE_ERRORS:
            return True
        if name in EXCHANGE_ERRORS:
            return False
    return False


@dataclass(frozen=True)
class Gap:
    """Candles missing from an exchange answer: ``count`` bars from ``first`` (epoch ms) on."""

    symbol: str
    timeframe: str
    first: int
    count: int

    def __str__(self) -> str:
        return f"{self.symbol} {self.timeframe}: {self.count} bar(s) missing from {iso_z(from_ms(self.first))}"


def normalize_ms(ts: np.ndarray) -> np.ndarray:
    """Epoch open times in ms; values in µs (>= 1e14) are divided by 1000."""
    ts = np.asarray(ts, dtype=np.int64)
    return np.where(ts >= _US_THRESHOLD, ts // 1000, ts)


def _import_ccxt():
    try:
        import ccxt
    except ImportError:
        raise InvalidParameterError(
            "source: the ccxt exchange source needs the optional extra: pip install 'gridregime[exchange]'"
        ) from None
    return ccxt


class ExchangeSource:
    """Candles of one exchange through ccxt (a :class:`DataSource`).

    Parameters
    ----------
    exchange : str or ccxt exchange
        A ccxt exchange id (``"binance"``) or an exchange object speaking ccxt's methods.
    limit : int
        Candles asked for per page.
    max_retries : int
        Retries of one call after a network error (so ``max_retries + 1`` attempts).
    backoff, max_backoff : float
        Seconds before the first retry, doubled each time up to ``max_backoff``, times a random
        factor in [0.5, 1.5) (jitter).
    sleep, rng : optional
        Injected for tests (``time.sleep`` and a ``random.Random``).
    """

    def __init__(self, exchange: Any, *, limit: int = 1000, max_retries: int = 5, backoff: float = 0.5,
                 max_backoff: float = 8.0, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        if isinstance(exchange, str):
            ccxt = _import_ccxt()
            exchange_id = exchange.strip().lower()
            if exchange_id not in getattr(ccxt, "exchanges", ()):
                raise InvalidParameterError(f"source: expected a ccxt exchange id such as 'binance', got {exchange!r}")
            exchange = getattr(ccxt, exchange_id)({"enableRateLimit": True})
        for method in ("fetch_ohlcv", "load_markets"):
            if not callable(getattr(exchange, method, None)):
                raise InvalidParameterError(f"exchange: expected a ccxt exchange with {method}(), "
                                            f"got {type(exchange).__name__}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidParameterError(f"limit: expected a positive integer, got {limit!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidParameterError(f"max_retries: expected an integer >= 0, got {max_retries!r}")
        exchange.enableRateLimit = True  # ccxt's own throttle between calls
        self.exchange = exchange
        self.name = f"ccxt:{getattr(exchange, 'id', type(exchange).__name__)}"
        self.limit = limit
        self.max_retries = max_retries
        self.backoff, self.max_backoff = float(backoff), float(max_backoff)
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._markets: dict[str, Any] | None = None
        self.gaps: list[Gap] = []
        self.retries = 0

    def __repr__(self) -> str:
        return f"ExchangeSource({self.name!r})"

    # -- calls -----------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_retryable(exc) or attempt >= self.max_retries:
                    raise
                delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + self._rng.random())
                attempt += 1
                self.retries += 1
                log.warning("%s: %s (%s); retry %d of %d in %.2f s", self.name, what, type(exc).__name__,
                            attempt, self.max_retries, delay)
                self._sleep(delay)

    @staticmethod
    def market_symbol(symbol: str) -> str:
        """``ETH-USDT`` → ccxt's ``ETH/USDT``."""
        base, quote = validate_symbol(symbol).split("-")
        return f"{base}/{quote}"

    def markets(self) -> dict[str, Any]:
        """The exchange's markets (loaded once); :class:`SourceDataError` when they cannot be loaded."""
        if self._markets is None:
            try:
                self._markets = dict(self._call("load_markets", self.exchange.load_markets) or {})
            except Exception as exc:  # noqa: BLE001 - any ccxt error becomes a SourceDataError
                raise SourceDataError(self.name, "load_markets",
                                      f"cannot list the exchange's markets: {type(exc).__name__}") from None
        return self._markets

    def has_symbol(self, symbol: str) -> bool:
        return self.market_symbol(symbol) in self.markets()

    def server_time_ms(self) -> int:
        """The exchange's clock (``fetch_time``), or ccxt's local clock when the exchange has none."""
        fetch_time = getattr(self.exchange, "fetch_time", None)
        if callable(fetch_time):
            try:
                value = self._call("fetch_time", fetch_time)
            except Exception as exc:  # ccxt NotSupported, matched by name
                if type(exc).__name__ != "NotSupported":
                    raise
            else:
                if value is not None:
                    return int(normalize_ms(np.array([int(value)]))[0])
        millis = getattr(self.exchange, "milliseconds", None)
        return int(millis()) if callable(millis) else int(time.time() * 1000)

    # -- the DataSource method -------------------------------------------------------------------
    def fetch_ohlcv(self, symbol: str, timeframe: str, start: object, end: object) -> pa.Table:
        """Complete candles with ``start <= open < end``, sorted, de-duplicated, gaps left as gaps."""
        symbol = validate_symbol(symbol)
        timeframe = check_timeframe(timeframe)
        start_ms, end_ms = check_time_range(start, end)
        step = TIMEFRAME_MS[timeframe]
        market = self.market_symbol(symbol)
        now = self.server_time_ms()
        # a candle is complete when open + step <= server time, i.e. (opens being multiples of step)
        # when open < floor(now / step) * step
        stop = min(end_ms, (now // step) * step)
        rows: list[list[Any]] = []
        since = start_ms
        while since < stop:
            try:
                page = self._call(f"fetch_ohlcv {market} {timeframe} since {since}", self.exchange.fetch_ohlcv,
                                  market, timeframe, since, self.limit)
            except Exception as exc:  # noqa: BLE001 - any ccxt error becomes a SourceDataError
                if is_retryable(exc):
                    raise SourceDataError(self.name, f"{market} {timeframe}",
                                          f"network error after {self.max_retries} retries: {type(exc).__name__}"
                                          ) from None
                raise SourceDataError(self.name, f"{market} {timeframe}",
                                      f"exchange refused the request: {type(exc).__name__}: {exc}") from None
            if not page:
                break
            opens = normalize_ms(np.array([int(r[0]) for r in page], dtype=np.int64))
            rows.extend([int(t), *r[1:6]] for t, r in zip(opens, page))
            next_since = int(opens.max()) + step
            if next_since <= since:
                break  # no progress: the exchange keeps answering the same page
            since = next_since
        return self._table(symbol, timeframe, rows, start_ms, stop, now)

    def _table(self, symbol: str, timeframe: str, rows: list[list[Any]], start_ms: int, stop: int,
               now: int) -> pa.Table:
        step = TIMEFRAME_MS[timeframe]
        if rows:
            arr = np.array([[float(x) if x is not None else np.nan for x in r[1:6]] for r in rows], dtype=np.float64)
            ts = np.array([r[0] for r in rows], dtype=np.int64)
        else:
            arr, ts = np.zeros((0, 5)), np.zeros(0, dtype=np.int64)
        complete = (ts >= start_ms) & (ts < stop) & (ts + step <= now)
        ts, arr = ts[complete], arr[complete]
        # de-duplicate on open time: the last copy received wins (the freshest answer)
        order = np.argsort(ts, kind="stable")
        ts, arr = ts[order], arr[order]
        if ts.size:
            last = np.r_[ts[1:] != ts[:-1], True]
            ts, arr = ts[last], arr[last]
        off_grid = ts % step != 0
        if off_grid.any():
            raise SourceDataError(self.name, f"{symbol} {timeframe} ts {int(ts[off_grid][0])}",
                                  f"candle not on a {timeframe} boundary")
        if not np.isfinite(arr).all():
            bad = int(ts[~np.isfinite(arr).all(axis=1)][0])
            raise SourceDataError(self.name, f"{symbol} {timeframe} ts {bad}", "candle with a missing value")
        expected_from = ((start_ms + step - 1) // step) * step
        expected = np.arange(expected_from, stop, step, dtype=np.int64)
        missing = np.setdiff1d(expected, ts, assume_unique=True)
        if missing.size:
            breaks = np.flatnonzero(np.diff(missing) != step) + 1
            for run in np.split(missing, breaks):
                gap = Gap(symbol, timeframe, int(run[0]), int(run.size))
                self.gaps.append(gap)
                log.warning("%s: %s", self.name, gap)
        return bars_table(ts, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4])
