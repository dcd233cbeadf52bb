"""Every kernel wrapper refuses bad input with the package's own error, naming the input."""
from __future__ import annotations

import numpy as np
import pytest

from gridregime import kernels as K
from gridregime.errors import InvalidParameterError, InvalidParameterTypeError

X = np.linspace(1.0, 2.0, 50)


@pytest.mark.parametrize("call, name", [
    (lambda: K.rolling_std(X.reshape(5, 10), 3), "x: expected a 1-D array"),
    (lambda: K.rolling_std(X, 0), "window"),
    (lambda: K.rolling_percentile_rank(X, 10, 11), "min_periods"),
    (lambda: K.atr(X, X, X[:-1], 14), "lengths"),
    (lambda: K.rolling_quantile_band(X, 10, lower_q=0.9, upper_q=0.1), "lower_q"),
    (lambda: K.volume_profile(X, -X, 1.0, 2.0, 10), "volume"),
    (lambda: K.cluster_levels(X, float("nan")), "tolerance"),
])
def test_value_errors_are_invalid_parameter_errors(call, name):
    with pytest.raises(InvalidParameterError) as info:
        call()
    assert name in str(info.value)


@pytest.mark.parametrize("call, name", [
    (lambda: K.rolling_std(np.array(["a", "b"]), 1), "x: expected numbers"),
    (lambda: K.rolling_std(X, 2.5), "window"),
])
def test_type_errors_are_both_invalid_parameter_and_type_errors(call, name):
    with pytest.raises(InvalidParameterTypeError) as info:
        call()
    assert isinstance(info.value, TypeError) and isinstance(info.value, InvalidParameterError)
    assert name in str(info.value)
