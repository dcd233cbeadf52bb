"""The regime engine: bars → features → ranks → ranges → scores → verdict → :class:`RegimeResult`.

One code path serves every entry point:

- :meth:`RegimeEngine.analyze_from_snapshot` — one hour from a loaded snapshot;
- :meth:`RegimeEngine.analyze_bars` — one hour from in-memory Arrow tables (no files);
- :meth:`RegimeEngine.analyze_source` — one hour fetched straight from a ``DataSource``;
- :meth:`RegimeEngine.analyze_hours` — many hours in one pass: every feature and rank is
  computed once over the whole hourly series with the rolling kernels, then each hour is
  classified. An analysis at hour H only ever uses hourly bars with open time <= H and the
  1m bars of hour H.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from gridregime import __version__
from gridregime.analysis import features as F
from gridregime.analysis.classifier import ClassifierInputs, classify, competing_verdicts, start_factor
from gridregime.analysis.comparison import compare_discovered_vs_configured
from gridregime.analysis.confidence import confidence, data_quality_factor
from gridregime.analysis.ranges import choose_range, discover_ranges, discover_ranges_at, percentile_bands
from gridregime.analysis.result import (
    STATUS_INSUFFICIENT, STATUS_OK, DataQuality, FeatureValue, RangeCandidate, RegimeResult, Scores, Verdict,
)
from gridregime.analysis.scores import (
    grid_capacity, mean_rev_score, trend_score, trend_streaks, vol_change_score,
)
from gridregime.bars import BARS_SCHEMA, bars_to_numpy, normalize_bars
from gridregime.config import RegimeConfig
from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR_MS, from_ms, iso_z, to_ms, to_utc_hour

__all__ = ["RegimeEngine", "ENGINE_VERSION"]

ENGINE_VERSION = __version__


@dataclass
class _Series:
    """Hourly columns (float64, ts int64 ms) and their features, computed once."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    features: dict[str, np.ndarray]


def _columns(table: pa.Table, name: str) -> dict[str, np.ndarray]:
    if not table.schema.equals(BARS_SCHEMA):  # snapshots and sources already give BARS_SCHEMA
        table = normalize_bars(table, name=name)
    cols = bars_to_numpy(table)
    if cols["ts"].size > 1 and np.any(np.diff(cols["ts"]) <= 0):
        raise InvalidParameterError(f"{name}.ts: expected strictly increasing bar times")
    return cols


def _minute_block(cols: dict[str, np.ndarray] | None, hour_ms: int) -> dict[str, np.ndarray] | None:
    """The 1m bars whose open time falls in hour H (None when there are none)."""
    if cols is None or cols["ts"].size == 0:
        return None
    ts = cols["ts"]
    a, b = np.searchsorted(ts, [hour_ms, hour_ms + HOUR_MS])
    if b <= a:
        return None
    return {k: v[a:b] for k, v in cols.items()}


def _minute_features(minute: dict[str, np.ndarray] | None, bar: tuple[float, float, float, float],
                     atr: float) -> tuple[float, float, int | None]:
    """(rv_1m, hour_range_atr, minute bars or None). rv_1m = sqrt(Σ r²) of the hour's 1m log
    returns, the first taken open → close of the first minute; without minutes the hourly bar
    stands in (|log C/O|)."""
    if minute is None:
        o, h, l, c = bar
        rv = abs(math.log(c / o))
        rng = h - l
        n = None
    else:
        close = minute["close"]
        r0 = math.log(close[0] / minute["open"][0])
        r = np.log(close[1:] / close[:-1])
        rv = math.sqrt(r0 * r0 + float(np.dot(r, r)))
        rng = float(np.max(minute["high"]) - np.min(minute["low"]))
        n = int(close.size)
    return rv, (rng / atr if atr > 0 else math.nan), n


