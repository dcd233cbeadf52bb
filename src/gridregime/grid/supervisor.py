"""Hour-by-hour grid supervision (SPEC §6–8): one call per closed hour, same answer live or replayed.

:class:`GridSupervisor` owns one symbol's grid. Each :meth:`GridSupervisor.step` takes the
analysis of the hour just closed and, in this order:

1. evaluates the restart gates on the bar (every hour, whatever the grid is doing);
2. asks :func:`~gridregime.grid.recommend.recommend` what to do with the current grid;
3. applies the recommendation:

   - ``DISABLE_GRID``: the grid is stored disabled and the gates start (:func:`stop`);
   - ``REPOSITION``: the proposed grid replaces the current one (a probationary grid stays on
     probation and its probation starts again);
   - ``ENABLE_GRID`` at READY: a restart — the gates return to ACTIVE (:func:`restart`) and the
     proposed probationary grid (fresh bounds from the current range) is stored;
   - ``ENABLE_GRID`` with the grid never stopped: the proposed normal grid is stored;
   - otherwise, on a probationary grid, the hour joins the probation window and promotion is
     checked (:func:`probation_status`); a promotion stores the NORMAL version of the grid.

Every change is appended to the grid history with ``created_at`` at the close of the hour and
the reason ``"<event kind>: <why>"``, so the same hours always give the same history.

Persistence (``store_dir`` given)::

    <store_dir>/grids/<SYMBOL>.jsonl            grid history (GridHistoryStore, hash-chained)
    <store_dir>/supervisor/<SYMBOL>.json        gate state, probation window, last restart

A live service can therefore build a new supervisor every hour (or after a process restart) and
get exactly the steps a single :meth:`GridSupervisor.run` over the same hours gives. A step first
appends its grid versions, then replaces the state file atomically. If a process dies in
between, calling :meth:`~GridSupervisor.step` again for the same hour recognises the versions it
already appended (they must match what the step would write) and does not append them twice.
An hour at or before the last supervised hour is refused.

Without ``store_dir`` everything lives in memory (replays, backtests, tests).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from gridregime._atomic import atomic_write_bytes
from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.grid.config import GridConfig, GridMode
from gridregime.grid.gate_state import GateState, Phase, initial_state, restart, stop
from gridregime.grid.gates import GateEvaluation, evaluate, readiness
from gridregime.grid.inputs import MarketState, as_market_state
from gridregime.grid.probation import (
    GridBuildError,
    ProbationStatus,
    decision_time,
    normal_grid,
    probation_status,
    promoted,
)
from gridregime.grid.recommend import Action, Recommendation, recommend
from gridregime.grid.settings import GateConfig, GridPolicy
from gridregime.grid.store import GridHistoryStore
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, iso_z, to_utc_hour

SUPERVISOR_FORMAT = 1

EVENT_KINDS = ("initial", "gate_passed", "stop", "restart", "reposition", "enable", "promotion")

ROW_COLUMNS = ("symbol", "hour", "verdict", "action", "actionable", "gate_phase", "readiness", "hours_stopped",
               "grid_enabled", "grid_mode", "grid_lower", "grid_upper", "grid_levels", "grid_spacing_mode",
               "grid_spacing", "grid_allocation", "grid_version", "events", "reason")


class SupervisorError(GridRegimeError):
    """The supervisor's files disagree with each other; the message names the file and the reason."""


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return iso_z(value, microseconds=True)
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class SupervisorEvent:
    """Something that happened to the grid or the gates in one hour.

    ``kind`` is one of :data:`EVENT_KINDS`: ``initial`` (the first grid was stored),
    ``gate_passed`` (``details["gate"]`` passed on this bar), ``stop``, ``restart`` (a
    probationary grid after the gates), ``reposition``, ``enable`` (a grid that was never stopped
    was enabled) and ``promotion`` (probation ended, the grid is NORMAL). ``grid_version`` is the
    history version the event wrote (None for gate passages).
    """

    kind: str
    hour: datetime
    reason: str
    grid_version: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "hour": iso_z(self.hour, microseconds=True), "reason": self.reason,
                "grid_version": self.grid_version, "details": {k: _clean(v) for k, v in self.details.items()}}


