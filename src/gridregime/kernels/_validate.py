"""Input checks shared by the kernel wrappers: done once, at the boundary.

Every failure is an :class:`~gridregime.errors.InvalidParameterError` naming the input (wrong types
also a ``TypeError``), so a bad call reaches the command line as one line, never a traceback.
"""
from __future__ import annotations

import numpy as np

from gridregime.errors import InvalidParameterError, InvalidParameterTypeError


def as_1d_numeric(values, name: str, kinds: str = "fiub") -> np.ndarray:
    """Return ``values`` as a NumPy array (no copy when already one), checked to be 1-D with a
    dtype of one of ``kinds`` (NumPy dtype kinds: float, signed, unsigned, bool)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidParameterError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind not in kinds:
        raise InvalidParameterTypeError(f"{name}: expected numbers, got dtype {arr.dtype}")
    return arr


def as_float64(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D C-contiguous float64 array (no copy when already one).

    ``+/-inf`` become NaN so that every kernel sees a single missing-value marker.
    """
    arr = np.ascontiguousarray(as_1d_numeric(values, name), dtype=np.float64)
    if arr.size and not np.isfinite(arr).all():
        inf = np.isinf(arr)
        if inf.any():
            arr = arr.copy()
            arr[inf] = np.nan
    return arr


#: Largest window a kernel accepts: index arithmetic stays far from Py_ssize_t overflow and
#: per-window buffers stay allocatable.
MAX_WINDOW = 2**31 - 1


def check_window(window, name: str = "window", minimum: int = 1) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise InvalidParameterTypeError(f"{name}: expected an integer, got {type(window).__name__}")
    window = int(window)
    if window < minimum:
        raise InvalidParameterError(f"{name}: must be >= {minimum}, got {window}")
    if window > MAX_WINDOW:
        raise InvalidParameterError(f"{name}: must be <= {MAX_WINDOW}, got {window}")
    return window


def check_min_periods(min_periods, window: int, name: str = "min_periods") -> int:
    if min_periods is None:
        return window
    if isinstance(min_periods, bool) or not isinstance(min_periods, (int, np.integer)):
        raise InvalidParameterTypeError(f"{name}: expected an integer or None, got {type(min_periods).__name__}")
    min_periods = int(min_periods)
    if not 1 <= min_periods <= window:
        raise InvalidParameterError(f"{name}: must be between 1 and window={window}, got {min_periods}")
    return min_periods


def check_same_length(**arrays: np.ndarray) -> int:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise InvalidParameterError(f"inputs must have equal lengths, got {desc}")
    return next(iter(lengths.values()), 0)
