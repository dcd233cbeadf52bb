"""The grid supervisor's settings: restart-gate thresholds (:class:`GateConfig`, SPEC §8), fresh,
probationary and quick-stop numbers (:class:`GridPolicy`, SPEC §6), and their TOML sections.

They live in the same file as the analysis settings (:func:`gridregime.config.load_config`)::

    [gates]                         # GateConfig fields
    min_hours_stopped = 6

    [grid]                          # GridPolicy fields
    quick_stop_atr = 0.5

    [symbols.ETH-USDT.gates]        # per-symbol overrides, the scheme of gridregime.overrides
    gate1_trend_max = 45

Unknown keys are errors naming the file, the section and the key. ``docs/config.md`` gives the
meaning of every field and the evidence behind its default.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gridregime.config import read_settings_file, symbol_tables
from gridregime.errors import InvalidParameterError
from gridregime.overrides import check_symbol_overrides, for_symbol, parameter_names


class _PerSymbol:
    """What the supervisor's settings share: per-symbol overrides and a plain-dict form."""

    def for_symbol(self, symbol: str) -> Any:
        """The settings for ``symbol`` (defaults with that symbol's overrides applied)."""
        return for_symbol(self, symbol)

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in parameter_names(type(self))}
        out["symbol_overrides"] = {s: dict(v) for s, v in self.symbol_overrides.items()}  # type: ignore[attr-defined]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        known = set(parameter_names(cls)) | {"symbol_overrides"}
        for key in data:
            if key not in known:
                raise InvalidParameterError(f"{key}: not a {cls.__name__} field")
        return cls(**dict(data))


