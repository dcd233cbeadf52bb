"""GridConfig and grid levels: SPEC §6, properties 39, 43, 44, 45 (config side)."""
from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridregime.errors import InvalidParameterError
from gridregime.grid import GridConfig, GridMode, SpacingMode, grid_levels

from .strategies import SYMBOL, grid_configs

FIELDS = {"symbol", "lower", "upper", "levels", "spacing_mode", "allocation", "enabled", "mode", "version",
          "created_at", "reason"}


@given(grid_configs())
def test_property_39_parameter_completeness_and_ranges(cfg):
    d = cfg.to_dict()
    assert set(d) == FIELDS
    assert 0 < d["lower"] < d["upper"] and math.isfinite(d["upper"])
    assert isinstance(d["levels"], int) and 2 <= d["levels"] <= 1000
    assert d["spacing_mode"] in ("ARITHMETIC", "GEOMETRIC") and d["mode"] in ("NORMAL", "PROBATION")
    assert d["allocation"] > 0 and isinstance(d["enabled"], bool) and d["version"] >= 0
    assert d["created_at"].endswith("Z") and isinstance(d["reason"], str)
    assert len(cfg.level_prices) == cfg.levels


@given(grid_configs())
def test_property_43_levels_ordered_inside_bounds_consistent_spacing(cfg):
    levels = cfg.level_prices
    assert levels[0] == cfg.lower and levels[-1] == cfg.upper
    assert all(a <= b for a, b in itertools.pairwise(levels))
    n = cfg.levels - 1
    for i, value in enumerate(levels):
        # Independent closed forms for level i.
        if cfg.spacing_mode is SpacingMode.ARITHMETIC:
            expected = cfg.lower + (cfg.upper - cfg.lower) * i / n
        else:
            expected = cfg.lower * (cfg.upper / cfg.lower) ** (i / n)
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12 * cfg.upper)
    steps = [b - a for a, b in itertools.pairwise(levels)]
    if cfg.spacing_mode is SpacingMode.ARITHMETIC:
        assert max(steps) - min(steps) <= 1e-9 * cfg.upper
    else:
        ratios = [b / a for a, b in itertools.pairwise(levels)]
        assert max(ratios) - min(ratios) <= 1e-9 * max(ratios)


@given(grid_configs())
def test_property_44_json_round_trip(cfg):
    back = GridConfig.from_dict(orjson.loads(orjson.dumps(cfg.to_dict())))
    assert back == cfg


INVALID = [
    ("lower", -1.0), ("lower", 0.0), ("lower", float("nan")), ("lower", "1"), ("upper", 50.0),
    ("upper", float("inf")), ("levels", 1), ("levels", 1001), ("levels", 2.5), ("levels", True),
    ("allocation", 0.0), ("allocation", -5.0), ("spacing_mode", "LOG"), ("mode", "TRIAL"),
    ("enabled", "yes"), ("version", -1), ("created_at", "yesterday"), ("symbol", "../etc"),
    ("symbol", "eth-usdt"), ("reason", 3),
]


@given(st.sampled_from(INVALID))
def test_property_45_invalid_configs_refused_naming_the_field(case):
    field, value = case
    kwargs = {"symbol": SYMBOL, "lower": 100.0, "upper": 110.0, "levels": 10, "allocation": 1000.0}
    kwargs[field] = value
    with pytest.raises(InvalidParameterError, match=field):
        GridConfig(**kwargs)
    with pytest.raises(InvalidParameterError, match=field):
        GridConfig.from_dict({**GridConfig(SYMBOL, 100.0, 110.0, 10, 1000.0).to_dict(), field: value})


def test_from_dict_names_missing_and_unknown_fields():
    good = GridConfig(SYMBOL, 100.0, 110.0, 10, 1000.0).to_dict()
    with pytest.raises(InvalidParameterError, match="levels"):
        GridConfig.from_dict({k: v for k, v in good.items() if k != "levels"})
    with pytest.raises(InvalidParameterError, match="colour"):
        GridConfig.from_dict({**good, "colour": "red"})
    with pytest.raises(InvalidParameterError, match="levels"):
        grid_levels(1.0, 2.0, 1, "ARITHMETIC")
    with pytest.raises(InvalidParameterError, match="spacing_mode"):
        grid_levels(1.0, 2.0, 3, "cubic")


def test_defaults_and_case_insensitive_enums():
    cfg = GridConfig(SYMBOL, 1.0, 2.0, 3, 10.0, spacing_mode="geometric", mode="probation",
                     created_at=datetime(2025, 1, 1, 12, 30, 15, 123456, tzinfo=UTC))
    assert cfg.spacing_mode is SpacingMode.GEOMETRIC and cfg.mode is GridMode.PROBATION
    assert cfg.to_dict()["created_at"] == "2025-01-01T12:30:15.123456Z"
    assert cfg.level_prices[1] == pytest.approx(math.sqrt(2.0))
