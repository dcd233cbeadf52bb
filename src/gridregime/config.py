"""Analysis configuration: every threshold and window of the regime engine in one frozen object.

:class:`RegimeConfig` holds the SPEC §5 defaults. It loads from TOML, accepts per-symbol
overrides, and exposes a stable hash (:attr:`RegimeConfig.config_hash`) that every result
carries so that any verdict can be traced to the exact parameters that produced it.

TOML layout (every key optional; unknown keys are an error naming them)::

    [regime]
    rank_window = 720
    min_grid_levels = 5

    [symbols.ETH-USDT]          # per-symbol overrides of [regime] keys
    min_grid_levels = 6

The same file may hold the grid supervisor's ``[gates]`` and ``[grid]`` sections (and
``[symbols.SYM.gates]``, ``[symbols.SYM.grid]``), read by
:func:`gridregime.grid.settings.load_supervisor_settings`; the per-symbol scheme is the same
(:mod:`gridregime.overrides`).

See ``docs/config.md`` for the meaning of every field and the choices made where §5 is silent.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import tomllib
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import orjson

from gridregime.errors import InvalidParameterError
from gridregime.overrides import check_symbol_overrides, for_symbol, parameter_names

__all__ = ["RegimeConfig", "load_config"]

# Fields that must be integers >= 1 (windows, periods, counts).
_POSITIVE_INTS = {
    "atr_period", "adx_period", "er_window", "regression_window", "vol_short_window",
    "vol_long_window", "atr_change_lag", "ac1_window", "vr_q", "vr_window", "mid_cross_window",
    "bbw_window", "rank_window", "min_rank_periods", "range_lookback", "pivot_order",
    "volume_profile_bins", "age_full_hours", "min_grid_levels", "trend_confirm_bars",
    "history_hours",
}
_SCORES = {"range_weak_below", "transition_above", "trend_threshold", "range_ok_quality",
           "range_ok_meanrev"}
_FRACTIONS = {"percentile_low", "percentile_high", "value_area_share"}
#: Largest ``history_hours`` (and largest rank window): a 1h file of this many bars is ~7 MB.
MAX_HISTORY_HOURS = 100_000
#: Feature windows and periods: each must fit in the hourly history (<= history_hours) and be at
#: least its kernel's minimum (a standard deviation needs 2 values, a variance ratio q + 1, ...).
_HISTORY_WINDOWS = {
    "atr_period": 1, "adx_period": 2, "er_window": 1, "regression_window": 2, "vol_short_window": 2,
    "vol_long_window": 2, "atr_change_lag": 1, "ac1_window": 2, "vr_q": 2, "vr_window": 3,
    "mid_cross_window": 2, "bbw_window": 2, "range_lookback": 2, "pivot_order": 1, "trend_confirm_bars": 1,
}
#: Counts and windows not tied to one hour's history: bounded so that no allocation runs away.
_CAPPED_INTS = {"rank_window": MAX_HISTORY_HOURS, "min_rank_periods": MAX_HISTORY_HOURS,
                "history_hours": MAX_HISTORY_HOURS, "age_full_hours": MAX_HISTORY_HOURS,
                "volume_profile_bins": 10_000, "min_grid_levels": 10_000}


@dataclass(frozen=True)
class RegimeConfig:
    """Frozen parameters of the regime engine (SPEC §5 defaults).

    Windows and periods count hourly bars. ``*_atr`` fields are multiples of the current ATR.
    Score thresholds are on the 0–100 scale. ``fee`` and ``min_edge`` are fractions (0.001 = 0.1 %).
    ``symbol_overrides`` maps a symbol to ``{field: value}``; :meth:`for_symbol` applies it.
    """

    # --- hourly features -------------------------------------------------------------------
    atr_period: int = 14
    adx_period: int = 14
    er_window: int = 24
    regression_window: int = 48  # slope (ATR per bar) and r2
    vol_short_window: int = 24
    vol_long_window: int = 168
    atr_change_lag: int = 24
    ac1_window: int = 48
    vr_q: int = 4
    vr_window: int = 48
    mid_cross_window: int = 48
    bbw_window: int = 20
    bbw_k: float = 2.0
    # --- percentile ranks ------------------------------------------------------------------
    rank_window: int = 720
    min_rank_periods: int = 168
    # --- range discovery -------------------------------------------------------------------
    range_lookback: int = 72
    percentile_low: float = 0.10
    percentile_high: float = 0.90
    donchian_trim_atr: float = 0.25
    pivot_order: int = 2
    pivot_cluster_atr: float = 0.5
    volume_profile_bins: int = 24
    value_area_share: float = 0.70
    touch_tolerance_atr: float = 0.25
    width_ideal_min_atr: float = 4.0
    width_ideal_max_atr: float = 20.0
    age_full_hours: int = 24
    quality_weight_containment: float = 40.0
    quality_weight_touches: float = 30.0
    quality_weight_width: float = 20.0
    quality_weight_age: float = 10.0
    # --- scores ----------------------------------------------------------------------------
    trend_weight_adx: float = 0.35
    trend_weight_slope_r2: float = 0.25
    trend_weight_er: float = 0.25
    trend_weight_di: float = 0.15
    meanrev_weight_vr: float = 0.30
    meanrev_weight_ac1: float = 0.20
    meanrev_weight_mid_cross: float = 0.30
    meanrev_weight_er: float = 0.20
    # --- grid capacity ---------------------------------------------------------------------
    fee: float = 0.001
    min_edge: float = 0.001
    spacing_atr: float = 0.5
    min_grid_levels: int = 5
    # --- verdict thresholds (hierarchy of §5) ------------------------------------------------
    range_weak_below: float = 30.0
    transition_above: float = 90.0  # §5 says 70; see docs/config.md (synthetic validation)
    trend_threshold: float = 70.0
    trend_confirm_bars: int = 2
    range_ok_quality: float = 60.0
    range_ok_meanrev: float = 20.0  # §5 says 50; see docs/config.md (synthetic validation)
    range_ok_min_room_atr: float = 0.0  # optional step-5 safety (0 = off); see docs/config.md
    grid_start_min_room_atr: float = 1.75  # a grid starts only this many ATR from both bounds; docs/config.md
    # --- confidence --------------------------------------------------------------------------
    confidence_margin_scale: float = 20.0  # score points of margin that give full confidence
    missing_minutes_penalty: float = 0.8  # confidence factor when the hour's 1m bars are absent
    # --- history -----------------------------------------------------------------------------
    history_hours: int = 1000
    # --- per-symbol overrides (not part of the effective parameters) -------------------------
    symbol_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "symbol_overrides":
                continue
            value = getattr(self, f.name)
            if f.name in _POSITIVE_INTS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise InvalidParameterError(f"RegimeConfig.{f.name}: expected an integer >= 1, got {value!r}")
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise InvalidParameterError(f"RegimeConfig.{f.name}: expected a finite number, got {value!r}")
                object.__setattr__(self, f.name, float(value))
                if f.name in _SCORES and not 0.0 <= value <= 100.0:
                    raise InvalidParameterError(f"RegimeConfig.{f.name}: expected a score in [0, 100], got {value!r}")
                if f.name in _FRACTIONS and not 0.0 < value < 1.0:
                    raise InvalidParameterError(f"RegimeConfig.{f.name}: expected a fraction in (0, 1), got {value!r}")
                if value < 0:
                    raise InvalidParameterError(f"RegimeConfig.{f.name}: expected a value >= 0, got {value!r}")
        if self.percentile_low >= self.percentile_high:
            raise InvalidParameterError(
                f"RegimeConfig.percentile_low: expected < percentile_high={self.percentile_high}, got {self.percentile_low}"
            )
        if self.min_rank_periods > self.rank_window:
            raise InvalidParameterError(
                f"RegimeConfig.min_rank_periods: expected <= rank_window={self.rank_window}, got {self.min_rank_periods}"
            )
        if self.width_ideal_min_atr > self.width_ideal_max_atr:
            raise InvalidParameterError("RegimeConfig.width_ideal_min_atr: expected <= width_ideal_max_atr")
        if not 0.0 < self.missing_minutes_penalty <= 1.0:
            raise InvalidParameterError(
                f"RegimeConfig.missing_minutes_penalty: expected a factor in (0, 1], got {self.missing_minutes_penalty}"
            )
        if self.confidence_margin_scale <= 0:
            raise InvalidParameterError("RegimeConfig.confidence_margin_scale: expected a value > 0")
        for name, cap in _CAPPED_INTS.items():
            if getattr(self, name) > cap:
                raise InvalidParameterError(f"RegimeConfig.{name}: expected an integer <= {cap}, got {getattr(self, name)}")
        for name, minimum in _HISTORY_WINDOWS.items():
            value = getattr(self, name)
            if not minimum <= value <= self.history_hours:
                raise InvalidParameterError(
                    f"RegimeConfig.{name}: expected an integer in [{minimum}, history_hours={self.history_hours}] "
                    f"(a window must fit in the hourly history), got {value}")
        if self.vr_q >= self.vr_window:
            raise InvalidParameterError(f"RegimeConfig.vr_q: expected < vr_window={self.vr_window}, got {self.vr_q}")
        check_symbol_overrides(self)

    # ---------------------------------------------------------------------------------------
    def parameters(self) -> dict[str, Any]:
        """The effective parameters as a plain dict (overrides excluded)."""
        return {name: getattr(self, name) for name in _parameter_names()}

    @cached_property
    def config_hash(self) -> str:
        """Stable 16-hex-digit hash of :meth:`parameters` (canonical JSON, SHA-256).

        Independent of field order and of process; equal parameters give equal hashes.
        """
        payload = orjson.dumps(self.parameters(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(payload).hexdigest()[:16]

    def for_symbol(self, symbol: str) -> "RegimeConfig":
        """The configuration with ``symbol``'s overrides applied (see :mod:`gridregime.overrides`)."""
        return for_symbol(self, symbol)

    def replace(self, **changes: Any) -> "RegimeConfig":
        """A copy with some fields changed (validated like the constructor)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "config") -> "RegimeConfig":
        """Build from ``{"regime": {...}, "symbols": {SYM: {...}}}`` (the TOML layout).

        The ``[gates]`` and ``[grid]`` sections (and ``[symbols.SYM.gates]``, ``[symbols.SYM.grid]``)
        belong to the grid supervisor (:func:`gridregime.grid.settings.load_supervisor_settings`)
        and are left to it.
        """
        unknown_sections = sorted(set(data) - {"regime", "symbols", *SUPERVISOR_SECTIONS})
        if unknown_sections:
            raise InvalidParameterError(f"{source}: unknown section(s) {unknown_sections}; expected [regime], "
                                        f"[gates], [grid], [symbols.*]")
        regime = dict(data.get("regime", {}))
        unknown = sorted(set(regime) - set(_parameter_names()))
        if unknown:
            raise InvalidParameterError(f"{source}: [regime]: unknown field(s) {unknown}")
        overrides = {symbol: {k: v for k, v in table.items() if k not in SUPERVISOR_SECTIONS}
                     for symbol, table in symbol_tables(data, source).items()}
        try:
            return cls(**regime, symbol_overrides={k: v for k, v in overrides.items() if v})
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> "RegimeConfig":
        """Load from a TOML file; errors name the file and the field."""
        return cls.from_mapping(read_settings_file(path), source=str(path))


#: Sections of the settings file that the grid layer reads (gate thresholds, grid numbers).
SUPERVISOR_SECTIONS = ("gates", "grid")


def read_settings_file(path: str | Path) -> dict[str, Any]:
    """The parsed TOML settings file; errors name the file."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidParameterError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameterError(f"{path}: invalid TOML: {exc}") from None


def symbol_tables(data: Mapping[str, Any], source: str) -> dict[str, Mapping[str, Any]]:
    """The ``[symbols.SYM]`` tables of a settings mapping, checked to be tables."""
    symbols = data.get("symbols", {})
    if not isinstance(symbols, Mapping) or not all(isinstance(v, Mapping) for v in symbols.values()):
        raise InvalidParameterError(f"{source}: [symbols]: expected tables keyed by symbol")
    return dict(symbols)


def _parameter_names() -> list[str]:
    return parameter_names(RegimeConfig)


def load_config(path: str | Path | None = None) -> RegimeConfig:
    """The default configuration, or the one in the TOML file ``path``."""
    return RegimeConfig() if path is None else RegimeConfig.from_toml(path)