def _minute_features_at(cols: dict[str, np.ndarray] | None, s: _Series, idx: np.ndarray, hours_ms: np.ndarray,
                        atr_at: np.ndarray) -> list[tuple[float, float, int | None]]:
    """:func:`_minute_features` of every bar ``idx`` (open times ``hours_ms``), the same
    arithmetic with the whole-series parts (log returns, hourly high/low) done once."""
    m = idx.size
    if cols is None or cols["ts"].size == 0:
        a = b = np.zeros(m, dtype=np.intp)
    else:
        mts = cols["ts"]
        a = np.searchsorted(mts, hours_ms)
        b = np.searchsorted(mts, hours_ms + HOUR_MS)
    has = b > a
    out: list[tuple[float, float, int | None]] = []
    if has.any():
        close, high, low = cols["close"], cols["high"], cols["low"]
        with np.errstate(all="ignore"):  # returns of hours not analysed may be undefined
            r = np.log(close[1:] / close[:-1])
        key = mts // HOUR_MS
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        spans = (np.maximum.reduceat(high, starts) - np.minimum.reduceat(low, starts))
        ah = a[has]
        rng_at = np.zeros(m)
        rng_at[has] = spans[np.searchsorted(starts, ah)]  # each hour's block starts a group
        first = np.ones(m)
        first[has] = close[ah] / cols["open"][ah]
        first_l, rng_l = first.tolist(), rng_at.tolist()
    a_l, b_l, atr_l = a.tolist(), b.tolist(), atr_at.tolist()
    for h in range(m):
        ah, bh, atr = a_l[h], b_l[h], atr_l[h]
        if bh > ah:
            r0 = math.log(first_l[h])
            rr = r[ah:bh - 1]
            rv = math.sqrt(r0 * r0 + float(np.dot(rr, rr)))
            rng = rng_l[h]
            n: int | None = bh - ah
        else:
            i = idx[h]
            rv = abs(math.log(float(s.close[i]) / s.open[i]))
            rng = s.high[i] - s.low[i]
            n = None
        out.append((rv, (rng / atr if atr > 0 else math.nan), n))
    return out


class _Gaps:
    """Missing hourly open times (ms) between consecutive bars of a series, found once; a
    window's gaps are those strictly between its first and last bar."""

    def __init__(self, ts: np.ndarray) -> None:
        steps = np.diff(ts) // HOUR_MS
        self.ms: list[int] = []
        for k in np.flatnonzero(steps > 1):
            self.ms.extend(int(ts[k] + j * HOUR_MS) for j in range(1, int(steps[k])))
        self._arr = np.array(self.ms, dtype=np.int64)
        self._dt: list[datetime] | None = None

    def window(self, first_ms: int, last_ms: int) -> tuple[list[int], tuple[datetime, ...]]:
        if not self.ms:
            return [], ()
        a = int(np.searchsorted(self._arr, first_ms, side="right"))
        b = int(np.searchsorted(self._arr, last_ms, side="left"))
        if self._dt is None:
            self._dt = [from_ms(g) for g in self.ms]
        return self.ms[a:b], tuple(self._dt[a:b])


def _rangeable(s: _Series) -> bool:
    """Whether the compiled many-bar range discovery applies (finite bars, volumes >= 0);
    otherwise the checked per-hour path runs (and reports bad inputs as it always did)."""
    return bool(np.isfinite(s.high).all() and np.isfinite(s.low).all() and np.isfinite(s.close).all()
                and np.isfinite(s.volume).all() and (s.volume >= 0).all())


def _evidence(values: dict[str, float], ranks: dict[str, float], chosen: Any, width: float, spacing: float,
              price: float, atr: float) -> dict[str, dict[str, float]]:
    """The feature values and ranks behind each score, for the decision factors."""
    def pack(names):
        out = {}
        for n in names:
            out[n] = values[n]
            out[f"{n}_rank"] = ranks[n]
        return out

    rq = {} if chosen is None else {
        "containment": chosen.containment, "touches_lower": float(chosen.touches_lower),
        "touches_upper": float(chosen.touches_upper), "width_atr": chosen.width_atr, "age": float(chosen.age)}
    return {
        "range_quality": rq,
        "vol_change": pack(("vol_ratio", "atr_change")),
        "trend": pack(("adx", "slope_r2", "er", "di_spread")),
        "mean_rev": pack(("vr", "ac1", "mid_cross", "er")),
        "grid_capacity": {"width": width, "spacing": spacing, "price": price, "atr": atr},
    }


