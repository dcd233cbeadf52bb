"""What recommendations and restart gates read from one analysed hour.

``MarketState`` is a small frozen record so that the grid layer depends on a handful of numbers,
not on the whole ``RegimeResult``. :func:`market_state_from_result` is the only place that knows
the result's shape (duck-typed: anything with the documented attributes works).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import to_utc_hour

from gridregime.verdicts import RANGE_OK, RANGE_WEAK, TRANSITION, TREND, VERDICTS  # noqa: F401 (re-exported)

NAN = float("nan")


def _float(value: object) -> float:
    return NAN if value is None else float(value)


@dataclass(frozen=True)
class MarketState:
    """The analysed hour as the grid layer sees it.

    Scores are 0–100, ``atr``, ``price`` and range bounds in quote currency, ``hour_range_atr`` is
    the hour's high-low range in ATR. Missing values are NaN (``atr_rank`` may be NaN when not yet
    ranked); ``verdict`` is None only when ``status`` is ``"insufficient_data"``. ``confidence`` is
    carried for display only: no grid decision reads it (SPEC §8). ``grid_start_ok`` (RANGE_OK and
    room to both bounds) and ``start_room_ok`` (the room alone) are the engine's start check; None
    when unknown, and then a start follows the verdict alone.
    """

    symbol: str
    hour: datetime
    verdict: str | None
    direction: int = 0
    trend_score: float = NAN
    mean_rev_score: float = NAN
    vol_change_score: float = NAN
    range_quality_score: float = NAN
    grid_capacity: int = 0
    grid_capacity_ok: bool = False
    spacing: float = NAN
    adx: float = NAN
    atr: float = NAN
    atr_rank: float = NAN
    hour_range_atr: float = NAN
    price: float = NAN
    range_lower: float = NAN
    range_upper: float = NAN
    status: str = "ok"
    confidence: float = NAN
    grid_start_ok: bool | None = None
    start_room_ok: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", validate_symbol(self.symbol))
        object.__setattr__(self, "hour", to_utc_hour(self.hour, name="hour"))
        verdict = getattr(self.verdict, "value", self.verdict)
        if verdict is not None and verdict not in VERDICTS:
            raise InvalidParameterError(f"verdict: expected one of {', '.join(VERDICTS)} or None, got {verdict!r}")
        object.__setattr__(self, "verdict", verdict)
        if self.direction not in (-1, 0, 1):
            raise InvalidParameterError(f"direction: expected -1, 0 or +1, got {self.direction!r}")
        for name in ("trend_score", "mean_rev_score", "vol_change_score", "range_quality_score", "spacing",
                     "adx", "atr", "atr_rank", "hour_range_atr", "price", "range_lower", "range_upper",
                     "confidence"):
            object.__setattr__(self, name, _float(getattr(self, name)))

    @property
    def has_range(self) -> bool:
        """True when a discovered range with finite bounds ``lower < upper`` exists."""
        lo, hi = self.range_lower, self.range_upper
        return math.isfinite(lo) and math.isfinite(hi) and lo < hi

    @property
    def price_in_range(self) -> bool:
        return self.has_range and self.range_lower <= self.price <= self.range_upper

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hour"] = self.hour.isoformat().replace("+00:00", "Z")
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MarketState:
        return cls(**dict(data))


def market_state_from_result(result: Any) -> MarketState:
    """Build a :class:`MarketState` from a ``RegimeResult`` (or any object with its attributes).

    Reads ``symbol``, ``hour``, ``status``, ``verdict``, ``direction``, ``scores``, ``price``, ``atr``,
    ``chosen_range`` and the ``adx``, ``atr`` (rank) and ``hour_range_atr`` features. Confidence is
    copied for display only.
    """
    scores = getattr(result, "scores", None)
    features = getattr(result, "features", None) or {}

    def feature_value(name: str) -> float:
        fv = features.get(name)
        return NAN if fv is None or fv.value is None else float(fv.value)

    def feature_rank(name: str) -> float:
        fv = features.get(name)
        return NAN if fv is None or fv.rank is None else float(fv.rank)

    chosen = getattr(result, "chosen_range", None)
    kwargs: dict[str, Any] = {
        "symbol": result.symbol,
        "hour": result.hour,
        "verdict": getattr(result, "verdict", None),
        "direction": int(getattr(result, "direction", 0) or 0),
        "adx": feature_value("adx"),
        "atr": _float(getattr(result, "atr", None)),
        "atr_rank": feature_rank("atr"),
        "hour_range_atr": feature_value("hour_range_atr"),
        "price": _float(getattr(result, "price", None)),
        "range_lower": NAN if chosen is None else float(chosen.lower),
        "range_upper": NAN if chosen is None else float(chosen.upper),
        "status": str(getattr(result, "status", "ok")),
        "confidence": _float(getattr(result, "confidence", None)),
    }
    start = next((f for f in getattr(result, "decision_factors", ()) or () if f.check == "grid_start_room"), None)
    if start is not None:
        kwargs.update(grid_start_ok=bool(getattr(result, "grid_start_ok", False)), start_room_ok=bool(start.passed))
    if scores is not None:
        kwargs.update(
            trend_score=scores.trend,
            mean_rev_score=scores.mean_rev,
            vol_change_score=scores.vol_change,
            range_quality_score=scores.range_quality,
            grid_capacity=int(scores.grid_capacity),
            grid_capacity_ok=bool(scores.grid_capacity_ok),
            spacing=scores.spacing,
        )
    return MarketState(**kwargs)


def as_market_state(value: Any) -> MarketState:
    """Pass a :class:`MarketState` through; adapt anything else with :func:`market_state_from_result`."""
    return value if isinstance(value, MarketState) else market_state_from_result(value)