@dataclass(frozen=True)
class SupervisorStep:
    """One supervised hour.

    ``evaluation`` is the gate evaluation of the bar (before this hour's stop or restart);
    ``state`` is the gate state after them, ``grid`` the grid after the step (None while no grid
    exists). ``recommendation`` is None only on hours before a grid exists when the supervisor
    waits for the first discovered range (``start_enabled``). ``readiness`` is the restart
    readiness of ``state`` (1.0 while ACTIVE, 0.0 right after a stop). ``probation`` is the
    promotion check made this hour, when one was made.
    """

    symbol: str
    hour: datetime
    market: MarketState
    evaluation: GateEvaluation
    recommendation: Recommendation | None
    events: tuple[SupervisorEvent, ...]
    state: GateState
    grid: GridConfig | None
    readiness: float
    probation: ProbationStatus | None = None

    @property
    def phase(self) -> Phase:
        """Gate phase after the step."""
        return self.state.phase

    @property
    def action(self) -> Action | None:
        return None if self.recommendation is None else self.recommendation.action

    def event_kinds(self) -> tuple[str, ...]:
        return tuple(e.kind for e in self.events)

    def row(self) -> dict[str, Any]:
        """A flat record with the columns of :data:`ROW_COLUMNS` (scalars only, None when missing)."""
        rec, grid = self.recommendation, self.grid
        return {
            "symbol": self.symbol,
            "hour": self.hour,
            "verdict": self.market.verdict,
            "action": None if rec is None else rec.action.value,
            "actionable": False if rec is None else rec.actionable,
            "gate_phase": self.state.phase.value,
            "readiness": self.readiness,
            "hours_stopped": self.evaluation.hours_stopped,
            "grid_enabled": grid is not None and grid.enabled,
            "grid_mode": None if grid is None else grid.mode.value,
            "grid_lower": None if grid is None else grid.lower,
            "grid_upper": None if grid is None else grid.upper,
            "grid_levels": None if grid is None else grid.levels,
            "grid_spacing_mode": None if grid is None else grid.spacing_mode.value,
            "grid_spacing": None if grid is None else grid.spacing,
            "grid_allocation": None if grid is None else grid.allocation,
            "grid_version": None if grid is None else grid.version,
            "events": ",".join(self.event_kinds()),
            # why: the reasons of this hour's events, else the recommendation's
            "reason": "; ".join(f"{e.kind}: {e.reason}" for e in self.events) or (None if rec is None else rec.reason),
        }

    def to_dict(self) -> dict[str, Any]:
        prob = self.probation
        return {
            "symbol": self.symbol, "hour": iso_z(self.hour, microseconds=True), "market": self.market.to_dict(),
            "evaluation": self.evaluation.to_dict(),
            "recommendation": None if self.recommendation is None else self.recommendation.to_dict(),
            "events": [e.to_dict() for e in self.events], "state": self.state.to_dict(),
            "grid": None if self.grid is None else self.grid.to_dict(), "readiness": self.readiness,
            "probation": None if prob is None else {
                "hours": prob.hours, "inside_hours": prob.inside_hours, "inside_fraction": prob.inside_fraction,
                "promote": prob.promote, "reason": prob.reason},
        }


# ---------------------------------------------------------------------------------------------
# where the grid versions go
# ---------------------------------------------------------------------------------------------
class _MemoryLog:
    """Grid history kept in memory, versioned exactly as :class:`GridHistoryStore` does."""

    def __init__(self) -> None:
        self.versions: list[GridConfig] = []

    def history(self) -> list[GridConfig]:
        return list(self.versions)

    def append(self, reason: str, config: GridConfig, created_at: datetime) -> GridConfig:
        new = config.with_changes(version=len(self.versions) + 1, reason=reason, created_at=created_at)
        self.versions.append(new)
        return new


