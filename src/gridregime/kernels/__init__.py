"""Public, validated wrappers around the compiled kernels.

Each wrapper coerces its inputs to contiguous float64 once, checks windows and lengths, and
calls a GIL-free kernel from :mod:`gridregime._libs`. Outputs are new float64 arrays of the
input length, NaN during warm-up.
"""
from gridregime.kernels._validate import as_float64  # noqa: F401
from gridregime.kernels.rolling import *  # noqa: F401,F403
from gridregime.kernels.rolling import __all__ as _rolling_all
from gridregime.kernels.rank import *  # noqa: F401,F403
from gridregime.kernels.rank import __all__ as _rank_all
from gridregime.kernels.ranges import *  # noqa: F401,F403
from gridregime.kernels.ranges import __all__ as _ranges_all
from gridregime.kernels.discovery import *  # noqa: F401,F403
from gridregime.kernels.discovery import __all__ as _discovery_all
from gridregime.kernels.gridsim import *  # noqa: F401,F403
from gridregime.kernels.gridsim import __all__ as _gridsim_all

__all__ = ["as_float64", *_rolling_all, *_rank_all, *_ranges_all, *_discovery_all, *_gridsim_all]
