"""The hierarchical verdict of §5, first match wins, recorded as decision factors.

Steps, in order:

1. RangeQualityScore < 30 → ``RANGE_WEAK``.
2. VolChangeScore > ``transition_above`` (§5: 70; default 90) → ``TRANSITION``.
3. TrendScore >= 70 on ``trend_confirm_bars`` consecutive bars with unchanged direction → ``TREND``
   (checked as ``trend_streak >= trend_confirm_bars``).
4. RangeQualityScore >= 60 (else ``RANGE_WEAK``) and MeanRevScore >= ``range_ok_meanrev`` (§5: 50;
   default 20; else ``RANGE_WEAK``).
5. Safety: GridCapacity >= ``min_grid_levels`` → ``RANGE_OK``, else ``RANGE_WEAK``. When
   ``range_ok_min_room_atr`` > 0 (off by default), price must also sit at least that many ATR
   from both bounds of the chosen range (``room_atr``), else ``RANGE_WEAK``.

Every evaluated check becomes a :class:`~gridregime.analysis.result.DecisionFactor`; the verdict is
a function of the factors alone (:func:`verdict_from_factors`), so a reader can re-check it.
"""
from __future__ import annotations

import math
import operator as _op
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from gridregime.analysis.result import CompetingVerdict, DecisionFactor, Verdict
from gridregime.config import RegimeConfig

__all__ = ["ClassifierInputs", "classify", "start_factor", "verdict_from_factors", "competing_verdicts", "OPERATORS"]

OPERATORS = {"<": _op.lt, "<=": _op.le, ">": _op.gt, ">=": _op.ge}
_VERDICTS = tuple(Verdict)  # iterating the Enum class itself is slow on the per-hour path


@dataclass(frozen=True)
class ClassifierInputs:
    """What the classifier needs at hour H. ``trend_history`` holds the TrendScores of the bars
    in the current streak window, oldest first, ending with H (used to explain step 3).
    ``evidence`` maps a score name (``range_quality``, ``vol_change``, ``trend``, ``mean_rev``,
    ``grid_capacity``) to the feature values and ranks behind it; they are copied into the
    ``inputs`` of the checks that use that score."""

    trend: float
    mean_rev: float
    vol_change: float
    range_quality: float
    grid_capacity: int
    trend_streak: int
    direction: int
    trend_history: tuple[float, ...] = ()
    room_atr: float = math.inf  # distance from price to the nearer bound of the chosen range, in ATR
    evidence: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def _margin(value: float, threshold: float, scale: float) -> float:
    if not (math.isfinite(value) and math.isfinite(threshold)):
        return 0.0
    return min(1.0, abs(value - threshold) / scale)


def classify(x: ClassifierInputs, config: RegimeConfig = RegimeConfig()) -> tuple[Verdict, tuple[DecisionFactor, ...]]:
    """Run the five steps; return the verdict and every check evaluated, in order."""
    c = config
    scale = c.confidence_margin_scale
    factors: list[DecisionFactor] = []

    def add(step, check, value, op, threshold, on_pass, on_fail, margin, inputs) -> Verdict | None:
        passed = bool(OPERATORS[op](value, threshold))
        for score in list(inputs):
            inputs.update(x.evidence.get(score, {}))
        f = DecisionFactor(step, check, float(value), op, float(threshold), passed, on_pass, on_fail,
                           float(margin), dict(inputs))
        factors.append(f)
        return f.outcome

    rq, vc, ts, mr = x.range_quality, x.vol_change, x.trend, x.mean_rev
    v = add(1, "range_quality_floor", rq, "<", c.range_weak_below, Verdict.RANGE_WEAK, None,
            _margin(rq, c.range_weak_below, scale), {"range_quality": rq})
    if v is None:
        v = add(2, "volatility_change", vc, ">", c.transition_above, Verdict.TRANSITION, None,
                _margin(vc, c.transition_above, scale), {"vol_change": vc})
    if v is None:
        history = x.trend_history[-c.trend_confirm_bars:] or (ts,)
        if x.trend_streak >= c.trend_confirm_bars:
            # Confirmed: the weakest bar of the streak is what could break it.
            m = min(_margin(s, c.trend_threshold, scale) for s in history)
        elif ts >= c.trend_threshold:
            m = 0.0  # one more bar above the threshold would confirm the trend
        else:
            m = _margin(ts, c.trend_threshold, scale)
        inputs = {"trend": ts, "direction": float(x.direction), "trend_threshold": c.trend_threshold}
        for k, s in enumerate(reversed(history)):
            inputs[f"trend_bar_minus_{k}"] = s
        v = add(3, "trend_confirmed", x.trend_streak, ">=", c.trend_confirm_bars, Verdict.TREND, None, m, inputs)
    if v is None:
        v = add(4, "range_quality_ok", rq, ">=", c.range_ok_quality, None, Verdict.RANGE_WEAK,
                _margin(rq, c.range_ok_quality, scale), {"range_quality": rq})
    if v is None:
        v = add(4, "mean_reversion_ok", mr, ">=", c.range_ok_meanrev, None, Verdict.RANGE_WEAK,
                _margin(mr, c.range_ok_meanrev, scale), {"mean_rev": mr})
    if v is None:
        cap_margin = min(1.0, abs(x.grid_capacity - c.min_grid_levels) / c.min_grid_levels)
        room_check = c.range_ok_min_room_atr > 0
        v = add(5, "grid_capacity", x.grid_capacity, ">=", c.min_grid_levels,
                None if room_check else Verdict.RANGE_OK, Verdict.RANGE_WEAK, cap_margin,
                {"grid_capacity": float(x.grid_capacity)})
        if v is None:
            room = x.room_atr if math.isfinite(x.room_atr) else -1.0
            room_margin = min(1.0, abs(room - c.range_ok_min_room_atr) / c.range_ok_min_room_atr)
            v = add(5, "price_room", room, ">=", c.range_ok_min_room_atr, Verdict.RANGE_OK, Verdict.RANGE_WEAK,
                    room_margin, {"room_atr": room})
    assert v is not None
    return v, tuple(factors)