class RegimeEngine:
    """Stateless analyser; one instance may serve any number of symbols and hours.

    Parameters
    ----------
    config : RegimeConfig, optional
        Thresholds and windows; per-symbol overrides are applied for each analysed symbol.
    """

    def __init__(self, config: RegimeConfig | None = None) -> None:
        self.config = config if config is not None else RegimeConfig()

    # -- entry points -------------------------------------------------------------------------
    def analyze_from_snapshot(self, snapshot: Any, grid_config: Any = None) -> RegimeResult:
        """Analyse the hour of a loaded snapshot (its hourly history and the hour's 1m bars)."""
        return self.analyze_bars(snapshot.symbol, snapshot.hourly, snapshot.minute, hour=snapshot.hour,
                                 grid_config=grid_config)

    def analyze_bars(self, symbol: str, hourly: pa.Table, minute: pa.Table | None = None, *,
                     hour: Any = None, grid_config: Any = None) -> RegimeResult:
        """Analyse one hour from in-memory bars.

        ``hourly`` must contain a bar at ``hour`` (default: its last bar); later bars are ignored
        and only the last ``history_hours`` bars up to ``hour`` are used, exactly what a snapshot
        of that hour holds. ``minute`` may hold any 1m bars; those of ``hour`` are used, and
        when there are none the hourly bar stands in (reported in data quality).
        """
        symbol = validate_symbol(symbol)
        config = self.config.for_symbol(symbol)
        cols = _columns(hourly, "hourly")
        if cols["ts"].size == 0:
            raise InvalidParameterError("hourly: expected at least one hourly bar, got none")
        hour_ms = int(cols["ts"][-1]) if hour is None else to_ms(to_utc_hour(hour))
        end = int(np.searchsorted(cols["ts"], hour_ms, side="right"))
        if end == 0 or cols["ts"][end - 1] != hour_ms:
            raise InvalidParameterError(f"hourly: no bar at hour {iso_z(from_ms(hour_ms))}")
        start = max(0, end - config.history_hours)
        cols = {k: np.ascontiguousarray(v[start:end]) for k, v in cols.items()}
        series = self._series(cols, config)
        n = series.ts.size
        ranks = {name: F.rank_last(series.features[name], config) for name in F.RANKED_FEATURES}
        streak, history = self._streak_at(series, n - 1, ranks, config)
        lb = max(0, n - config.range_lookback)
        band = percentile_bands(series.close[lb:], config)
        percentile = (float(band[0][-1]), float(band[1][-1]))
        rank_counts = {name: int(np.count_nonzero(np.isfinite(series.features[name][-config.rank_window:])))
                       for name in F.SCORE_RANK_FEATURES}
        minute_cols = None if minute is None else _columns(minute, "minute")
        i = n - 1
        values = {name: float(series.features[name][i]) for name in F.HOURLY_FEATURES}
        atr = values["atr"]
        minute_feats = _minute_features(_minute_block(minute_cols, hour_ms),
                                        (series.open[i], series.high[i], series.low[i], float(series.close[i])), atr)
        candidates = None
        if _rangeable(series):
            candidates = discover_ranges_at(series.high, series.low, series.close, series.volume, np.array([i]),
                                            np.array([atr]), np.array([percentile[0]]), np.array([percentile[1]]),
                                            config)[0]
        return self._result(symbol, series, i, values, ranks, streak, history, percentile, rank_counts,
                            minute_feats, _Gaps(series.ts), candidates, grid_config, config)

    def analyze_source(self, source: Any, symbol: str, hour: Any, grid_config: Any = None) -> RegimeResult:
        """Fetch the hour's history (``history_hours`` hourly bars) and 1m bars from a
        ``DataSource`` and analyse them in memory — no files involved."""
        config = self.config.for_symbol(validate_symbol(symbol))
        h = to_utc_hour(hour)
        h_ms = to_ms(h)
        start = from_ms(h_ms - (config.history_hours - 1) * HOUR_MS)
        hourly = source.fetch_ohlcv(symbol, "1h", start, from_ms(h_ms + HOUR_MS))
        minute = source.fetch_ohlcv(symbol, "1m", h, from_ms(h_ms + HOUR_MS))
        return self.analyze_bars(symbol, hourly, minute, hour=h, grid_config=grid_config)

    def analyze_hours(self, symbol: str, hourly: pa.Table, minute: pa.Table | None,
                      hours: Iterable[Any], *, grid_config: Any = None) -> list[RegimeResult]:
        """Analyse many hours in one pass over the whole hourly series.

        Features and percentile ranks are computed once with the rolling kernels; each requested
        hour (which must have an hourly bar) is then classified from the values at its index.
        Equal to :meth:`analyze_bars` on each hour's ``history_hours``-bar history (scores within
        1e-6: recursive smoothers are seeded at a different bar).
        """
        symbol = validate_symbol(symbol)
        config = self.config.for_symbol(symbol)
        cols = _columns(hourly, "hourly")
        series = self._series(cols, config)
        ts = series.ts
        n = ts.size
        hours_ms = np.array([to_ms(to_utc_hour(hour)) for hour in hours], dtype=np.int64)
        pos = np.searchsorted(ts, hours_ms)
        found = pos < n
        found[found] = ts[pos[found]] == hours_ms[found]
        idx = pos[found]
        # Everything below is per requested bar, gathered once as Python scalars.
        feats = series.features
        rank_arrays = {name: F.rank_series(feats[name], config) for name in F.RANKED_FEATURES}
        band_lo, band_hi = percentile_bands(series.close, config)
        ts_all = trend_score(*(rank_arrays[k] for k in F.TREND_RANK_FEATURES), config=config)
        direction = np.sign(np.nan_to_num(feats["slope"]))
        streaks = trend_streaks(ts_all, direction, config.trend_threshold)
        lo_w = np.maximum(0, idx - config.rank_window + 1)
        counts = {}
        for name in F.SCORE_RANK_FEATURES:
            finite_cum = np.concatenate([[0], np.cumsum(np.isfinite(feats[name]))])
            counts[name] = (finite_cum[idx + 1] - finite_cum[lo_w]).tolist()
        ranks_at = {name: rank_arrays[name][idx].tolist() for name in F.RANKED_FEATURES}
        values_at = {name: feats[name][idx].tolist() for name in F.HOURLY_FEATURES}
        atr_at = feats["atr"][idx]
        minute_at = _minute_features_at(None if minute is None else _columns(minute, "minute"),
                                        series, idx, hours_ms[found], atr_at)
        gaps = _Gaps(ts)
        candidates_at: list[Any] = [None] * idx.size
        if _rangeable(series):
            candidates_at = discover_ranges_at(series.high, series.low, series.close, series.volume, idx, atr_at,
                                               band_lo[idx], band_hi[idx], config)
        k = config.trend_confirm_bars
        ts_list = ts_all.tolist()
        streak_at, lo_band, hi_band = streaks[idx].tolist(), band_lo[idx].tolist(), band_hi[idx].tolist()
        out = []
        idx_list = idx.tolist()
        for hour_ms, ok in zip(hours_ms.tolist(), found.tolist()):
            if not ok:
                raise InvalidParameterError(f"hours: no hourly bar at {iso_z(from_ms(hour_ms))}")
            h = len(out)  # requested bars found so far: this hour's position in the gathered lists
            i = idx_list[h]
            ranks = {name: ranks_at[name][h] for name in F.RANKED_FEATURES}
            values = {name: values_at[name][h] for name in F.HOURLY_FEATURES}
            history = tuple(ts_list[max(0, i - k + 1):i + 1])
            rank_counts = {name: counts[name][h] for name in F.SCORE_RANK_FEATURES}
            out.append(self._result(symbol, series, i, values, ranks, int(streak_at[h]), history,
                                    (lo_band[h], hi_band[h]), rank_counts, minute_at[h], gaps, candidates_at[h],
                                    grid_config, config))
        return out

    # -- internals ------------------------------------------------------------------------------
    @staticmethod
    def _series(cols: dict[str, np.ndarray], config: RegimeConfig) -> _Series:
        feats = F.compute_features(cols["high"], cols["low"], cols["close"], config)
        return _Series(cols["ts"], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"], feats)

    @staticmethod
    def _streak_at(series: _Series, i: int, ranks_at_i: dict[str, float],
                   config: RegimeConfig) -> tuple[int, tuple[float, ...]]:
        """Trend streak ending at bar ``i`` and the TrendScores of the last ``trend_confirm_bars``
        bars, ranking earlier bars only as far back as needed (each rank is the same quantity
        the rolling rank of the many-hour path gives at that bar)."""
        feats = series.features
        slope = feats["slope"]

        def scores_tail(m: int) -> np.ndarray:
            """TrendScores of the last ``m`` bars up to ``i``: the last by ``rank_last``, longer
            tails by one rolling rank over a segment holding each bar's full rank window."""
            if m <= 4:  # a few O(w) rank_last calls beat one rolling pass over the segment
                out = np.empty(m)
                for back in range(m):
                    r = ([ranks_at_i[k] for k in F.TREND_RANK_FEATURES] if back == 0 else
                         [F.rank_last(feats[k][:i + 1 - back], config) for k in F.TREND_RANK_FEATURES])
                    out[m - 1 - back] = trend_score(*r, config=config)
                return out
            lo = max(0, i + 1 - m - config.rank_window)
            r = [F.rank_series(np.ascontiguousarray(feats[k][lo:i + 1]), config)[-m:] for k in F.TREND_RANK_FEATURES]
            return trend_score(*r, config=config)

        def sign(j: int) -> int:
            v = slope[j]
            return 0 if not v == v or v == 0 else (1 if v > 0 else -1)

        k = config.trend_confirm_bars
        tail = scores_tail(min(k, i + 1))
        history = tuple(float(v) for v in tail)
        d = sign(i)
        run = 0
        while d != 0:
            # tail[-1 - run] is bar i - run; extend the tail when the streak reaches its start
            if run == tail.size:
                if tail.size == i + 1:
                    break
                tail = scores_tail(min(i + 1, max(64, 4 * tail.size)))
            j = i - run
            if not (tail[-1 - run] >= config.trend_threshold and sign(j) == d):
                break
            run += 1
        return run, history

    def _result(self, symbol: str, s: _Series, i: int, values: dict[str, float], ranks: dict[str, float],
                streak: int, trend_history: tuple[float, ...], percentile: tuple[float, float],
                rank_counts: dict[str, int], minute_feats: tuple[float, float, int | None], gaps: _Gaps,
                candidates: tuple[RangeCandidate, ...] | None, grid_config: Any,
                config: RegimeConfig) -> RegimeResult:
        """The result at bar ``i`` from its values, ranks and minute features; ``candidates``
        are the discovered ranges when already known (None: discover them here)."""
        hour = from_ms(int(s.ts[i]))
        price = float(s.close[i])
        atr = values["atr"]
        rv, hr_atr, n_min = minute_feats
        feats = {name: FeatureValue(values[name], None if math.isnan(ranks[name]) else ranks[name])
                 for name in F.HOURLY_FEATURES}
        feats["rv_1m"] = FeatureValue(rv, None)
        feats["hour_range_atr"] = FeatureValue(hr_atr, None)
        slope = values["slope"]
        direction = 0 if not math.isfinite(slope) or slope == 0 else (1 if slope > 0 else -1)

        # Data quality: what a snapshot of this hour would hold: the bars of the history_hours-hour
        # time window ending with H (a window of time, so gaps make fewer bars, as in a 1h file).
        first = int(np.searchsorted(s.ts, int(s.ts[i]) - (config.history_hours - 1) * HOUR_MS, side="left"))
        gap_ms, gap_dt = gaps.window(int(s.ts[first]), int(s.ts[i]))
        rank_start_ms = int(s.ts[max(0, i - config.rank_window + 1)])
        gaps_in_rank_window = sum(1 for g in gap_ms if g > rank_start_ms)
        n_minutes = 0 if n_min is None else n_min
        fill = min(rank_counts.values()) / config.rank_window
        history_bars = i + 1 - first
        needed = F.warmup_bars(config)
        warming_up = history_bars < needed
        warnings = []
        if fill < 1.0:
            warnings.append(f"rank window not full: {min(rank_counts.values())} of {config.rank_window} values")
        if warming_up:
            warnings.append(f"warming up: {history_bars} of {needed} hourly bars behind the ranks")
        if n_min is None:
            warnings.append("no 1m bars for this hour: the hourly bar stands in for rv_1m and hour_range_atr")
        elif n_minutes < 60:
            warnings.append(f"{60 - n_minutes} of 60 minute bars missing")
        if gap_ms:
            warnings.append(f"{len(gap_ms)} missing hourly bar(s) in the history (not filled)")
        # While warming up, ranks rest on less history than a full window: confidence follows the
        # smaller of the window fill and the share of the warm-up history present.
        q_factor = data_quality_factor(min(fill, history_bars / needed), 60 - n_minutes, gaps_in_rank_window, config)
        dq = DataQuality(
            hourly_bars=i + 1 - first, hourly_gaps=len(gap_ms), gap_hours=gap_dt,
            minute_bars=n_minutes, minutes_source="hourly" if n_min is None else "1m",
            rank_window_full=fill >= 1.0, rank_fill=fill, confidence_factor=q_factor, warnings=tuple(warnings),
            history_bars=history_bars, warming_up=warming_up,
        )
        common = dict(symbol=symbol, hour=hour, features=feats, price=price, atr=atr,
                      config_hash=config.config_hash, engine_version=ENGINE_VERSION, data_quality=dq)

        missing_ranks = [name for name in F.SCORE_RANK_FEATURES if math.isnan(ranks[name])]
        if missing_ranks:
            need = F.required_bars(config)
            have = i + 1 - first
            missing = max(0, max(need[name] for name in missing_ranks) - have)
            if missing:
                reason = (f"history too short: {have} hourly bars, {have + missing} needed for percentile "
                          f"ranks of {', '.join(missing_ranks)} ({missing} hours missing)")
            else:
                reason = f"feature(s) undefined at this hour (e.g. flat prices): {', '.join(missing_ranks)}"
            return RegimeResult(status=STATUS_INSUFFICIENT, reason=reason, verdict=None, direction=direction,
                                confidence=0.0, scores=None, chosen_range=None, candidates=(), trend_streak=0,
                                missing_hours=missing, **common)

        if candidates is None:
            lo = max(0, i - config.range_lookback + 1)
            candidates = discover_ranges(s.high[lo:i + 1], s.low[lo:i + 1], s.close[lo:i + 1], s.volume[lo:i + 1],
                                         atr, config, percentile=percentile)
        chosen = choose_range(candidates)
        width = chosen.upper - chosen.lower if chosen is not None else 0.0
        capacity, spacing = grid_capacity(width, price, atr, config)
        r = ranks
        scores = Scores(
            trend=float(trend_score(r["adx"], r["slope_r2"], r["er"], r["di_spread"], config)),
            mean_rev=float(mean_rev_score(r["vr"], r["ac1"], r["mid_cross"], r["er"], config)),
            vol_change=float(vol_change_score(r["vol_ratio"], r["atr_change"])),
            range_quality=0.0 if chosen is None else float(chosen.quality),
            grid_capacity=capacity, grid_capacity_ok=capacity >= config.min_grid_levels, spacing=spacing,
        )
        room = math.nan if chosen is None else min(chosen.position, 1.0 - chosen.position) * chosen.width_atr
        x = ClassifierInputs(scores.trend, scores.mean_rev, scores.vol_change, scores.range_quality,
                             capacity, streak, direction, trend_history, room,
                             _evidence(values, ranks, chosen, width, spacing, price, atr))
        verdict, verdict_factors = classify(x, config)
        conf = confidence(verdict_factors, q_factor)  # the verdict's checks only: the start check is not one
        start = start_factor(verdict, room, config)
        comparison = None
        if grid_config is not None and chosen is not None:
            comparison = compare_discovered_vs_configured(grid_config, chosen, price, atr, config)
        return RegimeResult(
            status=STATUS_OK, reason=None, verdict=verdict, direction=direction,
            confidence=conf, scores=scores, chosen_range=chosen,
            candidates=candidates, trend_streak=streak, competing=competing_verdicts(verdict, verdict_factors, x),
            decision_factors=verdict_factors + (start,), comparison=comparison,
            grid_start_ok=verdict is Verdict.RANGE_OK and start.passed,
            **common,
        )
