"""Property 48: the analysis comparison applied to a stored GridConfig."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gridregime.analysis.comparison import compare_discovered_vs_configured
from gridregime.analysis.result import RangeCandidate
from gridregime.grid import GridConfig

from .strategies import SYMBOL


def _candidate(lower, upper):
    return RangeCandidate(method="percentile", lower=lower, upper=upper, width_atr=10.0, containment=0.9,
                          touches_lower=2, touches_upper=2, mid_crosses=4, age=72, position=0.5, quality=80.0)


@given(st.floats(1.0, 1e5), st.floats(0.01, 0.5), st.integers(2, 100), st.floats(0.0, 1.0), st.floats(1e-3, 0.05))
def test_property_48_identical_aligned_disjoint_outside(lower, rel_width, levels, where, atr_rel):
    upper = lower * (1 + rel_width)
    atr = lower * atr_rel
    grid = GridConfig(SYMBOL, lower, upper, levels, 100.0)
    price = lower + where * (upper - lower)
    same = compare_discovered_vs_configured(grid, _candidate(lower, upper), price, atr)
    assert same.status == "ALIGNED" and same.overlap_ratio == 1.0
    gap = (upper - lower) * 0.1
    for lo, hi in ((upper + gap, upper + gap + (upper - lower)), (lower / 3, lower / 2)):
        far = compare_discovered_vs_configured(grid, _candidate(lo, hi), price, atr)
        assert far.status == "OUTSIDE" and far.overlap_ratio == 0.0
