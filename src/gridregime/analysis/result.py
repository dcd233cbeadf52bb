"""The regime engine's output: frozen dataclasses with ``to_dict`` / ``from_dict`` and JSON.

The JSON form is published as ``gridregime/schemas/regime_result.schema.json``. Non-finite
floats (a feature that could not be computed) serialise as ``null`` and read back as NaN.
Times are ISO-8601 UTC strings (``2024-01-15T13:00:00Z``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import orjson

from gridregime.timeutil import iso_z, to_utc
from gridregime.verdicts import Verdict

__all__ = [
    "Verdict", "Scores", "FeatureValue", "RangeCandidate", "DecisionFactor", "CompetingVerdict",
    "DataQuality", "RangeComparison", "RegimeResult", "result_schema", "STATUS_OK",
    "STATUS_INSUFFICIENT",
]

STATUS_OK = "ok"
STATUS_INSUFFICIENT = "insufficient_data"


def _f(x: Any) -> float | None:
    """Float for JSON: NaN / inf become None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _nf(x: Any) -> float:
    """Float from JSON: None becomes NaN."""
    return math.nan if x is None else float(x)


class _DictEquality:
    """Equality and hashing through :meth:`to_dict`, so that NaN (serialised as null) equals NaN
    and a result read back from JSON compares equal to the one written."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS))  # type: ignore[attr-defined]


#: (to JSON, from JSON) of each field type a scalar record may hold: floats go through _f / _nf
#: (NaN <-> null), the others through their own type.
_CODECS = {"float": (_f, _nf), "int": (int, int), "bool": (bool, bool), "str": (str, str)}


@lru_cache(maxsize=None)
def _field_codecs(cls: type) -> tuple[tuple[str, Any, Any], ...]:
    return tuple((f.name, *_CODECS[f.type]) for f in fields(cls))


class _ScalarRecord(_DictEquality):
    """A record of numbers and strings whose JSON form is its fields, in order."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return {name: to_json(getattr(self, name)) for name, to_json, _ in _field_codecs(type(self))}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        return cls(**{name: from_json(d[name]) for name, _, from_json in _field_codecs(cls)})


@dataclass(frozen=True, eq=False)
class Scores(_ScalarRecord):
    """The §5 scores (0–100) and grid capacity; ``spacing`` in price units."""

    trend: float
    mean_rev: float
    vol_change: float
    range_quality: float
    grid_capacity: int
    grid_capacity_ok: bool
    spacing: float


@dataclass(frozen=True, eq=False)
class FeatureValue(_DictEquality):
    """A feature's value at hour H and its percentile rank (0–100, None when not ranked)."""

    value: float
    rank: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": _f(self.value), "rank": _f(self.rank)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureValue":
        return cls(value=_nf(d["value"]), rank=None if d.get("rank") is None else float(d["rank"]))


@dataclass(frozen=True, eq=False)
class RangeCandidate(_ScalarRecord):
    """One discovered range: bounds, measures over the lookback, and its quality (0–100)."""

    method: str
    lower: float
    upper: float
    width_atr: float
    containment: float
    touches_lower: int
    touches_upper: int
    mid_crosses: int
    age: int
    position: float
    quality: float


