"""Each §5 score from hand-built ranks, against the formula written out here."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from gridregime.analysis.scores import (
    grid_capacity, grid_spacing, mean_rev_score, trend_score, trend_streak, trend_streaks, vol_change_score,
)
from gridregime.config import RegimeConfig

pct = st.floats(0, 100, allow_nan=False)


def test_trend_score_hand_values():
    assert trend_score(100, 100, 100, 100) == pytest.approx(100)
    assert trend_score(0, 0, 0, 0) == 0
    assert trend_score(80, 40, 60, 20) == pytest.approx(0.35 * 80 + 0.25 * 40 + 0.25 * 60 + 0.15 * 20)
    assert trend_score(100, 0, 0, 0) == pytest.approx(35)
    assert trend_score(0, 0, 0, 100) == pytest.approx(15)


def test_mean_rev_score_hand_values():
    # mean-reverting extreme: low vr, low ac1, many crossings, low er
    assert mean_rev_score(0, 0, 100, 0) == pytest.approx(100)
    assert mean_rev_score(100, 100, 0, 100) == 0
    assert mean_rev_score(50, 20, 70, 10) == pytest.approx(0.3 * 50 + 0.2 * 80 + 0.3 * 70 + 0.2 * 90)


def test_vol_change_score():
    assert vol_change_score(30, 80) == 80
    assert vol_change_score(95, 10) == 95
    assert math.isnan(vol_change_score(math.nan, 10))
    np.testing.assert_array_equal(vol_change_score(np.array([1.0, 50]), np.array([2.0, np.nan])), [2.0, np.nan])


@given(pct, pct, pct, pct)
def test_scores_stay_in_0_100(a, b, c, d):
    for s in (trend_score(a, b, c, d), mean_rev_score(a, b, c, d), vol_change_score(a, b)):
        assert -1e-9 <= s <= 100 + 1e-9


@given(pct, pct, pct, pct, pct)
def test_trend_score_monotone_in_each_rank(a, b, c, d, bump):
    base = trend_score(a, b, c, d)
    assert trend_score(min(100, a + bump), b, c, d) >= base - 1e-12
    assert trend_score(a, b, c, min(100, d + bump)) >= base - 1e-12


def test_grid_spacing_and_capacity():
    cfg = RegimeConfig()
    # ATR dominates: 0.5·ATR = 10 > 2000·0.003 = 6
    assert grid_spacing(2000, 20, cfg) == pytest.approx(10)
    # fee floor dominates: 0.5·ATR = 2 < 6
    assert grid_spacing(2000, 4, cfg) == pytest.approx(6)
    assert grid_capacity(100, 2000, 20, cfg) == (10, pytest.approx(10))
    assert grid_capacity(99.9, 2000, 20, cfg)[0] == 9
    assert grid_capacity(0, 2000, 20, cfg)[0] == 0
    assert grid_capacity(math.nan, 2000, 20, cfg)[0] == 0


@given(st.floats(1, 1e5), st.floats(0.01, 1e3), st.floats(0, 1e5))
def test_capacity_is_floor_of_width_over_spacing(price, atr, width):
    cap, spacing = grid_capacity(width, price, atr)
    assert spacing == max(0.5 * atr, price * 0.003)
    assert cap * spacing <= width * (1 + 1e-9) and (cap + 1) * spacing > width


def test_trend_streaks_by_hand():
    s = np.array([80, 75, np.nan, 90, 91, 92, 60, 71, 72])
    d = np.array([1, 1, 1, 1, 1, -1, -1, -1, -1])
    np.testing.assert_array_equal(trend_streaks(s, d, 70), [1, 2, 0, 1, 2, 1, 0, 1, 2])
    assert trend_streak(s, d, 70) == 2
    assert trend_streak(s[:6], d[:6], 70) == 1  # direction flipped at the last bar
    assert trend_streak([80, 80], [0, 0], 70) == 0  # no direction, no trend


@given(st.lists(st.tuples(st.floats(0, 100), st.sampled_from([-1, 0, 1])), min_size=1, max_size=40))
def test_trend_streak_last_equals_vectorised(bars):
    s = np.array([b[0] for b in bars])
    d = np.array([b[1] for b in bars])
    assert trend_streak(s, d, 70) == trend_streaks(s, d, 70)[-1]
