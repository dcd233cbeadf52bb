"""A seeded, regime-switching synthetic market with ground-truth labels.

The market alternates between four regimes, each built to look like what a grid trader fears or
wants, and to be told apart by the SPEC §5 features:

``range``
    Log price mean-reverts to the level where the range began (an Ornstein-Uhlenbeck process
    with a half-life of a few hours, excursions softly bounded): it crosses its mid
    line many times a day and its returns are negatively autocorrelated.
``trend_up`` / ``trend_down``
    A persistent drift of 0.4-0.9 typical ATR per hour with hourly noise well below the drift:
    several ATR a day in one direction, efficiency ratio near 1. The direction leans back toward
    the base price so prices stay plausible over years.
``transition``
    Volatility jumps 2.5-4x for 6-24 hours with no drift.

Durations are random (range 2-6 days, trend 12-48 h, transition 6-24 h). Everything is generated
from a fixed epoch per symbol, so any sub-range of a request returns exactly the same bars as the
full request. The hourly path is generated once per symbol (vectorised, cached); minutes are
Brownian bridges between the hourly points, generated per UTC day from their own seed.
"""
from __future__ import annotations

import math
import zlib
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa

from gridregime.bars import bars_table, slice_time
from gridregime.collect.sources.common import bars_for_timeframe, check_time_range, check_timeframe
from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR_MS, MINUTE_MS, to_ms

#: Regime names, indexed by the codes used internally.
REGIMES = ("range", "trend_up", "trend_down", "transition")
_RANGE, _UP, _DOWN, _TRANSITION = range(4)

EPOCH = datetime(2017, 1, 1, tzinfo=timezone.utc)
HORIZON = datetime(2032, 1, 1, tzinfo=timezone.utc)
_EPOCH_MS = to_ms(EPOCH)
_HORIZON_MS = to_ms(HORIZON)
_DAY_MS = 24 * HOUR_MS
_MAX_SEGMENT_HOURS = 144

# Typical prices so that a synthetic market looks like its namesake; anything else starts at 100.
_BASE_PRICES = {"BTC": 30_000.0, "ETH": 2_000.0, "BNB": 300.0, "SOL": 100.0, "XRP": 0.5, "ADA": 0.4, "DOGE": 0.08}


def _symbol_key(symbol: str) -> int:
    return zlib.crc32(symbol.encode("ascii"))


class _HourlyPath:
    """Log price at every hour boundary from the epoch to the horizon, and the regime per hour."""

    def __init__(self, x: np.ndarray, regime: np.ndarray, minute_vol: np.ndarray) -> None:
        self.x = x  # x[h] = log(price / base) at the open of hour h (len n_hours + 1)
        self.regime = regime  # int8 code per hour
        self.minute_vol = minute_vol  # std of 1m log returns per hour