@dataclass(frozen=True)
class GateConfig(_PerSymbol):
    """Gate thresholds (SPEC §8 defaults) with optional per-symbol overrides.

    ``symbol_overrides`` maps a symbol to ``{field: value}`` (:mod:`gridregime.overrides`);
    :meth:`for_symbol` applies them. The machine always evaluates with
    ``config.for_symbol(state.symbol)``.
    """

    min_hours_stopped: int = 6
    gate_hold_bars: int = 2
    gate1_trend_max: float = 50.0
    adx_falling_bars: int = 3
    gate2_vol_change_max: float = 50.0
    gate2_atr_rank_max: float = 80.0
    gate2_bar_range_atr_max: float = 2.0
    gate2_range_bars: int = 6
    gate3_range_quality_min: float = 60.0
    gate3_mean_rev_min: float = 50.0
    gate3_max_bars: int = 12
    symbol_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        ints = {"min_hours_stopped": 0, "gate_hold_bars": 1, "adx_falling_bars": 2, "gate2_range_bars": 1,
                "gate3_max_bars": 1}
        for name, low in ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidParameterError(f"{name}: expected an integer >= {low}, got {value!r}")
        for name in ("gate1_trend_max", "gate2_vol_change_max", "gate2_atr_rank_max", "gate3_range_quality_min",
                     "gate3_mean_rev_min"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise InvalidParameterError(f"{name}: expected a score threshold in [0, 100], got {value!r}")
        value = self.gate2_bar_range_atr_max
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise InvalidParameterError(f"gate2_bar_range_atr_max: expected a finite number > 0, got {value!r}")
        check_symbol_overrides(self)


@dataclass(frozen=True)
class GridPolicy(_PerSymbol):
    """Numbers for fresh grids, probation and quick stops.

    Attributes
    ----------
    normal_allocation : float
        Allocation of a normal grid, quote currency.
    allocation_fraction : float
        Probation allocation as a share of ``normal_allocation``, in [0.50, 0.60].
    min_levels, max_levels : int
        Probation level count range, within [4, 6].
    spacing_atr : float
        Probation spacing in ATR, in [0.45, 0.55]; narrowed towards 0.45 when the range is tight.
    probation_hours : int
        Hours on probation before promotion can happen.
    min_inside_fraction : float
        Share of probation hours with the close inside the grid required for promotion.
    quick_stop_atr : float
        A close beyond a grid bound by more than this many ATR stops a probationary grid.
    quick_stop_vol_change : float
        VolChangeScore above this stops a probationary grid.
    quick_stop_drawdown : float
        Loss beyond this share of the allocation (when PnL is supplied) stops a probationary grid.
    max_normal_levels : int
        Cap on the level count of a normal fresh grid.
    stop_beyond_atr : float or None
        None (the default): a running grid stops on a TREND or TRANSITION verdict (SPEC §7). A
        number: it stops only on a breakout — verdict TREND with the close more than this many ATR
        beyond a bound — and is re-centred otherwise. Measured in ``docs/validation.md`` (better on
        the 1m files, worse on the hourly ones: not the default).
    """

    normal_allocation: float = 1000.0
    allocation_fraction: float = 0.55
    min_levels: int = 4
    max_levels: int = 6
    spacing_atr: float = 0.5
    probation_hours: int = 24
    min_inside_fraction: float = 0.8
    quick_stop_atr: float = 0.5
    quick_stop_vol_change: float = 80.0
    quick_stop_drawdown: float = 0.03
    max_normal_levels: int = 100
    stop_beyond_atr: float | None = None
    symbol_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        def check(name: str, ok: bool, expected: str) -> None:
            if not ok:
                raise InvalidParameterError(f"{name}: expected {expected}, got {getattr(self, name)!r}")

        num = (int, float)
        check("normal_allocation", isinstance(self.normal_allocation, num) and math.isfinite(self.normal_allocation)
              and self.normal_allocation > 0, "a finite number > 0")
        check("allocation_fraction", isinstance(self.allocation_fraction, num)
              and 0.5 <= self.allocation_fraction <= 0.6, "a number in [0.5, 0.6]")
        check("min_levels", isinstance(self.min_levels, int) and 4 <= self.min_levels <= 6, "an integer in [4, 6]")
        check("max_levels", isinstance(self.max_levels, int) and self.min_levels <= self.max_levels <= 6,
              f"an integer in [{self.min_levels}, 6]")
        check("spacing_atr", isinstance(self.spacing_atr, num) and 0.45 <= self.spacing_atr <= 0.55,
              "a number in [0.45, 0.55]")
        check("probation_hours", isinstance(self.probation_hours, int) and self.probation_hours >= 1, "an integer >= 1")
        check("min_inside_fraction", isinstance(self.min_inside_fraction, num) and 0 <= self.min_inside_fraction <= 1,
              "a number in [0, 1]")
        check("quick_stop_atr", isinstance(self.quick_stop_atr, num) and self.quick_stop_atr >= 0, "a number >= 0")
        check("quick_stop_vol_change", isinstance(self.quick_stop_vol_change, num)
              and 0 <= self.quick_stop_vol_change <= 100, "a number in [0, 100]")
        check("quick_stop_drawdown", isinstance(self.quick_stop_drawdown, num) and 0 < self.quick_stop_drawdown < 1,
              "a number in (0, 1)")
        check("max_normal_levels", isinstance(self.max_normal_levels, int) and 2 <= self.max_normal_levels <= 1000,
              "an integer in [2, 1000]")
        check("stop_beyond_atr", self.stop_beyond_atr is None or (
            isinstance(self.stop_beyond_atr, num) and not isinstance(self.stop_beyond_atr, bool)
            and math.isfinite(self.stop_beyond_atr) and self.stop_beyond_atr >= 0), "None or a finite number >= 0")
        check_symbol_overrides(self)


@dataclass(frozen=True)
class SupervisorSettings:
    """Everything the grid supervisor is configured with: the gate thresholds and the grid numbers."""

    gates: GateConfig = field(default_factory=GateConfig)
    policy: GridPolicy = field(default_factory=GridPolicy)

    def __post_init__(self) -> None:
        if not isinstance(self.gates, GateConfig):
            raise InvalidParameterError(f"gates: expected a GateConfig, got {type(self.gates).__name__}")
        if not isinstance(self.policy, GridPolicy):
            raise InvalidParameterError(f"policy: expected a GridPolicy, got {type(self.policy).__name__}")

    def replace(self, **changes: Any) -> SupervisorSettings:
        """A copy with fields changed by name: ``gates.<field>`` or ``grid.<field>`` (validated)."""
        gates, grid = {}, {}
        for key, value in changes.items():
            section, _, name = key.partition(".")
            target = {"gates": (gates, GateConfig), "grid": (grid, GridPolicy)}.get(section)
            if target is None or name not in parameter_names(target[1]):
                raise InvalidParameterError(f"{key}: expected gates.<GateConfig field> or grid.<GridPolicy field>")
            target[0][name] = value
        return SupervisorSettings(replace(self.gates, **gates) if gates else self.gates,
                                  replace(self.policy, **grid) if grid else self.policy)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "config") -> SupervisorSettings:
        """From the parsed settings file: ``[gates]``, ``[grid]``, ``[symbols.SYM.gates]``, ``[symbols.SYM.grid]``."""
        symbols = symbol_tables(data, source)
        built = {}
        for section, kind in (("gates", GateConfig), ("grid", GridPolicy)):
            table = data.get(section, {})
            if not isinstance(table, Mapping):
                raise InvalidParameterError(f"{source}: [{section}]: expected a table of {kind.__name__} fields")
            unknown = sorted(set(table) - set(parameter_names(kind)))
            if unknown:
                raise InvalidParameterError(f"{source}: [{section}]: unknown field(s) {unknown}")
            overrides = {sym: t[section] for sym, t in symbols.items() if section in t}
            try:
                built[section] = kind(**table, symbol_overrides=overrides)
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"{source}: [{section}]: {exc}") from None
        return cls(built["gates"], built["grid"])


def load_supervisor_settings(path: str | Path | None = None) -> SupervisorSettings:
    """The default supervisor settings, or those in the TOML file ``path`` (the analysis config file)."""
    if path is None:
        return SupervisorSettings()
    return SupervisorSettings.from_mapping(read_settings_file(path), source=str(path))
