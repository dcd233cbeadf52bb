"""Synthetic ground truth (slow): the recall targets of the engine validation."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.mark.slow
def test_synthetic_recall_targets():
    sys.path.insert(0, str(TOOLS))
    try:
        import validate_engine
    finally:
        sys.path.remove(str(TOOLS))
    from gridregime.analysis import RegimeEngine

    report = validate_engine.synthetic_part(RegimeEngine(), [1, 2, 3, 4, 5], 60, 12, "ETH-USDT")
    for label, recall in report["recall"].items():
        assert recall >= 0.85, (label, recall, report["confusion"])