class _StoreLog:
    def __init__(self, store: GridHistoryStore, symbol: str) -> None:
        self.store, self.symbol = store, symbol

    def history(self) -> list[GridConfig]:
        return self.store.history(self.symbol)

    def append(self, reason: str, config: GridConfig, created_at: datetime) -> GridConfig:
        return self.store.update(self.symbol, reason, config=config, created_at=created_at)


def _same_version(stored: GridConfig, reason: str, config: GridConfig, created_at: datetime) -> bool:
    expect = config.with_changes(version=stored.version, reason=reason, created_at=created_at)
    return expect.to_dict() == stored.to_dict()


# ---------------------------------------------------------------------------------------------
# the supervisor
# ---------------------------------------------------------------------------------------------
@dataclass
class _Hour:
    """One hour being supervised: its inputs, and what it changes before anything is stored.

    ``events`` are dicts (kind, reason, details, and ``update``: the grid version to store, if any).
    """

    market: MarketState
    pnl: float | None
    ev: GateEvaluation
    state: GateState
    window: list[tuple[MarketState, float | None]] | None
    last_restart: datetime | None
    grid: GridConfig | None
    events: list[dict[str, Any]] = field(default_factory=list)
    rec: Recommendation | None = None
    status: ProbationStatus | None = None

    @classmethod
    def open(cls, sup: GridSupervisor, market: MarketState, pnl: float | None) -> _Hour:
        """Evaluate the gates on the bar (every hour, whatever the grid does) and note the gates passed."""
        ev = evaluate(sup._state, market, sup.gate_config)
        hour = cls(market, pnl, ev, ev.state, None if sup._window is None else list(sup._window), sup._last_restart,
                   sup.grid)
        for report in ev.gates:
            if report.passed_this_bar:
                hour.events.append({"kind": "gate_passed", "reason": f"gate {report.gate} passed: {report.name}",
                                    "details": {"gate": report.gate, "hours_stopped": ev.hours_stopped}})
        return hour

    def change(self, kind: str, reason: str, config: GridConfig, **details: Any) -> None:
        """The grid becomes ``config`` (stored as a new version when the hour is committed)."""
        self.grid = config
        self.events.append({"kind": kind, "reason": reason, "details": details, "update": config})


