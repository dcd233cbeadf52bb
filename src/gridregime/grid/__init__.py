"""Grid configuration, recommendations, restart gates and the hourly supervisor (SPEC §6–8), pure Python over analysis results."""
from gridregime.grid.config import GridConfig, GridMode, SpacingMode, grid_levels
from gridregime.grid.gate_state import GateState, GateStateStore, Phase, initial_state, restart, stop
from gridregime.grid.gates import Condition, GateEvaluation, GateReport, apply_events, evaluate, readiness, replay
from gridregime.grid.inputs import MarketState, market_state_from_result
from gridregime.grid.probation import (
    GridBuildError,
    ProbationStatus,
    normal_grid,
    probation_grid,
    probation_status,
    promoted,
    quick_stop_triggers,
)
from gridregime.grid.recommend import Action, Recommendation, recommend
from gridregime.grid.settings import GateConfig, GridPolicy, SupervisorSettings, load_supervisor_settings
from gridregime.grid.store import GridHistoryStore, GridStoreError, RepairReport, VerifyReport
from gridregime.grid.supervisor import (
    GridSupervisor,
    SupervisorError,
    SupervisorEvent,
    SupervisorStep,
    rows_to_columns,
    supervise_results,
)

__all__ = [
    "Action", "Condition", "GateConfig", "GateEvaluation", "GateReport", "GateState", "GateStateStore",
    "GridBuildError", "GridConfig", "GridHistoryStore", "GridMode", "GridPolicy", "GridStoreError",
    "GridSupervisor", "MarketState", "Phase", "ProbationStatus", "Recommendation", "RepairReport",
    "SpacingMode", "SupervisorError", "SupervisorEvent", "SupervisorSettings", "SupervisorStep", "VerifyReport", "apply_events", "evaluate",
    "grid_levels", "initial_state", "load_supervisor_settings", "market_state_from_result", "normal_grid", "probation_grid",
    "probation_status", "promoted", "quick_stop_triggers", "readiness", "recommend", "replay", "restart",
    "rows_to_columns", "stop", "supervise_results",
]
