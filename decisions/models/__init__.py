"""Decisions' records, one module per room: scorecards (versions, points tables, scores),
policies (limit-policy versions and their decisions), runs (whole-book scoring jobs).
Import from here."""

from decisions.models.policies import LimitDecision, LimitPolicy
from decisions.models.runs import ScoringChunk, ScoringRun
from decisions.models.scorecards import Score, ScorecardBin, ScorecardModel

__all__ = [
    "LimitDecision",
    "LimitPolicy",
    "Score",
    "ScorecardBin",
    "ScorecardModel",
    "ScoringChunk",
    "ScoringRun",
]
