"""The drawdown check: before money leaves, approve, review or decline, with reason codes.

The answer comes from three places, the worst of them winning (decline > review > approve):
1. The line: not active (frozen, closed) -> decline; past due (any DPD) -> decline, so a
   line past due is never approved; more than is available -> decline.
2. The limit policy in force (decisions): the purpose's scenario. A term longer than it
   allows -> decline; more than its share of the limit, or a score under its minimum (or no
   score where it asks for one) -> review.
3. The real-time rules, judged on the hypothetical drawdown as if it were recorded now
   (monitoring.services.evaluation.hits_for_views; nothing is written to the book): a hit
   -> review; a critical one -> decline.
Every answer is recorded (DrawdownCheck). A review raises an alert of the rule "drawdown
check referred for review", which opens (or joins) a case like any alert.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from core.prepared import Prepared
from decisions.models import Score
from decisions.policy import PolicyInvalid, PolicyRules, policy_rules
from decisions.selectors.policies import policy_document_in_force
from lending import caps
from lending.choices import LineStatus, Purpose
from lending.errors import UnknownBorrower
from lending.models import Borrower, CreditLine
from lending.money import days_past_due
from monitoring.choices import AlertCategory, CheckDecision, EventKind, RuleKind, Severity
from monitoring.errors.rules import CheckInvalid, CheckNotAllowed
from monitoring.models import Alert, DrawdownCheck, RuleVersion
from monitoring.rules.base import BorrowerHistory, CardRec, DeviceRec, DrawdownRec, EventView
from monitoring.services.evaluation import hits_for_views, judged_kinds, versions_live
from monitoring.services.events import EVENT_POSTER_ROLES
from monitoring.services.rules import rules_ensure_defaults
from monitoring.signals import alerts_raised

if TYPE_CHECKING:
    from accounts.models import User

# Placeholder ids of the hypothetical rows the rules see: never a real row's.
CHECK_LOAN_NO = "(drawdown check)"
CHECK_ROW = -1
ORDER = {CheckDecision.APPROVE: 0, CheckDecision.REVIEW: 1, CheckDecision.DECLINE: 2}


def _reason(code: str, decision: str, **detail: Any) -> dict[str, Any]:
    return {"code": code, "decision": decision, "detail": detail}


def _clean(amount: Any, term_months: Any, purpose: Any) -> tuple[Decimal, int]:
    bad: list[str] = []
    try:
        money = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        money = Decimal(0)
    if not money.is_finite() or money <= 0 or money != money.quantize(Decimal("0.01")):
        bad.append("amount")
    try:
        term = int(term_months)
    except (TypeError, ValueError):
        term = 0
    if not 1 <= term <= caps.MAX_TERM_MONTHS:
        bad.append("term_months")
    if purpose not in Purpose.values:
        bad.append("purpose")
    if bad:
        raise CheckInvalid(fields=", ".join(bad))
    return money, term


@transaction.atomic(durable=True)
def drawdown_check(
    *,
    actor: User | None,
    customer_no: str,
    amount: Any,
    term_months: Any,
    purpose: str,
    device_id: str = "",
    card_no: str = "",
) -> DrawdownCheck:
    """Answer whether a drawdown may go ahead (see the module doc) and record the answer.

    Nothing of the book changes. Raises CheckNotAllowed for a login other than the service
    account or an administrator, CheckInvalid for an amount, term or purpose that is not
    valid, UnknownBorrower.
    """
    if actor is not None and not (actor.is_active and actor.role in EVENT_POSTER_ROLES):
        raise CheckNotAllowed()
    money, term = _clean(amount, term_months, purpose)
    found = CHECKED.rows(customer_no=customer_no)
    if not found:
        raise UnknownBorrower(customer_no=customer_no)
    row = found[0]
    borrower_id: int = row["pk"]
    # The line as read, in memory (its `available` is the model's own rule).
    line = CreditLine(
        borrower_id=borrower_id,
        status=row["line__status"],
        credit_limit=row["line__credit_limit"],
        used=row["line__used"],
        oldest_unpaid_due=row["line__oldest_unpaid_due"],
    )
    now = timezone.now()
    dpd = days_past_due(line.oldest_unpaid_due, timezone.localdate(now))
    reasons: list[dict[str, Any]] = []
    if line.status != LineStatus.ACTIVE:
        reasons.append(_reason(f"line_{line.status}", CheckDecision.DECLINE))
    if dpd > 0:
        reasons.append(_reason("past_due", CheckDecision.DECLINE, dpd=dpd))
    if money > line.available:
        reasons.append(
            _reason("over_available", CheckDecision.DECLINE, available=str(line.available))
        )
    score: int | None = row["acting_score"]
    reasons += _scenario_reasons(purpose, money, term, line.credit_limit, score)
    hits = _rule_hits(borrower_id, money, device_id, card_no, now)
    for hit in hits:
        severe = hit["severity"] >= Severity.CRITICAL
        decision = CheckDecision.DECLINE if severe else CheckDecision.REVIEW
        reasons.append(_reason(f"rule_{hit['kind']}", decision, severity=hit["severity"]))
    decision = max(
        (r["decision"] for r in reasons), key=lambda d: ORDER[d], default=CheckDecision.APPROVE
    )
    check = DrawdownCheck.objects.create(
        borrower_id=borrower_id,
        amount=money,
        term_months=term,
        purpose=purpose,
        device_id=(device_id or "")[:64],
        card_last4=(card_no or "")[-4:],
        decision=decision,
        reasons=reasons,
        rule_hits=hits,
        line_status=line.status,
        available=line.available,
        dpd=dpd,
        score=score,
        checked_at=now,
        requested_by=actor,
    )
    if decision == CheckDecision.REVIEW:
        check.alert = _review_alert(check, hits)
        check.save(update_fields=["alert"])
    return check


# The borrower, their line and their acting score in one read, precompiled (a check is on the
# lending core's payout path: every millisecond counts). A borrower without a line is unknown.
CHECKED = Prepared(
    lambda customer_no: (
        Borrower.objects.filter(customer_no=customer_no, line__isnull=False)
        .annotate(
            acting_score=Subquery(
                Score.objects.filter(borrower_id=OuterRef("pk"), acting=True)
                .order_by("-scored_at")
                .values("total")[:1]
            )
        )
        .order_by("pk")
        .values(
            "pk",
            "line__status",
            "line__credit_limit",
            "line__used",
            "line__oldest_unpaid_due",
            "acting_score",
        )[:1]
    ),
    {"customer_no": "str"},
)


def _scenario_reasons(
    purpose: str, amount: Decimal, term: int, limit: Decimal, score: int | None
) -> list[dict[str, Any]]:
    """What the policy in force tolerates for this purpose (nothing when there is no policy
    or it names no scenario for the purpose)."""
    policy = policy_document_in_force()
    if policy is None:
        return []
    try:
        scenario = _policy_rules(*policy).scenarios.get(purpose)
    except PolicyInvalid:
        return []
    if scenario is None:
        return []
    found = []
    if term > scenario.max_term_months:
        found.append(
            _reason("term_over_scenario", CheckDecision.DECLINE, max=scenario.max_term_months)
        )
    if amount > scenario.max_share_of_limit * limit:
        found.append(
            _reason(
                "share_over_scenario",
                CheckDecision.REVIEW,
                max_share=str(scenario.max_share_of_limit),
            )
        )
    if scenario.min_score > 0 and (score is None or score < scenario.min_score):
        found.append(
            _reason("score_below_scenario", CheckDecision.REVIEW, min_score=scenario.min_score)
        )
    return found


# The policy document in force, read and validated once per process while it stays the same
# (the policy's row is read on every check; only the parsing is saved).
_parsed: dict[int, tuple[Any, PolicyRules]] = {}


def _policy_rules(pk: int, document: Any) -> PolicyRules:
    cached = _parsed.get(pk)
    if cached is not None and cached[0] == document:
        return cached[1]
    parsed = policy_rules(document)  # PolicyInvalid passes through, nothing kept
    _parsed.clear()  # one policy is in force at a time
    _parsed[pk] = (document, parsed)
    return parsed


def _rule_hits(
    borrower_id: int, amount: Decimal, device_id: str, card_no: str, now: Any
) -> list[dict[str, Any]]:
    """The live rules' hits on the drawdown as if it were paid out now (not recorded)."""
    versions = [v for v in versions_live() if EventKind.DRAWDOWN in judged_kinds(v)]
    view = EventView(
        pk=None,
        event_id="drawdown-check",
        kind=EventKind.DRAWDOWN,
        borrower_id=borrower_id,
        occurred_at=now,
        amount=amount,
        loan_no=CHECK_LOAN_NO,
        drawdown_id=CHECK_ROW,
    )

    def amend(histories: dict[int, BorrowerHistory]) -> None:
        history = histories.get(borrower_id)
        if history is None:
            return
        card = next((c for c in history.cards.values() if c.card_no == card_no), None)
        if card is None and card_no:
            card = CardRec(CHECK_ROW, card_no, now)
            history.cards[CHECK_ROW] = card
        device = next((d for d in history.devices.values() if d.device_id == device_id), None)
        if device is None and device_id:
            device = DeviceRec(CHECK_ROW, device_id, now)
            history.devices[CHECK_ROW] = device
        history.drawdowns.append(
            DrawdownRec(
                pk=CHECK_ROW,
                loan_no=CHECK_LOAN_NO,
                amount=amount,
                at=now,
                bank_account_id=card.pk if card else CHECK_ROW,
                device_pk=device.pk if device else None,
            )
        )
        history.used_now += amount

    found = hits_for_views(views=[view], versions=versions, amend=amend)
    return [
        {
            "kind": h.hit.kind,
            "version": h.version.version,
            "severity": h.severity,
            "category": h.category,
            "evidence": h.hit.evidence,
        }
        for h in found
    ]


