"""The regime engine: bars → features → ranks → ranges → scores → verdict → :class:`RegimeResult`.

One code path serves every entry point:

- :meth:`RegimeEngine.analyze_hours` — many hours in one pass over the whole hourly series;
- :meth:`RegimeEngine.analyze_bars` — one hour from in-memory Arrow tables: the many-hour pass,
  over the hour's ``history_hours``-bar history, for that one hour;
- :meth:`RegimeEngine.analyze_from_snapshot` and :meth:`RegimeEngine.analyze_source` — one hour
  from a loaded snapshot or straight from a ``DataSource``, through ``analyze_bars``.

A pass computes every feature once over the series, then each quantity the requested hours need
(ranks, trend streaks, percentile bands, minute features, ranges) only over the bars they need,
gathers each hour's into an :class:`_Hour` and classifies it. An analysis at hour H only ever uses
hourly bars with open time <= H and the 1m bars of hour H.
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
from gridregime.analysis.ranges import choose_range, discover_ranges_at, percentile_bands
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


def _columns(table: pa.Table, name: str) -> dict[str, np.ndarray]:
    if not table.schema.equals(BARS_SCHEMA):  # snapshots and sources already give BARS_SCHEMA
        table = normalize_bars(table, name=name)
    cols = bars_to_numpy(table)
    if cols["ts"].size > 1 and np.any(np.diff(cols["ts"]) <= 0):
        raise InvalidParameterError(f"{name}.ts: expected strictly increasing bar times")
    return cols


def _minute_features(cols: dict[str, np.ndarray] | None, hourly: dict[str, np.ndarray], idx: np.ndarray,
                     atr_at: np.ndarray) -> list[tuple[float, float, int | None]]:
    """``(rv_1m, hour_range_atr, minute bars or None)`` of every hourly bar ``idx``.

    rv_1m = sqrt(Σ r²) of the hour's 1m log returns, the first taken open → close of the first
    minute; the range is the hour's highest 1m high minus its lowest 1m low. Without 1m bars the
    hourly bar stands in (|log C/O|, high − low).
    """
    hours_ms = hourly["ts"][idx]
    if cols is None or cols["ts"].size == 0:
        a = b = [0] * idx.size
    else:
        a = np.searchsorted(cols["ts"], hours_ms).tolist()
        b = np.searchsorted(cols["ts"], hours_ms + HOUR_MS).tolist()
    out: list[tuple[float, float, int | None]] = []
    for h, (ah, bh, atr) in enumerate(zip(a, b, atr_at.tolist())):
        if bh > ah:
            close = cols["close"][ah:bh]
            r0 = math.log(close[0] / cols["open"][ah])
            r = np.log(close[1:] / close[:-1])
            rv = math.sqrt(r0 * r0 + float(np.dot(r, r)))
            rng = float(np.max(cols["high"][ah:bh]) - np.min(cols["low"][ah:bh]))
            n: int | None = bh - ah
        else:
            i = idx[h]
            rv = abs(math.log(float(hourly["close"][i]) / hourly["open"][i]))
            rng = hourly["high"][i] - hourly["low"][i]
            n = None
        out.append((rv, (rng / atr if atr > 0 else math.nan), n))
    return out


def _trend_tails(features: dict[str, np.ndarray], idx: np.ndarray,
                 config: RegimeConfig) -> tuple[dict[str, list[float]], list[int], list[tuple[float, ...]]]:
    """The trend features' ranks at the bars ``idx``, the trend streak ending at each (bars with
    TrendScore >= threshold and one non-zero slope sign) and its last ``trend_confirm_bars``
    TrendScores.

    TrendScores are computed from ``trend_confirm_bars`` before the first requested bar; while
    a streak reaches back to the first bar computed, further back (x4, at least 64 bars), so
    every streak is the one of the whole series.
    """
    k = config.trend_confirm_bars
    first, last = int(idx.min()), int(idx.max())
    back = k
    while True:
        start = max(0, first - back + 1)
        bars = np.arange(start, last + 1)
        ranks = {name: F.ranks_at(features[name], bars, config) for name in F.TREND_RANK_FEATURES}
        scores = [trend_score(*r, config=config) for r in zip(*(ranks[name] for name in F.TREND_RANK_FEATURES))]
        direction = [1 if v > 0 else (-1 if v < 0 else 0) for v in features["slope"][start:last + 1].tolist()]
        at = (idx - start).tolist()
        run = trend_streaks(scores, direction, config.trend_threshold).tolist()
        streaks = [run[j] for j in at]
        if start == 0 or all(streak <= j for streak, j in zip(streaks, at)):
            break
        back = max(64, 4 * back)
    history = [tuple(scores[max(0, j - k + 1):j + 1]) for j in at]
    return {name: [r[j] for j in at] for name, r in ranks.items()}, streaks, history


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


@dataclass(frozen=True, slots=True)
class _Pass:
    """One pass over one symbol's hourly series: its columns and features, computed once."""

    symbol: str
    config: RegimeConfig
    hourly: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    gaps: _Gaps
    grid_config: Any


