"""Configured grid versus discovered range."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import assume, given, strategies as st

from gridregime.analysis.comparison import compare_discovered_vs_configured
from gridregime.analysis.result import RangeCandidate
from gridregime.errors import InvalidParameterError


@dataclass
class Grid:  # any object with lower / upper / levels will do
    lower: float
    upper: float
    levels: int


def rng(lower, upper):
    return RangeCandidate("percentile", lower, upper, 0.0, 1.0, 1, 1, 3, 10, 0.5, 80.0)


bounds = st.tuples(st.floats(10, 1000), st.floats(1, 500)).map(lambda t: (t[0], t[0] + t[1]))


@given(bounds, st.integers(2, 50), st.floats(0.01, 50))
def test_property_48_identical_ranges_are_aligned(b, levels, atr):
    lo, hi = b
    price = (lo + hi) / 2
    cmp = compare_discovered_vs_configured(Grid(lo, hi, levels), rng(lo, hi), price, atr)
    assert cmp.status == "ALIGNED" and cmp.overlap_ratio == 1.0
    assert cmp.lower_deviation_pct == 0 and cmp.upper_deviation_atr == 0
    assert cmp.suggested_adjustment == {"action": "none"}


@given(bounds, st.floats(0.001, 100), st.floats(1, 500), st.floats(0.01, 50))
def test_property_48_disjoint_ranges_are_outside(b, gap, width, atr):
    lo, hi = b
    other = (hi + gap, hi + gap + width)
    cmp = compare_discovered_vs_configured(Grid(*other, 5), rng(lo, hi), (lo + hi) / 2, atr)
    assert cmp.status == "OUTSIDE" and cmp.overlap_ratio == 0.0
    assert cmp.suggested_adjustment["lower"] == lo and cmp.suggested_adjustment["upper"] == hi


def test_hand_values():
    # grid 100..120, range 105..125, ATR 2: overlap 15/25, deviations -5 (-4.76 %, -2.5 ATR), -5
    cmp = compare_discovered_vs_configured(Grid(100, 120, 11), rng(105, 125), 110, 2.0)
    assert cmp.overlap_ratio == pytest.approx(15 / 25)
    assert cmp.lower_deviation_pct == pytest.approx(-5 / 105 * 100)
    assert cmp.lower_deviation_atr == pytest.approx(-2.5)
    assert cmp.upper_deviation_atr == pytest.approx(-2.5)
    assert cmp.grid_spacing == pytest.approx(2.0)
    assert cmp.recommended_spacing == pytest.approx(max(1.0, 110 * 0.003))
    assert cmp.status == "DRIFTED" and cmp.price_inside_grid and cmp.price_inside_range


def test_price_left_the_grid_but_inside_range_is_outside():
    cmp = compare_discovered_vs_configured(Grid(100, 120, 5), rng(105, 130), 125, 2.0)
    assert cmp.status == "OUTSIDE" and not cmp.price_inside_grid and cmp.price_inside_range


def test_small_overlap_is_misaligned():
    cmp = compare_discovered_vs_configured(Grid(100, 200, 5), rng(180, 260), 190, 2.0)
    assert cmp.overlap_ratio == pytest.approx(20 / 160) and cmp.status == "MISALIGNED"


@given(bounds, bounds, st.floats(1, 2000), st.floats(0.01, 50))
def test_overlap_in_unit_interval_and_symmetric(a, b, price, atr):
    assume(a != b)
    x = compare_discovered_vs_configured(Grid(*a, 5), rng(*b), price, atr).overlap_ratio
    y = compare_discovered_vs_configured(Grid(*b, 5), rng(*a), price, atr).overlap_ratio
    assert 0.0 <= x <= 1.0 and x == pytest.approx(y)


@pytest.mark.parametrize("grid, field", [
    (Grid(120, 100, 5), "grid.lower"), (Grid(100, 120, 1), "grid.levels"), (object(), "grid"),
])
def test_bad_grid_names_field(grid, field):
    with pytest.raises(InvalidParameterError, match=field):
        compare_discovered_vs_configured(grid, rng(100, 120), 110, 1.0)
