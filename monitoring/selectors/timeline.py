"""One borrower's timeline: everything that happened to them, newest first, a page at a time.

Monitoring is the app that may read every other (lending, decisions, its own alerts and cases,
the audit log), so the timeline is assembled here and pulled into lending's borrower page by
URL. Each source is one query for one page, whatever the history:

1. every source selected by the kind filter fetches at most `size + 1` rows strictly after
   the cursor in the timeline's order (time, then the source's rank, then its id, all
   descending), on its (borrower, time) index;
2. the rows become `Entry`s (a typed, display-ready record), merged by that order;
3. the first `size` make the page; the last one's key is the next page's cursor.

So a page costs one query per source (about a dozen) and never a COUNT or an OFFSET, for a
borrower with ten events or ten thousand.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db.models import F, Q, Window
from django.db.models.functions import Lag
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.selectors import audit_trail_for_borrower
from decisions.models import LimitDecision, Score
from decisions.policy import DECISION_SENTENCES
from lending.models import BankAccount, Device, Drawdown, Instalment, Repayment, TransferOut
from lending.templatetags.book import cny
from monitoring.choices import CaseStatus, EventKind
from monitoring.models import Alert, Case, Event
from monitoring.selectors.audit_sentences import audit_sentence

if TYPE_CHECKING:
    from accounts.models import User

PAGE_SIZE = 30
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The kinds an analyst filters by (the chips), in the order the chips show.
KINDS: dict[str, Any] = {
    "drawdown": gettext_lazy("Drawdowns"),
    "repayment": gettext_lazy("Repayments"),
    "missed": gettext_lazy("Missed due dates"),
    "transfer": gettext_lazy("Transfers out"),
    "alert": gettext_lazy("Alerts"),
    "case": gettext_lazy("Cases"),
    "check": gettext_lazy("Drawdown checks"),
    "score": gettext_lazy("Scores"),
    "limit": gettext_lazy("Limit changes"),
    "login": gettext_lazy("Logins"),
    "device": gettext_lazy("Devices"),
    "bank_account": gettext_lazy("Bank accounts"),
    "reveal": gettext_lazy("Reveals"),
    "change": gettext_lazy("Other changes"),
}

# Audit actions shown by a typed source of their own (the row itself says more than its audit
# row): left out of the audit source so nothing appears twice.
_AUDIT_SHOWN_ELSEWHERE = (
    "drawdown.created",
    "repayment.recorded",
    "transfer_out.recorded",
    "device.added",
    "bank_account.added",
)
_AUDIT_KIND_ACTIONS: dict[str, tuple[str, ...]] = {
    "reveal": ("pii.revealed", "pii.reveal_refused"),
    "limit": ("line.limit_changed",),
}


@dataclass(frozen=True)
class Cursor:
    """A position in the timeline: entries strictly older than this come next."""

    at: datetime
    rank: int
    id: int

    def encode(self) -> str:
        # Whole microseconds since the epoch, computed exactly (a float would round them).
        micros = (self.at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.rank}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """The cursor in `text`, or None when it is not one (a tampered link: first page)."""
        parts = text.split(".")
        if len(parts) != 3 or not all(part.isdigit() and len(part) <= 18 for part in parts):
            return None
        micros, rank, pk = (int(part) for part in parts)
        try:
            at = (_EPOCH + timedelta(microseconds=micros)).astimezone(
                timezone.get_current_timezone()
            )
        except (OverflowError, OSError, ValueError):
            return None
        return cls(at=at, rank=rank, id=pk)


@dataclass
class Entry:
    """One thing on the timeline, ready to show: when, what kind, a sentence, an amount, a
    badge (text and its CSS tone), and a link to the loan, alert or case it is about."""

    at: datetime
    kind: str
    rank: int
    id: int
    text: str
    amount: Decimal | None = None
    badge: str = ""
    tone: str = "neutral"
    url: str = ""
    detail: str = ""

    @property
    def key(self) -> tuple[datetime, int, int]:
        return (self.at, self.rank, self.id)

    @property
    def kind_label(self) -> str:
        return str(KINDS.get(self.kind, self.kind))


@dataclass
class TimelinePage:
    """A page of entries (newest first) and the cursor of the next (older) page."""

    entries: list[Entry]
    kinds: list[str]
    next_cursor: str = ""
    first: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _after(cursor: Cursor | None, rank: int, column: str) -> Q:
    """Rows of a source with `rank` that come strictly after `cursor` (descending order)."""
    if cursor is None:
        return Q()
    if rank < cursor.rank:
        return Q(**{f"{column}__lte": cursor.at})
    if rank > cursor.rank:
        return Q(**{f"{column}__lt": cursor.at})
    return Q(**{f"{column}__lt": cursor.at}) | Q(**{column: cursor.at, "pk__lt": cursor.id})


def _link(name: str, *args: Any) -> str:
    """A page's URL if that page exists yet (alert and case pages are being built)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _loan_anchor(borrower_id: int, loan_no: str) -> str:
    return reverse("lending:borrower-detail", args=[borrower_id]) + f"#loan-{loan_no}"