def _review_alert(check: DrawdownCheck, hits: list[dict[str, Any]]) -> Alert | None:
    """The alert that sends a review to the case queues (a fraud case when a fraud rule
    fired, else credit)."""
    version = RuleVersion.objects.filter(
        rule__kind=RuleKind.DRAWDOWN_CHECK_REVIEW, status="active"
    ).first()
    if version is None:
        rules_ensure_defaults()
        version = RuleVersion.objects.filter(
            rule__kind=RuleKind.DRAWDOWN_CHECK_REVIEW, status="active"
        ).first()
    if version is None:  # the rule was switched off: the answer stands, no case
        return None
    fraud = any(h["category"] == AlertCategory.FRAUD for h in hits)
    alert = Alert.objects.create(
        borrower_id=check.borrower_id,
        rule_version=version,
        category=AlertCategory.FRAUD if fraud else AlertCategory.CREDIT,
        severity=max([version.severity, *(h["severity"] for h in hits)]),
        evidence={
            "drawdown_check": check.pk,
            "amount": str(check.amount),
            "purpose": check.purpose,
            "reasons": [r["code"] for r in check.reasons],
        },
        occurred_at=check.checked_at,
        raised_at=check.checked_at,
        dedupe_key=f"{RuleKind.DRAWDOWN_CHECK_REVIEW}:{check.pk}",
    )
    alert_ids = [alert.pk]
    transaction.on_commit(lambda: alerts_raised.send(sender=Alert, alert_ids=alert_ids))
    return alert


__all__ = ["drawdown_check"]
