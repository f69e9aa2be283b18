"""Every write of decisions, one module per room:

- scorecards: storing a trained scorecard, moving a version through its life;
- scoring: scoring a chunk of borrowers (champion and challenger) with reasons;
- policies: limit-policy versions, drafted and activated under four eyes;
- reviews: reviewing a line by the active policy, re-scoring one borrower after an event;
- runs: the whole-book run, chunked and idempotent.

Each service owns its transaction (durable: call it outside any atomic block), and writes its
audit row (accounts.audit) in that transaction. `actor=None` is the system (a command).
Import the public names from here.
"""

from decisions.services.flags import fraud_flag_clear, fraud_flag_set
from decisions.services.override_admin import authority_rule_save, override_reason_save
from decisions.services.override_jobs import overrides_expire, temporary_limits_revert
from decisions.services.overrides import (
    override_approve,
    override_propose,
    override_reject,
    override_request_changes,
    override_resubmit,
    override_withdraw,
)
from decisions.services.policies import (
    POLICY_APPROVERS,
    POLICY_DRAFTERS,
    active_policy,
    policy_activate,
    policy_draft,
)
from decisions.services.reviews import borrowers_rescore, line_review
from decisions.services.runs import scoring_chunk_run, scoring_run_start
from decisions.services.scorecards import (
    MODEL_GOVERNORS,
    TRANSITIONS,
    challenger_assigned,
    scorecard_set_status,
    scorecard_store,
)
from decisions.services.scoring import score_chunk

__all__ = [
    "authority_rule_save",
    "fraud_flag_clear",
    "fraud_flag_set",
    "override_approve",
    "override_propose",
    "override_reason_save",
    "override_reject",
    "override_request_changes",
    "override_resubmit",
    "override_withdraw",
    "overrides_expire",
    "temporary_limits_revert",
    "MODEL_GOVERNORS",
    "TRANSITIONS",
    "POLICY_APPROVERS",
    "POLICY_DRAFTERS",
    "active_policy",
    "borrowers_rescore",
    "challenger_assigned",
    "line_review",
    "policy_activate",
    "policy_draft",
    "score_chunk",
    "scorecard_set_status",
    "scorecard_store",
    "scoring_chunk_run",
    "scoring_run_start",
]