def _start_of_day_after(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


# --- sources: each returns at most `limit` entries after the cursor -------------------------


@dataclass(frozen=True)
class Source:
    """Where entries of some kinds come from; `rank` breaks ties between sources."""

    rank: int
    kinds: tuple[str, ...]
    fetch: Callable[[int, Cursor | None, int, frozenset[str]], list[Entry]]


def _drawdowns(
    borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]
) -> list[Entry]:
    rank = 10
    rows = Drawdown.objects.filter(_after(cursor, rank, "disbursed_at"), borrower_id=borrower_id)
    return [
        Entry(
            at=d.disbursed_at,
            kind="drawdown",
            rank=rank,
            id=d.pk,
            text=_("Drew %(amount)s over %(months)s months (loan %(loan)s, %(purpose)s)")
            % {
                "amount": cny(d.amount),
                "months": d.term_months,
                "loan": d.loan_no,
                "purpose": d.get_purpose_display(),
            },
            amount=d.amount,
            badge=d.get_status_display(),
            url=_loan_anchor(borrower_id, d.loan_no),
        )
        for d in rows.order_by("-disbursed_at", "-id")[:limit]
    ]


def _repayments(
    borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]
) -> list[Entry]:
    rank = 20
    rows = (
        Repayment.objects.filter(_after(cursor, rank, "paid_at"), borrower_id=borrower_id)
        .select_related("drawdown", "bank_account")
        .order_by("-paid_at", "-id")[:limit]
    )
    entries = []
    for r in rows:
        foreign = r.bank_account is not None and r.bank_account.borrower_id != borrower_id
        entries.append(
            Entry(
                at=r.paid_at,
                kind="repayment",
                rank=rank,
                id=r.pk,
                text=_("Repaid %(amount)s on loan %(loan)s")
                % {"amount": cny(r.amount), "loan": r.drawdown.loan_no},
                amount=r.amount,
                badge=_("From another person's account") if foreign else "",
                tone="warn" if foreign else "neutral",
                url=_loan_anchor(borrower_id, r.drawdown.loan_no),
            )
        )
    return entries


def _missed(borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]) -> list[Entry]:
    """Instalments not paid off by the end of their due date: missed at the next midnight."""
    rank = 30
    today = timezone.localdate()
    # A due date is missed at the midnight after it; the cursor is compared exactly in Python
    # below, and this date bound keeps the query on (drawdown, due date) rows that can qualify.
    rows = Instalment.objects.filter(
        # Not paid off, or paid off on a later (Shanghai) day than it was due: missed.
        Q(paid_off_at__isnull=True) | Q(paid_off_at__date__gt=F("due_date")),
        drawdown__borrower_id=borrower_id,
        due_date__lt=today,
    ).select_related("drawdown")
    if cursor is not None:
        # A due date is missed at the midnight after it: those before the cursor's day may
        # qualify; the exact comparison with the cursor is made below.
        rows = rows.filter(due_date__lt=timezone.localdate(cursor.at))
    # Instalments missed on one day are few (one per loan); the margin keeps the exact
    # cursor filter below from leaving a page short.
    entries = []
    for inst in rows.order_by("-due_date", "-id")[: limit + 50]:
        paid_late = inst.paid_off_at is not None
        entry = Entry(
            at=_start_of_day_after(inst.due_date),
            kind="missed",
            rank=rank,
            id=inst.pk,
            text=_("Instalment %(seq)s of loan %(loan)s was not paid by its due date %(due)s")
            % {"seq": inst.seq, "loan": inst.drawdown.loan_no, "due": inst.due_date.isoformat()},
            amount=inst.principal_due + inst.interest_due,
            badge=(
                _("Paid %(days)s days late")
                % {"days": (timezone.localdate(inst.paid_off_at) - inst.due_date).days}
                if inst.paid_off_at is not None
                else _("Unpaid")
            ),
            tone="warn" if paid_late else "bad",
            url=_loan_anchor(borrower_id, inst.drawdown.loan_no),
        )
        if cursor is None or entry.key < (cursor.at, cursor.rank, cursor.id):
            entries.append(entry)
    entries.sort(key=lambda e: e.key, reverse=True)
    return entries[:limit]


