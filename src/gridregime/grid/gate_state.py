"""Restart-gate state (SPEC §8): what the gates remember between bars, the stop and restart
transitions, and its persistence. The machine that moves it bar by bar is :mod:`gridregime.grid.gates`."""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import orjson

from gridregime._atomic import atomic_write_bytes
from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, iso_z, to_utc_hour

STATE_FORMAT = 1


class Phase(str, Enum):
    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"
    GATE_1 = "GATE_1"
    GATE_2 = "GATE_2"
    GATE_3 = "GATE_3"
    READY = "READY"



# ---------------------------------------------------------------------------------------------
# state
# ---------------------------------------------------------------------------------------------
def _nan_to_none(values: Iterable[float]) -> list[float | None]:
    return [None if (v is None or math.isnan(v)) else float(v) for v in values]


def _none_to_nan(values: Iterable[float | None]) -> tuple[float, ...]:
    return tuple(math.nan if v is None else float(v) for v in values)


@dataclass(frozen=True)
class GateState:
    """Everything the gates remember between bars (persisted as JSON).

    ``hold`` counts consecutive bars the current gate's conditions held; ``gate3_bars`` counts bars
    spent at Gate 3 without passing; ``adx_history`` / ``range_history`` keep the last ADX and
    ``hour_range_atr`` values (NaN = missing).
    """

    symbol: str
    phase: Phase = Phase.ACTIVE
    last_hour: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    hold: int = 0
    gate3_bars: int = 0
    adx_history: tuple[float, ...] = ()
    range_history: tuple[float, ...] = ()
    stops: int = 0
    restarts: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", validate_symbol(self.symbol))
        try:
            object.__setattr__(self, "phase", Phase(self.phase))
        except ValueError:
            raise InvalidParameterError(
                f"phase: expected one of {', '.join(p.value for p in Phase)}, got {self.phase!r}") from None
        for name in ("last_hour", "stopped_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_utc_hour(value, name=name))
        for name in ("hold", "gate3_bars", "stops", "restarts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidParameterError(f"{name}: expected an integer >= 0, got {value!r}")
        if self.phase is not Phase.ACTIVE and self.stopped_at is None:
            raise InvalidParameterError(f"stopped_at: required when phase is {self.phase.value}")
        object.__setattr__(self, "adx_history", _none_to_nan(self.adx_history))
        object.__setattr__(self, "range_history", _none_to_nan(self.range_history))

    def hours_stopped(self, hour: datetime | None = None) -> int | None:
        """Whole hours from the stop bar to ``hour`` (default: the last evaluated bar)."""
        hour = hour or self.last_hour
        if self.stopped_at is None or self.phase is Phase.ACTIVE or hour is None:
            return None
        return int((hour - self.stopped_at) // HOUR)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "symbol": self.symbol,
            "phase": self.phase.value,
            "last_hour": None if self.last_hour is None else iso_z(self.last_hour, microseconds=True),
            "stopped_at": None if self.stopped_at is None else iso_z(self.stopped_at, microseconds=True),
            "stop_reason": self.stop_reason,
            "hold": self.hold,
            "gate3_bars": self.gate3_bars,
            "adx_history": _nan_to_none(self.adx_history),
            "range_history": _nan_to_none(self.range_history),
            "stops": self.stops,
            "restarts": self.restarts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateState:
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"gate state: expected a JSON object, got {type(data).__name__}")
        data = dict(data)
        fmt = data.pop("format", STATE_FORMAT)
        if fmt != STATE_FORMAT:
            raise InvalidParameterError(f"format: expected {STATE_FORMAT}, got {fmt!r}")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise InvalidParameterError(f"{key}: not a gate state field")
        if "symbol" not in data:
            raise InvalidParameterError("symbol: required gate state field is missing")
        for key in ("adx_history", "range_history"):
            value = data.get(key, [])
            if not isinstance(value, (list, tuple)) or not all(
                    v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value):
                raise InvalidParameterError(f"{key}: expected a list of numbers or null, got {value!r}")
        return cls(**data)

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> GateState:
        try:
            return cls.from_dict(orjson.loads(data))
        except orjson.JSONDecodeError as exc:
            raise InvalidParameterError(f"gate state: not valid JSON ({exc})") from None


def initial_state(symbol: str) -> GateState:
    """A symbol whose grid has never been stopped (phase ACTIVE, empty history)."""
    return GateState(symbol=symbol)


def stop(state: GateState, hour: datetime, reason: str) -> GateState:
    """Stop the grid at the close of ``hour``: the restart gates begin from the next bar.

    Only an ACTIVE state can stop; stopping a stopped symbol is refused (the gates must not be
    restarted by a repeated stop signal).
    """
    hour = to_utc_hour(hour)
    if state.phase is not Phase.ACTIVE:
        raise InvalidParameterError(f"phase: cannot stop {state.symbol}, it is already {state.phase.value}")
    if state.last_hour is not None and hour < state.last_hour:
        raise InvalidParameterError(f"hour: stop at {hour.isoformat()} is before the last evaluated bar")
    return replace(state, phase=Phase.STOPPED, stopped_at=hour, stop_reason=str(reason), hold=0, gate3_bars=0,
                   stops=state.stops + 1)


def restart(state: GateState, hour: datetime) -> GateState:
    """Back to ACTIVE once the (probationary) grid is enabled; only allowed from READY."""
    to_utc_hour(hour)
    if state.phase is not Phase.READY:
        raise InvalidParameterError(f"phase: cannot restart {state.symbol} at {state.phase.value}; expected READY")
    return replace(state, phase=Phase.ACTIVE, stopped_at=None, stop_reason=None, hold=0, gate3_bars=0,
                   restarts=state.restarts + 1)


# ---------------------------------------------------------------------------------------------
# persistence
# ---------------------------------------------------------------------------------------------
class GateStateStore:
    """Gate states as ``<dir>/<SYMBOL>.gates.json``, written atomically."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)

    def path(self, symbol: str) -> Path:
        return self.directory / f"{validate_symbol(symbol)}.gates.json"

    def load(self, symbol: str) -> GateState:
        """The saved state, or :func:`initial_state` when none was saved."""
        path = self.path(symbol)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return initial_state(symbol)
        try:
            state = GateState.from_json(data)
        except InvalidParameterError as exc:
            raise GridRegimeError(f"{path}: {exc}") from None
        if state.symbol != symbol:
            raise GridRegimeError(f"{path}: symbol: expected {symbol}, got {state.symbol}")
        return state

    def save(self, state: GateState) -> Path:
        return atomic_write_bytes(self.path(state.symbol), state.to_json())
