"""Regime analysis: features, range discovery, scores, the hierarchical verdict, grid comparison."""
from gridregime.analysis.comparison import compare_discovered_vs_configured
from gridregime.analysis.engine import ENGINE_VERSION, RegimeEngine
from gridregime.analysis.result import (
    CompetingVerdict, DataQuality, DecisionFactor, FeatureValue, RangeCandidate, RangeComparison,
    RegimeResult, Scores, Verdict, result_schema,
)

__all__ = [
    "RegimeEngine", "ENGINE_VERSION", "RegimeResult", "Verdict", "Scores", "FeatureValue", "RangeCandidate",
    "DecisionFactor", "CompetingVerdict", "DataQuality", "RangeComparison", "compare_discovered_vs_configured",
    "result_schema",
]