class GridSupervisor:
    """Drive one symbol's grid hour by hour: gates → recommendation → stop / restart / reposition / promotion.

    Parameters
    ----------
    symbol : str
        ``BASE-QUOTE``.
    store_dir : path, optional
        Directory for the grid history and the supervisor state (see the module docstring).
        Without it nothing is written.
    gate_config : GateConfig, optional
        Gate thresholds (per-symbol overrides applied); default SPEC §8.
    policy : GridPolicy, optional
        Fresh-grid, probation and quick-stop numbers; default SPEC §6.
    initial_grid : GridConfig, optional
        The grid in place before the first hour. Stored as version 1 on the first step, and only
        when the symbol has no grid history yet (an existing history is always the grid).
    start_enabled : bool
        With no grid at all, start with an enabled normal grid spanning the discovered range of the
        first hour that has a verdict and a range; no recommendation is made before that hour or
        on it. Without it (the default) a grid-less symbol follows the recommendations (ENABLE_GRID
        on RANGE_OK).
    """

    def __init__(self, symbol: str, *, store_dir: str | os.PathLike | None = None,
                 gate_config: GateConfig | None = None, policy: GridPolicy | None = None,
                 initial_grid: GridConfig | None = None, start_enabled: bool = False) -> None:
        self.symbol = validate_symbol(symbol)
        self.gate_config = GateConfig() if gate_config is None else gate_config
        self.policy = GridPolicy() if policy is None else policy
        if not isinstance(self.gate_config, GateConfig):
            raise InvalidParameterError(f"gate_config: expected a GateConfig, got {type(self.gate_config).__name__}")
        if not isinstance(self.policy, GridPolicy):
            raise InvalidParameterError(f"policy: expected a GridPolicy, got {type(self.policy).__name__}")
        self.policy = self.policy.for_symbol(self.symbol)
        if initial_grid is not None:
            if not isinstance(initial_grid, GridConfig):
                raise InvalidParameterError(f"initial_grid: expected a GridConfig, got {type(initial_grid).__name__}")
            if initial_grid.symbol != self.symbol:
                raise InvalidParameterError(f"initial_grid.symbol: expected {self.symbol}, got {initial_grid.symbol}")
        self.initial_grid = initial_grid
        self.start_enabled = bool(start_enabled)
        self.store_dir = None if store_dir is None else Path(store_dir)

        self._state = initial_state(self.symbol)
        self._window: list[tuple[MarketState, float | None]] | None = None
        self._last_restart: datetime | None = None
        self._known_versions = 0
        self._state_file_exists = False
        if self.store_dir is None:
            self._log: _MemoryLog | _StoreLog = _MemoryLog()
            self._history: list[GridConfig] = []
        else:
            self._log = _StoreLog(GridHistoryStore(self.store_dir / "grids"), self.symbol)
            self._history = self._log.history()
            self._known_versions = len(self._history)
            self._load()

    # -- persistence -----------------------------------------------------------------------------
    @property
    def state_path(self) -> Path | None:
        return None if self.store_dir is None else self.store_dir / "supervisor" / f"{self.symbol}.json"

    def _load(self) -> None:
        path = self.state_path
        assert path is not None
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return  # first hour: adopt whatever grid history exists
        try:
            data = orjson.loads(raw)
            if not isinstance(data, dict):
                raise InvalidParameterError("expected a JSON object")
            if data.get("format") != SUPERVISOR_FORMAT:
                raise InvalidParameterError(f"format: expected {SUPERVISOR_FORMAT}, got {data.get('format')!r}")
            if data.get("symbol") != self.symbol:
                raise InvalidParameterError(f"symbol: expected {self.symbol}, got {data.get('symbol')!r}")
            state = GateState.from_dict(data["gate_state"])
            versions = data["grid_versions"]
            if isinstance(versions, bool) or not isinstance(versions, int) or versions < 0:
                raise InvalidParameterError(f"grid_versions: expected an integer >= 0, got {versions!r}")
            last_restart = data.get("last_restart")
            window = data.get("probation_window")
            if window is not None:
                window = [(MarketState.from_dict(m), p) for m, p in window]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, InvalidParameterError) as exc:
            raise SupervisorError(f"{path}: {exc}") from None
        self._state_file_exists = True
        if versions > len(self._history):
            raise SupervisorError(f"{path}: grid_versions: records {versions} grid versions, "
                                  f"the grid history holds {len(self._history)}")
        self._state = state
        self._known_versions = versions
        self._last_restart = None if last_restart is None else to_utc_hour(last_restart, name="last_restart")
        self._window = window

    def _save(self) -> None:
        self._write()

    def _write(self) -> None:
        path = self.state_path
        if path is None:
            return
        data = {
            "format": SUPERVISOR_FORMAT,
            "symbol": self.symbol,
            "gate_state": self._state.to_dict(),
            "grid_versions": self._known_versions,
            "last_restart": None if self._last_restart is None else iso_z(self._last_restart, microseconds=True),
            "probation_window": None if self._window is None else [[m.to_dict(), p] for m, p in self._window],
        }
        atomic_write_bytes(path, orjson.dumps(data))
        self._state_file_exists = True

    # -- inspection ------------------------------------------------------------------------------
    @property
    def gate_state(self) -> GateState:
        """The gate state after the last step."""
        return self._state

    @property
    def grid(self) -> GridConfig | None:
        """The current grid (the last version the supervisor knows of), or None."""
        return self._history[self._known_versions - 1] if self._known_versions else None

    @property
    def history(self) -> list[GridConfig]:
        """Every grid version the supervisor knows of, oldest first."""
        return list(self._history[:self._known_versions])

    @property
    def last_hour(self) -> datetime | None:
        return self._state.last_hour

    # -- the hour --------------------------------------------------------------------------------
    def step(self, result: Any, *, pnl: float | None = None) -> SupervisorStep:
        """Supervise the hour just closed.

        Parameters
        ----------
        result : RegimeResult or MarketState
            The analysis of the hour; its symbol must be the supervisor's and its hour later than
            the last supervised hour.
        pnl : float, optional
            The grid's running PnL in quote currency (drawdown quick stop of a probationary grid).
        """
        market = as_market_state(result)
        if market.symbol != self.symbol:
            raise InvalidParameterError(f"symbol: supervisor is for {self.symbol}, result is for {market.symbol}")
        if pnl is not None and (isinstance(pnl, bool) or not isinstance(pnl, (int, float)) or not math.isfinite(pnl)):
            raise InvalidParameterError(f"pnl: expected a finite number or None, got {pnl!r}")
        hour = _Hour.open(self, market, None if pnl is None else float(pnl))
        if hour.grid is None and self.initial_grid is not None:
            g = self.initial_grid
            hour.change("initial", "the configured grid", g, lower=g.lower, upper=g.upper, mode=g.mode.value)
        if hour.grid is None and self.start_enabled:
            self._first_grid(hour)
        else:
            hour.rec = recommend(market, hour.grid, hour.state, policy=self.policy, pnl=hour.pnl)
            self._follow(hour)
        events = self._commit(hour)
        return SupervisorStep(
            symbol=self.symbol, hour=market.hour, market=market, evaluation=hour.ev, recommendation=hour.rec,
            events=events, state=hour.state, grid=self.grid, readiness=readiness(hour.state, self.gate_config),
            probation=hour.status)

    def _first_grid(self, hour: _Hour) -> None:
        """``start_enabled``: the first hour with a verdict and a range gets a normal grid."""
        market = hour.market
        if market.verdict is None or not market.has_range:
            return
        try:
            first = normal_grid(market, self.policy, reason="initial grid")
        except GridBuildError:
            return
        hour.change("initial", "enabled grid from the first discovered range", first, lower=first.lower,
                    upper=first.upper, mode=first.mode.value)

    def _follow(self, hour: _Hour) -> None:
        """Apply the hour's recommendation: stop, reposition, restart or enable; else probation."""
        rec, market, grid = hour.rec, hour.market, hour.grid
        assert rec is not None
        if rec.action is Action.DISABLE_GRID:
            assert grid is not None
            since = None if hour.last_restart is None else int((market.hour - hour.last_restart) // HOUR)
            hour.state = stop(hour.state, market.hour, rec.reason)
            hour.window = None
            hour.change("stop", rec.reason, grid.with_changes(enabled=False), mode=grid.mode.value,
                        triggers=list(rec.quick_stop_triggers), hours_since_restart=since)
        elif rec.action is Action.REPOSITION:
            new = rec.proposed
            assert new is not None
            if new.mode is GridMode.PROBATION:
                hour.window = []  # a new probationary grid: its probation starts again
            hour.change("reposition", rec.reason, new, lower=new.lower, upper=new.upper, mode=new.mode.value,
                        price=market.price)
        elif rec.action is Action.ENABLE_GRID:
            new = rec.proposed
            assert new is not None
            if hour.state.phase is Phase.READY:
                hour.state = restart(hour.state, market.hour)
                hour.last_restart = market.hour
                hour.window = []
                hour.change("restart", rec.reason, new, hours_stopped=hour.ev.hours_stopped,
                            classifier_verdict=market.verdict, price=market.price, lower=new.lower,
                            upper=new.upper, levels=new.levels, allocation=new.allocation, mode=new.mode.value)
            else:
                hour.change("enable", rec.reason, new, lower=new.lower, upper=new.upper, mode=new.mode.value)
        elif grid is not None and grid.enabled and grid.mode is GridMode.PROBATION and hour.window is not None:
            self._probation_hour(hour, grid)

    def _probation_hour(self, hour: _Hour, grid: GridConfig) -> None:
        """A probationary grid ran this hour: add it to the window and promote when it qualifies."""
        assert hour.window is not None
        hour.window.append((hour.market, hour.pnl))
        pnls = [p for _, p in hour.window]
        hour.status = probation_status(grid, [m for m, _ in hour.window], self.policy,
                                       pnl=None if all(p is None for p in pnls) else pnls)
        if hour.status.promote:
            hour.window = None
            hour.change("promotion", hour.status.reason, promoted(grid, self.policy), hours=hour.status.hours,
                        inside_fraction=hour.status.inside_fraction)

    def _commit(self, hour: _Hour) -> tuple[SupervisorEvent, ...]:
        """Store the hour's grid versions, then its state (atomically), and return its events.

        Versions a crashed earlier attempt at the same hour already appended are recognised (they
        must equal what this hour produces); the state is written last, so a crash in between is
        repaired by retrying the hour.
        """
        at = iso_z(hour.market.hour, microseconds=True)
        pending = self._history[self._known_versions:]
        updates = [e for e in hour.events if "update" in e]
        if len(pending) > len(updates):
            raise SupervisorError(
                f"{self.symbol}: the grid history has {len(pending)} version(s) after version "
                f"{self._known_versions} that hour {at} does not produce; was an hour skipped?")
        if updates and not self._state_file_exists and self.store_dir is not None:
            # First hour in this directory: record the state before appending, so that a crash right
            # after the append is recognised on retry (and not mistaken for an operator's grid).
            self._write()
        when = decision_time(hour.market)
        history = self._history[:self._known_versions]
        stored_events = []
        for e in hour.events:
            version = None
            if "update" in e:
                config = e["update"]
                created = config.created_at if e["kind"] == "initial" and config is self.initial_grid else when
                index = len(history) - self._known_versions
                reason = f"{e['kind']}: {e['reason']}"
                if index < len(pending):
                    stored = pending[index]
                    if not _same_version(stored, reason, config, created):
                        raise SupervisorError(
                            f"{self.symbol}: grid history version {stored.version} differs from what hour {at} produces")
                else:
                    stored = self._log.append(reason, config, created)
                history.append(stored)
                version = stored.version
            stored_events.append(SupervisorEvent(e["kind"], hour.market.hour, e["reason"], version, e["details"]))
        self._history = history
        self._known_versions = len(history)
        self._state = hour.state
        self._window = hour.window
        self._last_restart = hour.last_restart
        self._save()
        return tuple(stored_events)

    def run(self, results: Iterable[Any], *, pnl: Sequence[float | None] | None = None) -> list[SupervisorStep]:
        """Step through ``results`` in order (replay); ``pnl`` gives one value (or None) per result."""
        results = list(results)
        if pnl is not None and len(pnl) != len(results):
            raise InvalidParameterError(f"pnl: expected {len(results)} values (one per result), got {len(pnl)}")
        return [self.step(r, pnl=None if pnl is None else pnl[i]) for i, r in enumerate(results)]


def supervise_results(results: Iterable[Any], *, store_dir: str | os.PathLike | None = None,
                      gate_config: GateConfig | None = None, policy: GridPolicy | None = None,
                      initial_grid: GridConfig | Mapping[str, GridConfig] | None = None,
                      start_enabled: bool = False) -> list[dict[str, Any]]:
    """Supervise analysed hours (any mix of symbols, each in hour order) and return one row per hour.

    Rows are :meth:`SupervisorStep.row` records (columns :data:`ROW_COLUMNS`), in input order, so
    ``pyarrow.Table.from_pylist(rows)`` gives a table. One :class:`GridSupervisor` per symbol, all
    sharing ``store_dir``; ``initial_grid`` is one grid (for its own symbol) or a mapping symbol →
    grid.
    """
    if isinstance(initial_grid, GridConfig):
        initial_grid = {initial_grid.symbol: initial_grid}
    grids = dict(initial_grid or {})
    supervisors: dict[str, GridSupervisor] = {}
    rows = []
    for result in results:
        market = as_market_state(result)
        sup = supervisors.get(market.symbol)
        if sup is None:
            sup = supervisors[market.symbol] = GridSupervisor(
                market.symbol, store_dir=store_dir, gate_config=gate_config, policy=policy,
                initial_grid=grids.get(market.symbol), start_enabled=start_enabled)
        rows.append(sup.step(market).row())
    return rows


def rows_to_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows of :func:`supervise_results` as columns (``{column: values}``), in :data:`ROW_COLUMNS` order."""
    return {name: [row[name] for row in rows] for name in ROW_COLUMNS}