@dataclass(frozen=True, slots=True)
class _Hour:
    """What the result at bar ``i`` of a pass is made of."""

    i: int
    values: dict[str, float]
    ranks: dict[str, float]
    rank_count: int  # fewest defined values in a score feature's rank window
    trend_streak: int
    trend_history: tuple[float, ...]
    minute: tuple[float, float, int | None]  # rv_1m, hour_range_atr, 1m bars (None: none)
    candidates: tuple[RangeCandidate, ...] | None  # None: not scored (ranks missing)


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
        minute_cols = None if minute is None else _columns(minute, "minute")
        run = self._pass(symbol, cols, config, grid_config)
        return self._analyze(run, np.array([end - start - 1]), minute_cols)[0]

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

        Features are computed once over the series, ranks and the other per-hour quantities over
        the bars the requested hours need; each requested hour (which must have an hourly bar) is
        then classified from the values at its index. Equal to :meth:`analyze_bars` on each
        hour's ``history_hours``-bar history (scores within 1e-6: recursive smoothers are seeded
        at a different bar).
        """
        symbol = validate_symbol(symbol)
        config = self.config.for_symbol(symbol)
        run = self._pass(symbol, _columns(hourly, "hourly"), config, grid_config)
        ts = run.hourly["ts"]
        hours_ms = np.array([to_ms(to_utc_hour(hour)) for hour in hours], dtype=np.int64)
        pos = np.searchsorted(ts, hours_ms)
        found = pos < ts.size
        found[found] = ts[pos[found]] == hours_ms[found]
        if not found.all():
            missing = int(hours_ms[np.argmin(found)])
            raise InvalidParameterError(f"hours: no hourly bar at {iso_z(from_ms(missing))}")
        if pos.size == 0:
            return []
        return self._analyze(run, pos, None if minute is None else _columns(minute, "minute"))

    # -- the pass -------------------------------------------------------------------------------
    @staticmethod
    def _pass(symbol: str, cols: dict[str, np.ndarray], config: RegimeConfig, grid_config: Any) -> _Pass:
        features = F.compute_features(cols["high"], cols["low"], cols["close"], config)
        return _Pass(symbol, config, cols, features, _Gaps(cols["ts"]), grid_config)

    def _analyze(self, run: _Pass, idx: np.ndarray, minute: dict[str, np.ndarray] | None) -> list[RegimeResult]:
        """The results at the bars ``idx`` of the pass (in that order)."""
        config, feats, cols = run.config, run.features, run.hourly
        trend_ranks, streaks, histories = _trend_tails(feats, idx, config)
        ranks_l = {name: trend_ranks[name] if name in trend_ranks else F.ranks_at(feats[name], idx, config)
                   for name in F.RANKED_FEATURES}
        scored = [h for h in range(idx.size) if not any(math.isnan(ranks_l[name][h]) for name in F.SCORE_RANK_FEATURES)]
        candidates: list[Any] = [None] * idx.size
        if scored:
            at = idx[scored]
            first = max(0, int(at.min()) - config.range_lookback + 1)  # percentile bands where needed
            band_lo, band_hi = percentile_bands(np.ascontiguousarray(cols["close"][first:int(at.max()) + 1]), config)
            found = discover_ranges_at(cols["high"], cols["low"], cols["close"], cols["volume"], at, feats["atr"][at],
                                       band_lo[at - first], band_hi[at - first], config)
            for h, c in zip(scored, found):
                candidates[h] = c
        rank_counts = F.rank_window_counts(feats, idx, config)
        minute_feats = _minute_features(minute, cols, idx, feats["atr"][idx])
        # per requested bar, as Python scalars gathered once
        values_l = {name: feats[name][idx].tolist() for name in F.HOURLY_FEATURES}
        return [self._result(run, _Hour(i, {name: values_l[name][h] for name in F.HOURLY_FEATURES},
                                        {name: ranks_l[name][h] for name in F.RANKED_FEATURES}, rank_counts[h],
                                        streaks[h], histories[h], minute_feats[h], candidates[h]))
                for h, i in enumerate(idx.tolist())]

    @staticmethod
    def _result(run: _Pass, hr: _Hour) -> RegimeResult:
        """The result at bar ``hr.i`` of the pass."""
        config, ts, i = run.config, run.hourly["ts"], hr.i
        values, ranks = hr.values, hr.ranks
        hour = from_ms(int(ts[i]))
        price = float(run.hourly["close"][i])
        atr = values["atr"]
        rv, hr_atr, n_min = hr.minute
        feats = {name: FeatureValue(values[name], None if math.isnan(ranks[name]) else ranks[name])
                 for name in F.HOURLY_FEATURES}
        feats["rv_1m"] = FeatureValue(rv, None)
        feats["hour_range_atr"] = FeatureValue(hr_atr, None)
        slope = values["slope"]
        direction = 0 if not math.isfinite(slope) or slope == 0 else (1 if slope > 0 else -1)

        # Data quality: what a snapshot of this hour would hold: the bars of the history_hours-hour
        # time window ending with H (a window of time, so gaps make fewer bars, as in a 1h file).
        first = int(np.searchsorted(ts, int(ts[i]) - (config.history_hours - 1) * HOUR_MS, side="left"))
        gap_ms, gap_dt = run.gaps.window(int(ts[first]), int(ts[i]))
        rank_start_ms = int(ts[F.rank_window_start(i, config)])
        gaps_in_rank_window = sum(1 for g in gap_ms if g > rank_start_ms)
        n_minutes = 0 if n_min is None else n_min
        fill = hr.rank_count / config.rank_window
        history_bars = i + 1 - first
        needed = F.warmup_bars(config)
        warming_up = history_bars < needed
        warnings = []
        if fill < 1.0:
            warnings.append(f"rank window not full: {hr.rank_count} of {config.rank_window} values")
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
        common = dict(symbol=run.symbol, hour=hour, features=feats, price=price, atr=atr,
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

        candidates = hr.candidates
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
                             capacity, hr.trend_streak, direction, hr.trend_history, room,
                             _evidence(values, ranks, chosen, width, spacing, price, atr))
        verdict, verdict_factors = classify(x, config)
        conf = confidence(verdict_factors, q_factor)  # the verdict's checks only: the start check is not one
        start = start_factor(verdict, room, config)
        comparison = None
        if run.grid_config is not None and chosen is not None:
            comparison = compare_discovered_vs_configured(run.grid_config, chosen, price, atr, config)
        return RegimeResult(
            status=STATUS_OK, reason=None, verdict=verdict, direction=direction,
            confidence=conf, scores=scores, chosen_range=chosen,
            candidates=candidates, trend_streak=hr.trend_streak, competing=competing_verdicts(verdict, verdict_factors, x),
            decision_factors=verdict_factors + (start,), comparison=comparison,
            grid_start_ok=verdict is Verdict.RANGE_OK and start.passed,
            **common,
        )
