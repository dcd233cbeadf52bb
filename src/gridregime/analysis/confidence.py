"""Confidence in [0, 1]: a function of the deciding margin, scaled down by data quality.

``margin_confidence(m) = 0.5 + 0.5·m`` where ``m`` in [0, 1] is the deciding margin: the smallest
normalised margin among the evaluated checks (any one of them flipping would change the path
through the hierarchy). A verdict sitting on a threshold gets 0.5, one far from every threshold 1.

The data-quality factor (≤ 1, never raised by missing data) multiplies it:

- ``rank_factor = 0.5 + 0.5·rank_fill`` while the rank windows are not yet full;
- ``minute_factor = 1 − (1 − missing_minutes_penalty)·missing_minutes/60``;
- ``gap_factor = 1 − hourly_gaps_in_rank_window / rank_window``.
"""
from __future__ import annotations

import math
from typing import Sequence

from gridregime.analysis.result import DecisionFactor
from gridregime.config import RegimeConfig

__all__ = ["deciding_margin", "margin_confidence", "data_quality_factor", "confidence"]


def deciding_margin(factors: Sequence[DecisionFactor]) -> float:
    """Smallest margin among the evaluated checks, in [0, 1] (0 when there are none)."""
    margins = [f.margin for f in factors if math.isfinite(f.margin)]
    return max(0.0, min(1.0, min(margins))) if margins else 0.0


def margin_confidence(margin: float) -> float:
    """0.5 + 0.5·margin, margin clipped to [0, 1]; non-decreasing."""
    if not math.isfinite(margin):
        return 0.5
    return 0.5 + 0.5 * max(0.0, min(1.0, margin))


def data_quality_factor(rank_fill: float, missing_minutes: int, hourly_gaps: int,
                        config: RegimeConfig = RegimeConfig()) -> float:
    """Product of the rank, minute and gap factors, in [0, 1]; non-increasing in missing data."""
    fill = max(0.0, min(1.0, rank_fill)) if math.isfinite(rank_fill) else 0.0
    rank_factor = 0.5 + 0.5 * fill
    missing = max(0, min(60, int(missing_minutes)))
    minute_factor = 1.0 - (1.0 - config.missing_minutes_penalty) * missing / 60.0
    gap_factor = max(0.0, 1.0 - max(0, int(hourly_gaps)) / config.rank_window)
    return rank_factor * minute_factor * gap_factor


def confidence(factors: Sequence[DecisionFactor], quality_factor: float) -> float:
    """Final confidence: margin confidence times the data-quality factor, in [0, 1]."""
    q = max(0.0, min(1.0, quality_factor)) if math.isfinite(quality_factor) else 0.0
    return margin_confidence(deciding_margin(factors)) * q
