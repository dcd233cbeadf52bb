import numpy as np
import numpy.typing as npt

class DiscoveryParams:
    def __init__(
        self, lookback: int, trim_atr: float, pivot_order: int, cluster_atr: float, bins: int, va_share: float,
        touch_atr: float, ideal_min: float, ideal_max: float, age_full: float, w_contain: float, w_touch: float,
        w_width: float, w_age: float,
    ) -> None: ...

def range_quality(
    params: DiscoveryParams, containment: float, touches_lower: int, touches_upper: int, width_atr: float, age: int
) -> float: ...
def width_suitability(params: DiscoveryParams, width_atr: float) -> float: ...
def measure_range(
    high: npt.NDArray[np.float64], low: npt.NDArray[np.float64], close: npt.NDArray[np.float64], lower: float,
    upper: float, atr: float, params: DiscoveryParams,
) -> tuple[float, float, int, int, int, int, float, float]: ...
def discover_many(
    high: npt.NDArray[np.float64], low: npt.NDArray[np.float64], close: npt.NDArray[np.float64],
    volume: npt.NDArray[np.float64], idx: npt.NDArray[np.intp], atr: npt.NDArray[np.float64],
    pct_lo: npt.NDArray[np.float64], pct_hi: npt.NDArray[np.float64], params: DiscoveryParams,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.float64], npt.NDArray[np.float64],
           npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64],
           npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
