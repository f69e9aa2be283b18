"""Reads of decisions shared by pages, API, tasks and commands, one module per room:

- scorecards: versions, the champion, the points table, the model page's figures;
- simulation: what a policy would do to the book today (policy_simulation);
- policies: versions, rules laid out against the policy in force, stored simulations;
- borrowers: the staff score panel and the borrower's own reasons (access checked);
- runs: whole-book scoring runs, their chunks, and stale scores;
- reports: the champion / challenger comparison on matured outcomes.

Import the public names from here.
"""

from decisions.selectors.borrowers import borrower_own_reasons, borrower_score_panel
from decisions.selectors.policies import (
    policy_editor_base,
    policy_in_force,
    policy_list,
    policy_page,
    purpose_label,
    simulation_latest,
    simulation_shown,
    simulation_visible_to,
)
from decisions.selectors.reports import comparison_defaults, model_comparison
from decisions.selectors.runs import (
    failed_chunk_list,
    scoring_run_detail,
    scoring_run_list,
    stale_scores,
)
from decisions.selectors.scorecards import (
    feature_catalogue,
    points_table,
    scorecard_champion,
    scorecard_list,
    scorecard_page,
)
from decisions.selectors.simulation import policy_simulation

__all__ = [
    "borrower_own_reasons",
    "borrower_score_panel",
    "comparison_defaults",
    "failed_chunk_list",
    "feature_catalogue",
    "model_comparison",
    "points_table",
    "policy_editor_base",
    "policy_in_force",
    "policy_list",
    "policy_page",
    "policy_simulation",
    "purpose_label",
    "scorecard_champion",
    "scorecard_list",
    "scorecard_page",
    "scoring_run_detail",
    "scoring_run_list",
    "simulation_latest",
    "simulation_shown",
    "simulation_visible_to",
    "stale_scores",
]
