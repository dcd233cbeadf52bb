"""Range discovery: the measures of a candidate against plain loops, and each method's bounds."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from gridregime.analysis.ranges import (
    choose_range, discover_ranges, measure_range, range_quality, width_suitability,
)
from gridregime.analysis.result import RangeCandidate
from gridregime.config import RegimeConfig
from tests.reference import ranges as R

CFG = RegimeConfig()


def test_width_suitability_shape():
    assert width_suitability(2) == 0.5 and width_suitability(4) == 1 and width_suitability(20) == 1
    assert width_suitability(30) == 0.5 and width_suitability(40) == 0 and width_suitability(100) == 0
    assert width_suitability(math.nan) == 0


def test_quality_weights():
    assert range_quality(1.0, 1, 1, 10, 24) == pytest.approx(100)
    assert range_quality(0.5, 0, 1, 10, 12) == pytest.approx(20 + 15 + 20 + 5)
    assert range_quality(0.0, 0, 0, 0.0, 0) == 0


def _bars(seed, n=72):
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    high = close + np.abs(rng.normal(0, 0.5, n))
    low = close - np.abs(rng.normal(0, 0.5, n))
    vol = rng.gamma(2, 3, n)
    return high, low, close, vol


@given(st.integers(0, 10_000), st.floats(0.05, 0.45), st.floats(0.55, 0.95))
def test_measures_match_plain_loops(seed, qa, qb):
    high, low, close, _ = _bars(seed)
    lower, upper = np.quantile(close, [qa, qb])
    atr = 1.3
    c = measure_range("percentile", lower, upper, high, low, close, atr)
    assert c.width_atr == pytest.approx((upper - lower) / atr)
    assert c.containment == pytest.approx(sum(lower <= x <= upper for x in close) / len(close))
    tl, tu = R.touch_counts(high, low, lower, upper, 0.25 * atr)
    assert (c.touches_lower, c.touches_upper) == (tl, tu)
    mid = (lower + upper) / 2
    sides = [x > mid for x in close if x != mid]
    assert c.mid_crosses == sum(a != b for a, b in zip(sides, sides[1:]))
    age = 0
    for x in close[::-1]:
        if lower - 0.25 * atr <= x <= upper + 0.25 * atr:
            age += 1
        else:
            break
    assert c.age == age
    assert c.position == pytest.approx((close[-1] - lower) / (upper - lower))
    assert 0 <= c.quality <= 100


def test_unusable_bounds_give_no_candidate():
    high, low, close, _ = _bars(1)
    assert measure_range("x", 5, 5, high, low, close, 1.0) is None
    assert measure_range("x", math.nan, 5, high, low, close, 1.0) is None
    assert measure_range("x", 1, 5, high, low, close, 0.0) is None


@given(st.integers(0, 10_000))
def test_methods_bounds(seed):
    high, low, close, vol = _bars(seed)
    atr = 1.1
    cands = {c.method: c for c in discover_ranges(high, low, close, vol, atr)}
    q_lo, q_hi = R.rolling_quantile_band(close, 72, 0.10, 0.90)
    assert cands["percentile"].lower == pytest.approx(q_lo[-1]) and cands["percentile"].upper == pytest.approx(q_hi[-1])
    assert cands["donchian"].lower == pytest.approx(low.min() + 0.25 * atr)
    assert cands["donchian"].upper == pytest.approx(high.max() - 0.25 * atr)
    if "pivots" in cands:
        p = cands["pivots"]
        assert p.lower <= close[-1] <= p.upper
    if "volume_profile" in cands:
        v = cands["volume_profile"]
        assert low.min() - 1e-9 <= v.lower < v.upper <= high.max() + 1e-9
    best = choose_range(tuple(cands.values()))
    assert best.quality == max(c.quality for c in cands.values())


def test_pivots_pick_most_touched_clusters():
    # A clean oscillation between ~95 and ~105: swing lows at 95, swing highs at 105.
    t = np.arange(72)
    close = 100 + 5 * np.sin(2 * np.pi * t / 12)
    high, low = close + 0.2, close - 0.2
    cands = {c.method: c for c in discover_ranges(high, low, close, np.ones(72), 1.0)}
    p = cands["pivots"]
    assert p.lower == pytest.approx(95 - 0.2, abs=0.2) and p.upper == pytest.approx(105 + 0.2, abs=0.2)
    assert p.containment == 1.0 and p.touches_lower >= 5 and p.touches_upper >= 5


def test_choose_range_ties_keep_first():
    a = RangeCandidate("percentile", 1, 2, 1, 1, 1, 1, 1, 1, 0.5, 50.0)
    b = RangeCandidate("donchian", 1, 2, 1, 1, 1, 1, 1, 1, 0.5, 50.0)
    assert choose_range((a, b)) is a and choose_range(()) is None
