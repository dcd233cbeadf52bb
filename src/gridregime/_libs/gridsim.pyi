import numpy as np
import numpy.typing as npt

PESSIMISTIC: int
OHLC: int

def simulate_grids(
    open: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    seg_start: npt.NDArray[np.int64],
    seg_end: npt.NDArray[np.int64],
    seg_close: npt.NDArray[np.uint8],
    level_off: npt.NDArray[np.int64],
    slot_off: npt.NDArray[np.int64],
    prices: npt.NDArray[np.float64],
    qty: npt.NDArray[np.float64],
    budget: float,
    fee: float,
    path: int,
    min_notional: float,
    size_to_equity: bool = ...,
    lot: float = ...,
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    float,
    int,
    float,
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]: ...
