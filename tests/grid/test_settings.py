"""The supervisor's settings in the analysis TOML file: [gates], [grid] and per-symbol tables."""
import pytest

from gridregime.config import load_config
from gridregime.errors import InvalidParameterError
from gridregime.grid import GateConfig, GridPolicy, GridSupervisor, SupervisorSettings, load_supervisor_settings

TOML = """
[regime]
min_grid_levels = 6

[gates]
min_hours_stopped = 8
gate1_trend_max = 45.0

[grid]
quick_stop_atr = 1.0

[symbols.ETH-USDT]
min_grid_levels = 7

[symbols.ETH-USDT.gates]
gate_hold_bars = 3

[symbols.XRP-USDT.grid]
spacing_atr = 0.45
"""


def write(tmp_path, text):
    p = tmp_path / "settings.toml"
    p.write_text(text)
    return p


def test_one_file_holds_analysis_and_supervisor_settings(tmp_path):
    p = write(tmp_path, TOML)
    regime = load_config(p)
    assert regime.min_grid_levels == 6 and regime.for_symbol("ETH-USDT").min_grid_levels == 7
    assert "XRP-USDT" not in regime.symbol_overrides  # only a [grid] table for XRP: no analysis override
    s = load_supervisor_settings(p)
    assert s.gates.min_hours_stopped == 8 and s.gates.gate1_trend_max == 45.0
    assert s.gates.for_symbol("ETH-USDT").gate_hold_bars == 3
    assert s.gates.for_symbol("BTC-USDT").gate_hold_bars == GateConfig().gate_hold_bars
    assert s.policy.quick_stop_atr == 1.0
    assert s.policy.for_symbol("XRP-USDT").spacing_atr == 0.45
    assert s.policy.for_symbol("XRP-USDT").quick_stop_atr == 1.0  # the global value stays under the override
    assert s.policy.for_symbol("ETH-USDT").spacing_atr == GridPolicy().spacing_atr


def test_supervisor_uses_the_symbols_numbers(tmp_path):
    s = load_supervisor_settings(write(tmp_path, TOML))
    sup = GridSupervisor("XRP-USDT", gate_config=s.gates, policy=s.policy)
    assert sup.policy.spacing_atr == 0.45 and not sup.policy.symbol_overrides
    assert GridSupervisor("BTC-USDT", gate_config=s.gates, policy=s.policy).policy.spacing_atr == 0.5


def test_defaults_without_a_file():
    assert load_supervisor_settings(None) == SupervisorSettings()


@pytest.mark.parametrize("text, needle", [
    ("[gates]\nnope = 1\n", r"\[gates\]: unknown field\(s\) \['nope'\]"),
    ("[grid]\nspacing_atr = 0.9\n", r"\[grid\].*spacing_atr: expected a number in \[0.45, 0.55\]"),
    ("[symbols.ETH-USDT.gates]\ngate_hold_bars = 0\n", r"\[gates\].*ETH-USDT.*gate_hold_bars"),
    ("[symbols.ETH-USDT.grid]\nbogus = 1\n", r"\[grid\].*ETH-USDT.*bogus"),
    ("[symbols.bad]\nmin_grid_levels = 5\n", r"symbol"),
    ("[gridd]\nx = 1\n", r"unknown section"),
])
def test_errors_name_file_section_and_field(tmp_path, text, needle):
    p = write(tmp_path, text)
    with pytest.raises(InvalidParameterError, match=needle) as info:
        load_supervisor_settings(p) if "gridd" not in text and "bad" not in text else load_config(p)
    assert str(p) in str(info.value)


def test_replace_by_dotted_name():
    s = SupervisorSettings().replace(**{"gates.min_hours_stopped": 12, "grid.quick_stop_atr": 1.5})
    assert s.gates.min_hours_stopped == 12 and s.policy.quick_stop_atr == 1.5
    with pytest.raises(InvalidParameterError, match="gates.nope"):
        SupervisorSettings().replace(**{"gates.nope": 1})
    with pytest.raises(InvalidParameterError, match="min_hours_stopped"):
        SupervisorSettings().replace(**{"gates.min_hours_stopped": -1})


def test_overrides_are_frozen_and_not_parameters():
    a = GateConfig(symbol_overrides={"ETH-USDT": {"gate_hold_bars": 3}})
    assert a == GateConfig()  # the overrides are not a parameter
    with pytest.raises(TypeError):
        a.symbol_overrides["BTC-USDT"] = {}
    assert GateConfig.from_dict(a.to_dict()).for_symbol("ETH-USDT").gate_hold_bars == 3
    assert GridPolicy.from_dict(GridPolicy(quick_stop_atr=2.0).to_dict()).quick_stop_atr == 2.0