def _transfers(
    borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]
) -> list[Entry]:
    rank = 40
    rows = TransferOut.objects.filter(_after(cursor, rank, "occurred_at"), borrower_id=borrower_id)
    return [
        Entry(
            at=t.occurred_at,
            kind="transfer",
            rank=rank,
            id=t.pk,
            text=_("Transferred %(amount)s out to %(to)s")
            % {"amount": cny(t.amount), "to": t.counterparty_name},
            amount=t.amount,
            badge=_("Another lender") if t.counterparty_is_lender else "",
            tone="warn" if t.counterparty_is_lender else "neutral",
        )
        for t in rows.order_by("-occurred_at", "-id")[:limit]
    ]


def _logins(borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]) -> list[Entry]:
    rank = 50
    rows = Event.objects.filter(
        _after(cursor, rank, "occurred_at"), borrower_id=borrower_id, kind=EventKind.LOGIN
    ).only("pk", "occurred_at", "payload")
    entries = []
    for e in rows.order_by("-occurred_at", "-id")[:limit]:
        payload = e.payload if isinstance(e.payload, dict) else {}
        device = str(payload.get("device_id") or "")[:64]
        ip = str(payload.get("ip_address") or payload.get("ip") or "")[:45]
        text = _("Logged in")
        if device or ip:
            text = _("Logged in from %(where)s") % {"where": " ".join(p for p in (device, ip) if p)}
        entries.append(Entry(at=e.occurred_at, kind="login", rank=rank, id=e.pk, text=text))
    return entries


def _devices(
    borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]
) -> list[Entry]:
    rank = 60
    rows = Device.objects.filter(_after(cursor, rank, "first_seen_at"), borrower_id=borrower_id)
    return [
        Entry(
            at=d.first_seen_at,
            kind="device",
            rank=rank,
            id=d.pk,
            text=_("New device %(device)s (%(platform)s)")
            % {"device": d.device_id, "platform": d.platform or "—"},
        )
        for d in rows.order_by("-first_seen_at", "-id")[:limit]
    ]


def _bank_accounts(
    borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]
) -> list[Entry]:
    from accounts.masking import mask_card

    rank = 70
    rows = BankAccount.objects.filter(
        _after(cursor, rank, "first_seen_at"), borrower_id=borrower_id
    )
    return [
        Entry(
            at=b.first_seen_at,
            kind="bank_account",
            rank=rank,
            id=b.pk,
            text=_("New bank account %(bank)s %(card)s")
            % {"bank": b.bank_name, "card": mask_card(b.card_no)},
        )
        for b in rows.order_by("-first_seen_at", "-id")[:limit]
    ]


def _scores(borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]) -> list[Entry]:
    """Acting scores that differ from the one before (the nightly re-score of an unchanged
    borrower would otherwise bury everything else)."""
    rank = 80
    # The window looks back in time only, and the cursor only removes newer rows, so the
    # previous score is right on every page.
    rows = (
        Score.objects.filter(borrower_id=borrower_id, acting=True)
        .select_related("model")
        .annotate(previous=Window(Lag("total"), order_by=[F("scored_at").asc(), F("id").asc()]))
        .filter(_after(cursor, rank, "scored_at"))
        .filter(Q(previous__isnull=True) | ~Q(previous=F("total")))
        .order_by("-scored_at", "-id")[:limit]
    )
    entries = []
    for s in rows:
        # Stored as reason codes (R02 ...), the most points lost first.
        reasons = ", ".join(str(code) for code in (s.reasons or [])[:4])
        previous = getattr(s, "previous", None)
        values = {"score": s.total, "model": str(s.model), "old": previous}
        text = (
            _("Score %(old)s → %(score)s (%(model)s)") % values
            if previous is not None
            else _("Scored %(score)s (%(model)s)") % values
        )
        entries.append(
            Entry(
                at=s.scored_at,
                kind="score",
                rank=rank,
                id=s.pk,
                text=text,
                detail=_("Reasons: %(codes)s") % {"codes": reasons} if reasons else "",
                tone="warn" if previous is not None and s.total < previous else "neutral",
            )
        )
    return entries