@dataclass(frozen=True, eq=False)
class DecisionFactor(_DictEquality):
    """One check of the hierarchical classifier, as evaluated.

    ``passed = value <operator> threshold``. The verdict follows from the factors alone: walk
    them in order, take ``on_pass`` if passed else ``on_fail``; the first non-None is the verdict.
    ``margin`` is the normalised distance from flipping (0 = on the threshold, 1 = far).
    ``inputs`` are the feature values / scores behind ``value``.
    """

    step: int
    check: str
    value: float
    operator: str
    threshold: float
    passed: bool
    on_pass: Verdict | None
    on_fail: Verdict | None
    margin: float
    inputs: Mapping[str, float] = field(default_factory=dict)

    @property
    def outcome(self) -> Verdict | None:
        return self.on_pass if self.passed else self.on_fail

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step, "check": self.check, "value": _f(self.value), "operator": self.operator,
            "threshold": _f(self.threshold), "passed": bool(self.passed),
            "on_pass": None if self.on_pass is None else self.on_pass.value,
            "on_fail": None if self.on_fail is None else self.on_fail.value,
            "margin": _f(self.margin), "inputs": {k: _f(v) for k, v in self.inputs.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DecisionFactor":
        return cls(
            step=int(d["step"]), check=str(d["check"]), value=_nf(d["value"]), operator=str(d["operator"]),
            threshold=_nf(d["threshold"]), passed=bool(d["passed"]),
            on_pass=None if d.get("on_pass") is None else Verdict(d["on_pass"]),
            on_fail=None if d.get("on_fail") is None else Verdict(d["on_fail"]),
            margin=_nf(d["margin"]), inputs={k: _nf(v) for k, v in d.get("inputs", {}).items()},
        )


@dataclass(frozen=True, eq=False)
class CompetingVerdict(_DictEquality):
    """A verdict other than the primary one: how much the scores supported it, and why not."""

    verdict: Verdict
    support: float
    ruled_out_at_step: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "support": _f(self.support),
                "ruled_out_at_step": self.ruled_out_at_step, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "CompetingVerdict":
        return cls(verdict=Verdict(d["verdict"]), support=_nf(d["support"]),
                   ruled_out_at_step=int(d["ruled_out_at_step"]), reason=str(d["reason"]))


@dataclass(frozen=True, eq=False)
class DataQuality(_DictEquality):
    """What the analysis had to work with, and how that lowered confidence.

    ``rank_fill`` is the smallest share of a full rank window among the score features
    (1.0 = every window full). ``minutes_source`` is ``"1m"`` or ``"hourly"`` (no 1m bars: the
    hour's own hourly bar stands in for them). ``confidence_factor`` multiplies the margin-based
    confidence.
    """

    hourly_bars: int
    hourly_gaps: int
    gap_hours: tuple[datetime, ...]
    minute_bars: int
    minutes_source: str
    rank_window_full: bool
    rank_fill: float
    confidence_factor: float
    warnings: tuple[str, ...] = ()
    history_bars: int = 0
    warming_up: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "hourly_bars": self.hourly_bars, "hourly_gaps": self.hourly_gaps,
            "gap_hours": [iso_z(h) for h in self.gap_hours], "minute_bars": self.minute_bars,
            "minutes_source": self.minutes_source, "rank_window_full": self.rank_window_full,
            "rank_fill": _f(self.rank_fill), "confidence_factor": _f(self.confidence_factor),
            "warnings": list(self.warnings), "history_bars": self.history_bars, "warming_up": self.warming_up,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DataQuality":
        return cls(
            hourly_bars=int(d["hourly_bars"]), hourly_gaps=int(d["hourly_gaps"]),
            gap_hours=tuple(to_utc(h) for h in d.get("gap_hours", [])), minute_bars=int(d["minute_bars"]),
            minutes_source=str(d["minutes_source"]), rank_window_full=bool(d["rank_window_full"]),
            rank_fill=_nf(d["rank_fill"]), confidence_factor=_nf(d["confidence_factor"]),
            warnings=tuple(d.get("warnings", [])),
            history_bars=int(d.get("history_bars", d["hourly_bars"])), warming_up=bool(d.get("warming_up", False)),
        )


@dataclass(frozen=True, eq=False)
class RangeComparison(_DictEquality):
    """Configured grid versus discovered range (see :mod:`gridregime.analysis.comparison`)."""

    status: str
    overlap_ratio: float
    lower_deviation_pct: float
    upper_deviation_pct: float
    lower_deviation_atr: float
    upper_deviation_atr: float
    grid_spacing: float
    recommended_spacing: float
    spacing_ratio: float
    price_inside_grid: bool
    price_inside_range: bool
    suggested_adjustment: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "overlap_ratio": _f(self.overlap_ratio),
            "lower_deviation_pct": _f(self.lower_deviation_pct), "upper_deviation_pct": _f(self.upper_deviation_pct),
            "lower_deviation_atr": _f(self.lower_deviation_atr), "upper_deviation_atr": _f(self.upper_deviation_atr),
            "grid_spacing": _f(self.grid_spacing), "recommended_spacing": _f(self.recommended_spacing),
            "spacing_ratio": _f(self.spacing_ratio), "price_inside_grid": bool(self.price_inside_grid),
            "price_inside_range": bool(self.price_inside_range),
            "suggested_adjustment": {k: (_f(v) if isinstance(v, float) else v)
                                     for k, v in self.suggested_adjustment.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RangeComparison":
        return cls(
            status=str(d["status"]), overlap_ratio=_nf(d["overlap_ratio"]),
            lower_deviation_pct=_nf(d["lower_deviation_pct"]), upper_deviation_pct=_nf(d["upper_deviation_pct"]),
            lower_deviation_atr=_nf(d["lower_deviation_atr"]), upper_deviation_atr=_nf(d["upper_deviation_atr"]),
            grid_spacing=_nf(d["grid_spacing"]), recommended_spacing=_nf(d["recommended_spacing"]),
            spacing_ratio=_nf(d["spacing_ratio"]), price_inside_grid=bool(d["price_inside_grid"]),
            price_inside_range=bool(d["price_inside_range"]),
            suggested_adjustment=dict(d.get("suggested_adjustment", {})),
        )


@dataclass(frozen=True, eq=False)
class RegimeResult(_DictEquality):
    """Analysis of one symbol at one hour H (SPEC §5). ``verdict`` is None only when
    ``status == "insufficient_data"``; ``reason`` then says how many hours of history are missing."""

    symbol: str
    hour: datetime
    status: str
    reason: str | None
    verdict: Verdict | None
    direction: int
    confidence: float
    scores: Scores | None
    features: Mapping[str, FeatureValue]
    price: float
    atr: float
    chosen_range: RangeCandidate | None
    candidates: tuple[RangeCandidate, ...]
    trend_streak: int
    config_hash: str
    engine_version: str
    competing: tuple[CompetingVerdict, ...] = ()
    decision_factors: tuple[DecisionFactor, ...] = ()
    data_quality: DataQuality | None = None
    comparison: RangeComparison | None = None
    missing_hours: int = 0
    #: may a new grid start at this hour: RANGE_OK and price room to both bounds (step 6 of
    #: ``decision_factors``); ENABLE_GRID and restarts require it
    grid_start_ok: bool = False

    # -- convenience accessors ----------------------------------------------------------------
    def feature(self, name: str) -> float:
        """Value of feature ``name`` at hour H (KeyError naming it when unknown)."""
        try:
            return self.features[name].value
        except KeyError:
            raise KeyError(f"feature {name!r}: not in result; known: {sorted(self.features)}") from None

    def rank(self, name: str) -> float | None:
        """Percentile rank (0–100) of feature ``name``, None when not ranked."""
        try:
            return self.features[name].rank
        except KeyError:
            raise KeyError(f"feature {name!r}: not in result; known: {sorted(self.features)}") from None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    # -- serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "hour": iso_z(self.hour),
            "status": self.status,
            "reason": self.reason,
            "verdict": None if self.verdict is None else self.verdict.value,
            "direction": int(self.direction),
            "confidence": _f(self.confidence),
            "scores": None if self.scores is None else self.scores.to_dict(),
            "features": {k: v.to_dict() for k, v in self.features.items()},
            "price": _f(self.price),
            "atr": _f(self.atr),
            "chosen_range": None if self.chosen_range is None else self.chosen_range.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "trend_streak": int(self.trend_streak),
            "config_hash": self.config_hash,
            "engine_version": self.engine_version,
            "competing": [c.to_dict() for c in self.competing],
            "decision_factors": [f.to_dict() for f in self.decision_factors],
            "data_quality": None if self.data_quality is None else self.data_quality.to_dict(),
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "missing_hours": int(self.missing_hours),
            "grid_start_ok": bool(self.grid_start_ok),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RegimeResult":
        return cls(
            symbol=str(d["symbol"]),
            hour=to_utc(d["hour"]),
            status=str(d["status"]),
            reason=d.get("reason"),
            verdict=None if d.get("verdict") is None else Verdict(d["verdict"]),
            direction=int(d["direction"]),
            confidence=_nf(d["confidence"]),
            scores=None if d.get("scores") is None else Scores.from_dict(d["scores"]),
            features={k: FeatureValue.from_dict(v) for k, v in d.get("features", {}).items()},
            price=_nf(d["price"]),
            atr=_nf(d["atr"]),
            chosen_range=None if d.get("chosen_range") is None else RangeCandidate.from_dict(d["chosen_range"]),
            candidates=tuple(RangeCandidate.from_dict(c) for c in d.get("candidates", [])),
            trend_streak=int(d["trend_streak"]),
            config_hash=str(d["config_hash"]),
            engine_version=str(d["engine_version"]),
            competing=tuple(CompetingVerdict.from_dict(c) for c in d.get("competing", [])),
            decision_factors=tuple(DecisionFactor.from_dict(f) for f in d.get("decision_factors", [])),
            data_quality=None if d.get("data_quality") is None else DataQuality.from_dict(d["data_quality"]),
            comparison=None if d.get("comparison") is None else RangeComparison.from_dict(d["comparison"]),
            missing_hours=int(d.get("missing_hours", 0)),
            grid_start_ok=bool(d.get("grid_start_ok", False)),
        )

    def to_json(self, *, indent: bool = False) -> bytes:
        """UTF-8 JSON (orjson); NaN becomes null."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 if indent else 0)

    @classmethod
    def from_json(cls, data: bytes | str) -> "RegimeResult":
        return cls.from_dict(orjson.loads(data))


@lru_cache(maxsize=1)
def result_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of :meth:`RegimeResult.to_dict`."""
    text = resources.files("gridregime").joinpath("schemas/regime_result.schema.json").read_text("utf-8")
    return json.loads(text)