class SyntheticSource:
    """Deterministic regime-switching OHLCV generator (a :class:`DataSource`).

    Parameters
    ----------
    seed : int
        Same seed, symbol and range give identical bars.
    base_price : float, optional
        Price level the market starts at and leans back to; default by base asset (ETH 2000,
        BTC 30000, XRP 0.5, ...), else 100.
    tick : float, optional
        Price increment; every price is a multiple of it. Default 0.01, finer for cheap assets
        (five significant digits).
    hourly_vol : float
        Typical hourly move as a fraction of price (roughly the hourly ATR in a range), default
        0.006.
    half_life_hours : float
        Mean-reversion half-life inside a range, default 2.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        base_price: float | None = None,
        tick: float | None = None,
        hourly_vol: float = 0.006,
        half_life_hours: float = 2.0,
    ) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise InvalidParameterError(f"seed: expected an integer >= 0, got {seed!r}")
        if base_price is not None and not (math.isfinite(base_price) and base_price > 0):
            raise InvalidParameterError(f"base_price: expected a finite price > 0, got {base_price!r}")
        if tick is not None and not (math.isfinite(tick) and 0 < tick <= 1 and _is_decimal_tick(tick)):
            raise InvalidParameterError(f"tick: expected a power of ten in (0, 1] such as 0.01, got {tick!r}")
        if not (0 < hourly_vol < 0.2):
            raise InvalidParameterError(f"hourly_vol: expected a fraction in (0, 0.2), got {hourly_vol!r}")
        if not (0.5 <= half_life_hours <= 48):
            raise InvalidParameterError(f"half_life_hours: expected 0.5 to 48 hours, got {half_life_hours!r}")
        self.seed = int(seed)
        self.base_price = base_price
        self.tick = tick
        self.hourly_vol = float(hourly_vol)
        self.half_life_hours = float(half_life_hours)
        self.name = f"synthetic:{self.seed}"
        self._paths: dict[str, _HourlyPath] = {}

    def __repr__(self) -> str:
        return f"SyntheticSource(seed={self.seed})"

    # -- public API ---------------------------------------------------------------------------
    def base_price_for(self, symbol: str) -> float:
        if self.base_price is not None:
            return float(self.base_price)
        return _BASE_PRICES.get(symbol.split("-")[0], 100.0)

    def tick_for(self, symbol: str) -> float:
        if self.tick is not None:
            return float(self.tick)
        digits = math.floor(math.log10(self.base_price_for(symbol))) - 4
        return min(0.01, 10.0**digits)

    def fetch_ohlcv(self, symbol: str, timeframe: str, start: object, end: object) -> pa.Table:
        """Bars of ``symbol`` with ``start <= ts < end``; ``1h`` bars aggregate the ``1m`` bars."""
        symbol = validate_symbol(symbol)
        timeframe = check_timeframe(timeframe)
        start_ms, end_ms = self._check_range(start, end)
        lo = (start_ms // HOUR_MS) * HOUR_MS if timeframe == "1h" else start_ms
        minutes = self._minutes(symbol, lo, end_ms)
        return bars_for_timeframe(minutes, "1m", timeframe, start_ms, end_ms)

    def labels(self, symbol: str, start: object, end: object) -> pa.Table:
        """Ground truth: one row per hour ``h`` with ``start <= h < end`` (``ts``, ``regime``)."""
        symbol = validate_symbol(symbol)
        start_ms, end_ms = self._check_range(start, end)
        first = -(-(start_ms - _EPOCH_MS) // HOUR_MS)
        last = -(-(end_ms - _EPOCH_MS) // HOUR_MS)
        path = self._path(symbol)
        hours = np.arange(first, last, dtype=np.int64)
        names = np.asarray(REGIMES, dtype=object)[path.regime[first:last]]
        ts = pa.array(_EPOCH_MS + hours * HOUR_MS, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
        return pa.table({"ts": ts, "regime": pa.array(names.tolist(), type=pa.string())})

    # -- generation -----------------------------------------------------------------------------
    def _check_range(self, start: object, end: object) -> tuple[int, int]:
        start_ms, end_ms = check_time_range(start, end)
        if start_ms < _EPOCH_MS or end_ms > _HORIZON_MS:
            raise InvalidParameterError(
                f"start/end: the synthetic market exists from {EPOCH:%Y-%m-%d} to {HORIZON:%Y-%m-%d} UTC"
            )
        return start_ms, end_ms

    def _rng(self, symbol: str, *stream: int) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, _symbol_key(symbol), *stream])))

    def _path(self, symbol: str) -> _HourlyPath:
        path = self._paths.get(symbol)
        if path is None:
            path = self._paths[symbol] = self._build_path(symbol)
        return path

    def _build_path(self, symbol: str) -> _HourlyPath:
        n_hours = (_HORIZON_MS - _EPOCH_MS) // HOUR_MS
        v = self.hourly_vol
        rng = self._rng(symbol, 0)
        # Segment schedule: a Markov chain over regimes; directions are chosen later.
        max_segments = n_hours // 6 + 2
        u = rng.random((max_segments, 3))
        kinds = np.empty(max_segments, dtype=np.int8)
        lengths = np.empty(max_segments, dtype=np.int64)
        kind, total, n_seg = _RANGE, 0, 0
        while total < n_hours:
            if kind == _RANGE:
                length = 48 + int(u[n_seg, 1] * 97)  # 2-6 days
            elif kind == _TRANSITION:
                length = 6 + int(u[n_seg, 1] * 19)  # 6-24 h
            else:
                length = 12 + int(u[n_seg, 1] * 37)  # 12-48 h
            kinds[n_seg], lengths[n_seg] = kind, length
            total += length
            n_seg += 1
            r = u[n_seg - 1, 2]
            if kind == _RANGE:
                kind = _UP if r < 0.6 else _TRANSITION
            elif kind == _TRANSITION:
                kind = _RANGE if r < 0.6 else _UP
            else:
                kind = _RANGE if r < 0.75 else _TRANSITION
        kinds, lengths = kinds[:n_seg], lengths[:n_seg]
        # Per-segment random sizes, and padded standard normals (segment x hour-in-segment).
        size = rng.random(n_seg)
        z = rng.standard_normal((n_seg, _MAX_SEGMENT_HOURS))
        local = np.arange(_MAX_SEGMENT_HOURS)
        z[local[None, :] >= lengths[:, None]] = 0.0
        # Range: OU deviation d_t = phi d_{t-1} + s z_t, as a product with phi^(i-j) (lower triangle).
        phi = 0.5 ** (1.0 / self.half_life_hours)
        expo = local[:, None] - local[None, :]
        kernel = np.where(expo >= 0, phi ** np.maximum(expo, 0), 0.0)
        s_range = 1.2 * v
        bound = 2.2 * s_range / math.sqrt(1.0 - phi * phi)
        is_range = kinds == _RANGE
        ou = np.zeros_like(z)
        dev = (z[is_range] * s_range) @ kernel.T
        ou[is_range] = dev / np.sqrt(1.0 + (dev / bound) ** 2)  # soft bound: |dev| < bound
        cum = np.cumsum(z, axis=1)
        steps = local[None, :] + 1.0
        drift = (0.4 + 0.5 * size) * v  # per hour, trends
        trend_noise = (0.6 * drift)[:, None] * cum
        trend_drift = drift[:, None] * steps
        vol_jump = 2.5 + 1.5 * size  # transitions
        walk = (vol_jump * v)[:, None] * cum
        is_trend = kinds == _UP
        rel_fixed = np.where(is_range[:, None], ou, np.where(is_trend[:, None], trend_noise, walk))
        # Directions lean back toward the base price; sequential, but scalar and per segment.
        u_dir = rng.random(n_seg)
        ends_fixed = rel_fixed[np.arange(n_seg), lengths - 1]
        ends_drift = trend_drift[np.arange(n_seg), lengths - 1]
        x0 = np.empty(n_seg)
        sign = np.zeros(n_seg)
        x = 0.0
        for g in range(n_seg):
            x0[g] = x
            if is_trend[g]:
                p_up = 1.0 / (1.0 + math.exp(4.0 * x))
                sign[g] = 1.0 if u_dir[g] < p_up else -1.0
            x += ends_fixed[g] + sign[g] * ends_drift[g]
        kinds = np.where(is_trend & (sign < 0), _DOWN, kinds).astype(np.int8)
        # Scatter segment paths onto the hourly axis.
        seg_of_hour = np.repeat(np.arange(n_seg), lengths)[:n_hours]
        hour_in_seg = (np.arange(seg_of_hour.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)[:n_hours])
        rel = rel_fixed[seg_of_hour, hour_in_seg] + sign[seg_of_hour] * trend_drift[seg_of_hour, hour_in_seg]
        xs = np.empty(n_hours + 1)
        xs[0] = 0.0
        xs[1:] = x0[seg_of_hour] + rel
        regime = kinds[seg_of_hour]
        minute_vol = np.full(n_hours, v / 20.0)
        jump_hours = regime == _TRANSITION
        minute_vol[jump_hours] *= vol_jump[seg_of_hour][jump_hours]
        return _HourlyPath(xs, regime, minute_vol)

    def _minutes(self, symbol: str, start_ms: int, end_ms: int) -> pa.Table:
        path = self._path(symbol)
        base = self.base_price_for(symbol)
        inv_tick = round(1.0 / self.tick_for(symbol))
        first_day = (start_ms - _EPOCH_MS) // _DAY_MS
        last_day = (end_ms - 1 - _EPOCH_MS) // _DAY_MS
        days = [self._day(symbol, d, path, base, inv_tick) for d in range(first_day, last_day + 1)]
        cols = [np.concatenate([day[k] for day in days]) for k in range(6)]
        return slice_time(bars_table(*cols), start_ms, end_ms)

    def _day(self, symbol: str, day: int, path: _HourlyPath, base: float, inv_tick: int):
        rng = self._rng(symbol, 1, day)
        h0 = day * 24
        a = path.x[h0 : h0 + 24][:, None]
        b = path.x[h0 + 1 : h0 + 25][:, None]
        m = path.minute_vol[h0 : h0 + 24][:, None]
        frac = np.arange(1, 61) / 60.0
        walk = np.cumsum(rng.standard_normal((24, 60)), axis=1) * m
        # Brownian bridge from the hour's open to the next hour's open.
        close_log = a + frac * (b - a) + walk - frac * walk[:, -1:]
        open_log = np.concatenate([a, close_log[:, :-1]], axis=1)
        wick = np.abs(rng.standard_normal((2, 24, 60))) * (0.6 * m)
        close = _on_tick(base * np.exp(close_log), inv_tick)
        close[:, -1] = _on_tick(base * np.exp(b[:, 0]), inv_tick)
        open_ = np.concatenate([_on_tick(base * np.exp(a), inv_tick), close[:, :-1]], axis=1)
        # Wicks beyond the body; after rounding, high/low still bracket open and close.
        high = _on_tick(base * np.exp(np.maximum(open_log, close_log) + wick[0]), inv_tick)
        high = np.maximum(high, np.maximum(open_, close))
        low = _on_tick(base * np.exp(np.minimum(open_log, close_log) - wick[1]), inv_tick)
        low = np.minimum(low, np.minimum(open_, close))
        low = np.maximum(low, 1.0 / inv_tick)
        activity = 1.0 + np.abs(close_log - open_log) / m
        volume = np.round(20.0 * activity * np.exp(0.5 * rng.standard_normal((24, 60))) * (100.0 / base) ** 0.5, 4)
        ts = _EPOCH_MS + day * _DAY_MS + np.arange(24 * 60, dtype=np.int64) * MINUTE_MS
        return ts, open_.ravel(), high.ravel(), low.ravel(), close.ravel(), volume.ravel()


def _on_tick(price: np.ndarray, inv_tick: int) -> np.ndarray:
    # Dividing by the integer inverse gives the double nearest to k * tick (e.g. 2000.12).
    return np.maximum(np.round(price * inv_tick), 1.0) / inv_tick


def _is_decimal_tick(tick: float) -> bool:
    d = -math.log10(tick)
    return abs(d - round(d)) < 1e-9
