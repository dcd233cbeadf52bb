import numpy as np
import numpy.typing as npt

_F8 = npt.NDArray[np.float64]

def rolling_extreme(x: _F8, window: int, want_max: bool) -> _F8: ...