def start_factor(verdict: Verdict, room_atr: float, config: RegimeConfig = RegimeConfig()) -> DecisionFactor:
    """Step 6, after the verdict: may a new grid start this hour? (``grid_start_ok``)

    A grid starts only on RANGE_OK with price at least ``grid_start_min_room_atr`` ATR from both
    bounds of the chosen range. Near a bound the range is one ordinary move from breaking: a grid
    started there buys (or sells) its whole inventory into the break. A running grid is not
    judged by this check (for a running grid, touching a bound is the grid at work), and it never
    changes the verdict or its confidence: ``on_pass`` and ``on_fail`` are None.
    """
    k = config.grid_start_min_room_atr
    room = room_atr if math.isfinite(room_atr) else -1.0
    margin = 1.0 if k <= 0 else min(1.0, abs(room - k) / k)
    return DecisionFactor(6, "grid_start_room", float(room), ">=", float(k), bool(room >= k), None, None,
                          float(margin), {"room_atr": float(room), "verdict_range_ok": float(verdict is Verdict.RANGE_OK)})


def verdict_from_factors(factors: Sequence[DecisionFactor]) -> Verdict | None:
    """Re-evaluate each factor's comparison and walk them: the first decided outcome wins.

    Independent of the ``passed`` flags stored in the factors, so it checks them too.
    """
    for f in factors:
        passed = OPERATORS[f.operator](f.value, f.threshold)
        outcome = f.on_pass if passed else f.on_fail
        if outcome is not None:
            return outcome
    return None


def _support(verdict: Verdict, x: ClassifierInputs) -> float:
    if verdict is Verdict.TREND:
        return x.trend
    if verdict is Verdict.TRANSITION:
        return x.vol_change
    if verdict is Verdict.RANGE_OK:
        return min(x.range_quality, x.mean_rev)
    return 100.0 - x.range_quality


def competing_verdicts(verdict: Verdict, factors: Sequence[DecisionFactor],
                       x: ClassifierInputs) -> tuple[CompetingVerdict, ...]:
    """Every verdict other than ``verdict``: its support (0–100) and the step that ruled it out.

    Support: TREND = TrendScore, TRANSITION = VolChangeScore, RANGE_OK = min(RangeQuality,
    MeanRev), RANGE_WEAK = 100 − RangeQuality. A verdict is ruled out at the first evaluated step
    that could have produced it and did not; a verdict no evaluated step could produce was ruled
    out by the step that decided the primary verdict. Sorted by support, highest first.
    """
    deciding = factors[-1]
    out = []
    for other in _VERDICTS:
        if other is verdict:
            continue
        step, reason = deciding.step, f"not reached: step {deciding.step} ({deciding.check}) decided {verdict.value}"
        for f in factors:
            if other in (f.on_pass, f.on_fail) and f.outcome is not other:
                step = f.step
                reason = (f"step {f.step} ({f.check}): {f.value:.4g} {f.operator} {f.threshold:.4g} is "
                          f"{'true' if f.passed else 'false'}")
                break
        support = _support(other, x)
        support = 0.0 if not math.isfinite(support) else max(0.0, min(100.0, support))
        out.append(CompetingVerdict(other, support, step, reason))
    out.sort(key=lambda c: (-c.support, c.verdict.value))
    return tuple(out)