def _limit_decisions(
    borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]
) -> list[Entry]:
    """Policy reviews that changed nothing on the line (a hold, a refused change): the ones
    that did change it appear as the line's audited limit change."""
    rank = 90
    rows = LimitDecision.objects.filter(
        _after(cursor, rank, "decided_at"), borrower_id=borrower_id, applied=False
    ).order_by("-decided_at", "-id")[:limit]
    entries = []
    for d in rows:
        reasons = [str(DECISION_SENTENCES.get(code, code)) for code in (d.reasons or [])]
        entries.append(
            Entry(
                at=d.decided_at,
                kind="limit",
                rank=rank,
                id=d.pk,
                text=_("Limit policy: %(action)s at %(limit)s, not applied")
                % {"action": d.get_action_display(), "limit": cny(d.new_limit)},
                detail="; ".join(reasons),
            )
        )
    return entries


def _alerts(borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]) -> list[Entry]:
    rank = 100
    rows = (
        Alert.objects.filter(_after(cursor, rank, "occurred_at"), borrower_id=borrower_id)
        .select_related("rule_version__rule")
        .order_by("-occurred_at", "-id")[:limit]
    )
    return [
        Entry(
            at=a.occurred_at,
            kind="alert",
            rank=rank,
            id=a.pk,
            text=_("Alert: %(rule)s (version %(version)s)")
            % {"rule": a.rule_version.rule.get_kind_display(), "version": a.rule_version.version},
            badge=a.get_severity_display(),
            tone="bad" if a.severity >= 3 else "warn",
            url=_link("monitoring:alert-detail", a.pk),
        )
        for a in rows
    ]


def _cases(borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]) -> list[Entry]:
    rank = 110
    rows = (
        Case.objects.filter(_after(cursor, rank, "opened_at"), borrower_id=borrower_id)
        .select_related("queue")
        .order_by("-opened_at", "-id")[:limit]
    )
    entries = []
    for c in rows:
        text = _("Case #%(id)s opened in the %(queue)s queue") % {
            "id": c.pk,
            "queue": c.queue.get_kind_display(),
        }
        if c.disposition:
            text += " · " + _("resolved: %(disposition)s") % {
                "disposition": c.get_disposition_display()
            }
        entries.append(
            Entry(
                at=c.opened_at,
                kind="case",
                rank=rank,
                id=c.pk,
                text=text,
                badge=c.get_status_display(),
                tone="neutral" if c.disposition else "warn",
                url=_link("monitoring:case-detail", c.pk),
            )
        )
    return entries


# The drawdown check's model is being built beside this (issue 8); it joins the timeline as
# soon as it exists, on the time field it has.
_CHECK_TIME_FIELDS = ("checked_at", "decided_at", "created_at", "requested_at", "at")


def _drawdown_check_model() -> tuple[Any, str] | None:
    name = "DrawdownCheck"  # a variable: the model may not exist yet
    try:
        model = apps.get_model("monitoring", name)
    except LookupError:
        return None
    names = {f.name for f in model._meta.get_fields()}
    if "borrower" not in names:
        return None
    for name in _CHECK_TIME_FIELDS:
        if name in names:
            return model, name
    return None


def _checks(borrower_id: int, cursor: Cursor | None, limit: int, _k: frozenset[str]) -> list[Entry]:
    rank = 120
    found = _drawdown_check_model()
    if found is None:
        return []
    model, at_field = found
    rows = model.objects.filter(_after(cursor, rank, at_field), borrower_id=borrower_id).order_by(
        f"-{at_field}", "-id"
    )[:limit]
    entries = []
    for c in rows:
        outcome = getattr(c, "get_outcome_display", None) or getattr(
            c, "get_decision_display", None
        )
        label = str(outcome()) if outcome else str(getattr(c, "outcome", ""))
        codes = getattr(c, "reason_codes", None) or getattr(c, "reasons", None) or []
        answer = getattr(c, "outcome", None) or getattr(c, "decision", "")
        entries.append(
            Entry(
                at=getattr(c, at_field),
                kind="check",
                rank=rank,
                id=c.pk,
                text=_("Drawdown check for %(amount)s: %(outcome)s")
                % {"amount": cny(getattr(c, "amount", None)), "outcome": label},
                amount=getattr(c, "amount", None),
                detail=", ".join(str(code) for code in codes) if isinstance(codes, list) else "",
                badge=label,
                tone={"decline": "bad", "review": "warn"}.get(str(answer), "neutral"),
                url=_link("monitoring:drawdown-check-detail", c.pk),
            )
        )
    return entries


