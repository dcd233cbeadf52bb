"""Every window and period has bounds: too large (beyond history_hours, beyond the caps) or too
small (below its kernel's minimum) is refused with an error naming the field, from Python, from
TOML and from the command line; kernel wrappers refuse windows that cannot fit."""
from __future__ import annotations

import numpy as np
import pytest

from gridregime import kernels as K
from gridregime.cli import main
from gridregime.config import RegimeConfig
from gridregime.errors import InvalidParameterError

HUGE = 9223372036854775807


@pytest.mark.parametrize("name,value,expected", [
    ("atr_period", HUGE, "history_hours=1000"),
    ("atr_period", 10_000_000, "history_hours=1000"),
    ("atr_period", 1001, "history_hours=1000"),
    ("regression_window", 1, r"\[2, history_hours"),
    ("vol_short_window", 1, r"\[2, history_hours"),
    ("vr_window", 4, "vr_q: expected < vr_window=4"),
    ("rank_window", 10**6, "<= 100000"),
    ("history_hours", 10**6, "<= 100000"),
    ("volume_profile_bins", HUGE, "<= 10000"),
])
def test_item3_out_of_bounds_parameters_are_refused(name, value, expected):
    with pytest.raises(InvalidParameterError, match=f"RegimeConfig.{name if 'vr_q' not in expected else 'vr_q'}"):
        RegimeConfig(**{name: value})
    with pytest.raises(InvalidParameterError, match=expected):
        RegimeConfig(**{name: value})


def test_item3_bounds_follow_history_hours():
    assert RegimeConfig(history_hours=2000, atr_period=1500).atr_period == 1500
    with pytest.raises(InvalidParameterError, match="vol_long_window"):
        RegimeConfig(history_hours=100)  # the default vol_long_window (168) cannot fit
    with pytest.raises(InvalidParameterError, match=r"symbol_overrides\['ETH-USDT'\].*atr_period"):
        RegimeConfig(symbol_overrides={"ETH-USDT": {"atr_period": HUGE}})


def test_item3_toml_and_cli_name_the_file_and_field(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[regime]\natr_period = {HUGE}\n")
    code = main(["batch", "--root", str(tmp_path), "--symbols", "ETH-USDT", "--start", "2025-01-01T00:00Z",
                 "--end", "2025-01-01T01:00Z", "--config", str(cfg), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and str(cfg) in err and "RegimeConfig.atr_period" in err and "history_hours" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("call", [
    lambda x: K.atr(x, x, x, HUGE),
    lambda x: K.rolling_mean(x, HUGE),
    lambda x: K.rolling_std(x, 2**40),
    lambda x: K.rolling_percentile_rank(x, HUGE, 1),
])
def test_item3_kernel_wrappers_refuse_windows_that_cannot_fit(call):
    x = np.linspace(1.0, 2.0, 50)
    with pytest.raises(ValueError, match="must be <= 2147483647"):
        call(x)
