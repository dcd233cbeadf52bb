import numpy as np
import numpy.typing as npt

def rolling_quantile_band(
    x: npt.NDArray[np.float64], window: int, min_periods: int, lower_q: float, upper_q: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def fractal_pivots(
    high: npt.NDArray[np.float64], low: npt.NDArray[np.float64], order: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]: ...
def cluster_sorted_levels(
    levels: npt.NDArray[np.float64], tolerance: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
def touch_counts(
    high: npt.NDArray[np.float64], low: npt.NDArray[np.float64], lower: float, upper: float, tolerance: float
) -> tuple[int, int]: ...
def volume_profile(
    price: npt.NDArray[np.float64], volume: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]: ...
def value_area(
    edges: npt.NDArray[np.float64], volume_per_bin: npt.NDArray[np.float64], share: float
) -> tuple[float, float, float]: ...
