"""Shared fixtures. Tests use only files committed under tests/data (no ../shared needed)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

TESTS = Path(__file__).parent
DATA = TESTS / "data"

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("default")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