def _audit_source_for(
    user: User,
) -> Callable[[int, Cursor | None, int, frozenset[str]], list[Entry]]:
    def fetch(
        borrower_id: int, cursor: Cursor | None, limit: int, kinds: frozenset[str]
    ) -> list[Entry]:
        rank = 130
        events = audit_trail_for_borrower(user=user, borrower_id=borrower_id).exclude(
            action__in=_AUDIT_SHOWN_ELSEWHERE
        )
        typed = [a for kind in _AUDIT_KIND_ACTIONS.values() for a in kind]
        wanted = Q()
        for kind, actions in _AUDIT_KIND_ACTIONS.items():
            if kind in kinds:
                wanted |= Q(action__in=actions)
        if "change" in kinds:
            wanted |= ~Q(action__in=typed)
        if not wanted:
            return []
        rows = events.filter(wanted, _after(cursor, rank, "at")).order_by("-at", "-id")[:limit]
        entries = []
        for e in rows:
            kind = next(
                (k for k, acts in _AUDIT_KIND_ACTIONS.items() if e.action in acts), "change"
            )
            entries.append(
                Entry(
                    at=e.at,
                    kind=kind,
                    rank=rank,
                    id=e.pk,
                    text=audit_sentence(e),
                    detail=e.note if kind == "change" else "",
                    tone="warn" if e.action == "pii.reveal_refused" else "neutral",
                )
            )
        return entries

    return fetch


def _sources(user: User) -> list[Source]:
    return [
        Source(10, ("drawdown",), _drawdowns),
        Source(20, ("repayment",), _repayments),
        Source(30, ("missed",), _missed),
        Source(40, ("transfer",), _transfers),
        Source(50, ("login",), _logins),
        Source(60, ("device",), _devices),
        Source(70, ("bank_account",), _bank_accounts),
        Source(80, ("score",), _scores),
        Source(90, ("limit",), _limit_decisions),
        Source(100, ("alert",), _alerts),
        Source(110, ("case",), _cases),
        Source(120, ("check",), _checks),
        Source(130, ("reveal", "limit", "change"), _audit_source_for(user)),
    ]


def parse_kinds(values: Iterable[str]) -> list[str]:
    """The known kinds among `values`, in the chips' order; none means every kind."""
    wanted = {v for v in values if v in KINDS}
    return [k for k in KINDS if k in wanted]


def borrower_timeline(
    *,
    user: User,
    borrower_id: int,
    kinds: Sequence[str] = (),
    cursor: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> TimelinePage:
    """A page of one borrower's timeline for risk staff, newest first, of the given kinds.

    Risk staff only: anyone else gets an empty page (the view refuses them first; this holds
    for any other caller). Unknown kinds are ignored; no kind means all of them. One query
    per selected source, whatever the borrower's history (module docstring).
    """
    selected = frozenset(parse_kinds(kinds) or KINDS)
    if not user.is_authenticated or not user.is_active or not user.is_risk_staff:
        return TimelinePage(entries=[], kinds=sorted(selected))
    streams = [
        source.fetch(borrower_id, cursor, size + 1, selected)
        for source in _sources(user)
        if selected.intersection(source.kinds)
    ]
    merged = list(
        heapq.merge(*streams, key=lambda e: e.key, reverse=True)  # each stream is descending
    )
    page = merged[:size]
    next_cursor = ""
    if len(merged) > size and page:
        last = page[-1]
        next_cursor = Cursor(at=last.at, rank=last.rank, id=last.id).encode()
    return TimelinePage(
        entries=page,
        kinds=[k for k in KINDS if k in selected],
        next_cursor=next_cursor,
        first=cursor is None,
    )


def open_case_count(*, user: User, borrower_id: int) -> int:
    """How many of the borrower's cases are not resolved (risk staff; 0 for anyone else)."""
    if not user.is_authenticated or not user.is_active or not user.is_risk_staff:
        return 0
    return Case.objects.filter(borrower_id=borrower_id).exclude(status=CaseStatus.RESOLVED).count()
