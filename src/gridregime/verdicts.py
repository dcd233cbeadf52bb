"""The four regime verdicts, named once (a leaf module: every layer may import it).

``Verdict`` is a ``str`` enum whose values equal the names, so ``Verdict.TREND == "TREND"``; the
grid layer and the tables carry the plain strings (``RANGE_OK`` ... ``TRANSITION``, ``VERDICTS``).
"""
from __future__ import annotations

from enum import Enum

__all__ = ["Verdict", "RANGE_OK", "RANGE_WEAK", "TREND", "TRANSITION", "VERDICTS"]


class Verdict(str, Enum):
    """Regime verdict; the value equals the name."""

    RANGE_OK = "RANGE_OK"
    RANGE_WEAK = "RANGE_WEAK"
    TREND = "TREND"
    TRANSITION = "TRANSITION"

    def __str__(self) -> str:  # "RANGE_OK", not "Verdict.RANGE_OK"
        return self.value


RANGE_OK: str = Verdict.RANGE_OK.value
RANGE_WEAK: str = Verdict.RANGE_WEAK.value
TREND: str = Verdict.TREND.value
TRANSITION: str = Verdict.TRANSITION.value
VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
