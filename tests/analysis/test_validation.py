"""The engine validation tool: its forward range-hold helper, and the synthetic sanity check of
the costly confusions (slow; 5 seeds x 60 days). Synthetic recall is no longer a target: real
markets judge the verdicts (docs/validation.md)."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gridregime.timeutil import HOUR_MS

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _tool():
    sys.path.insert(0, str(TOOLS))
    try:
        import validate_engine
    finally:
        sys.path.remove(str(TOOLS))
    return validate_engine


def _result(lower: float, upper: float, verdict: object = "RANGE_OK"):
    return SimpleNamespace(verdict=verdict, chosen_range=SimpleNamespace(lower=lower, upper=upper))


def test_held_needs_every_forward_close_inside_the_chosen_range():
    held = _tool()._held
    ts = np.arange(10, dtype=np.int64) * HOUR_MS
    close = np.array([5.0, 5, 6, 4, 5, 9, 5, 5, 5, 5])
    cols = {"ts": ts, "close": close}
    assert held(_result(4.0, 6.0), cols, 0, 4) is True  # closes 1..4 are 5, 6, 4, 5: bounds included
    assert held(_result(4.0, 6.0), cols, 1, 4) is False  # close 5 is 9
    assert held(_result(4.5, 6.0), cols, 0, 4) is False  # close 3 is 4 < 4.5
    assert held(_result(4.0, 6.0), cols, 6, 4) is None  # only 3 bars after bar 6
    assert held(_result(4.0, 6.0, verdict=None), cols, 0, 4) is None
    gap = {"ts": np.delete(np.arange(11, dtype=np.int64) * HOUR_MS, 3), "close": close}
    assert held(_result(0.0, 10.0), gap, 0, 4) is None  # an hour is missing in the next 4


@pytest.mark.slow
def test_synthetic_costly_confusions():
    """Target e: trend hours called RANGE_OK <= 3 %, range hours called TREND <= 10 %, transition
    hours called RANGE_OK <= 5 % (seeds 1-5, 60 days each, 12 settling hours after each switch)."""
    from gridregime.analysis import RegimeEngine

    report = _tool().synthetic_part(RegimeEngine(), [1, 2, 3, 4, 5], 60, 12, "ETH-USDT")
    c = report["confusion"]

    def share(label, verdict):
        return c[label].get(verdict, 0) / sum(c[label].values())

    assert share("trend", "RANGE_OK") <= 0.03, c
    assert share("range", "TREND") <= 0.10, c
    assert share("transition", "RANGE_OK") <= 0.05, c
