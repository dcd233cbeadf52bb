import numpy as np
import numpy.typing as npt

_F8 = npt.NDArray[np.float64]

def ema(x: _F8, period: int, alpha: float, seed_first: bool) -> _F8: ...
