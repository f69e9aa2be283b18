"""Decisions' records, one module per room: scorecards (versions, points tables, scores),
policies (limit-policy versions and their decisions), runs (whole-book scoring jobs).
Import from here."""

from decisions.models.flags import RiskFlag, RiskFlagKind
from decisions.models.overrides import (
    AuthorityRule,
    OverrideEvidence,
    OverrideProposal,
    OverrideReason,
)
from decisions.models.policies import LimitDecision, LimitPolicy
from decisions.models.runs import ScoringChunk, ScoringRun
from decisions.models.scorecards import Score, ScorecardBin, ScorecardModel
from decisions.models.simulations import PolicySimulation, SimulationStatus

__all__ = [
    "AuthorityRule",
    "OverrideEvidence",
    "OverrideProposal",
    "OverrideReason",
    "RiskFlag",
    "RiskFlagKind",
    "LimitDecision",
    "LimitPolicy",
    "PolicySimulation",
    "Score",
    "ScorecardBin",
    "ScorecardModel",
    "ScoringChunk",
    "ScoringRun",
    "SimulationStatus",
]
