"""One borrower's timeline: everything that happened to them, newest first, a page at a time.

Monitoring is the app that may read every other (lending, decisions, its own alerts and cases,
the audit log), so the timeline is assembled here and pulled into lending's borrower page by
URL. A page is read in two steps, whatever the history:

1. one UNION ALL query of keys (time, source rank, id): every keyed source selected by the
   kind filter gives its newest `size + 1` rows strictly after the cursor in the timeline's
   order (time, then rank, then id, all descending) on its (borrower, time) index, and the
   union keeps the newest `size + 1` of them; the two sources whose time or filter is computed
   (missed due dates, changed scores) read their `size + 1` rows beside it;
2. only the rows that make the page are then read in full, one query per source present on
   it, and become `Entry`s (a typed, display-ready record).

The first `size` keys make the page; the last one's key is the next page's cursor. So a page
costs at most 3 + (sources on the page) queries, never a COUNT or an OFFSET, and builds only
the entries it shows, for a borrower with ten events or ten thousand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import F, IntegerField, Q, QuerySet, Value, Window
from django.db.models.functions import Lag
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.selectors import audit_trail_for_borrower
from decisions.models import LimitDecision, Score
from decisions.policy import DECISION_SENTENCES
from lending.models import BankAccount, Device, Drawdown, Instalment, Repayment, TransferOut
from lending.templatetags.book import cny
from monitoring.choices import CaseStatus, EventKind
from monitoring.models import Alert, Case, DrawdownCheck, Event
from monitoring.selectors.audit_sentences import audit_sentence
from monitoring.selectors.checks import reason_texts

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


# --- sources ----------------------------------------------------------------------------------
#
# A keyed source names the borrower's rows of its kinds and their time column: its newest rows
# after the cursor join one UNION ALL of (time, rank, id) keys, and only the rows that make the
# page are then read in full and turned into entries. A listed source (missed due dates,
# scores: their time or their filter is computed) reads its rows itself, at most `limit`, and
# an entry is built only for the ones on the page.

RowsFn = Callable[["User", int, frozenset[str]], "QuerySet[Any] | None"]
EntryFn = Callable[[Any, int], Entry]


@dataclass(frozen=True)
class Source:
    """Where entries of some kinds come from; `rank` breaks ties between sources."""

    rank: int
    kinds: tuple[str, ...]
    rows: RowsFn | None = None  # keyed: the borrower's rows of these kinds
    at: str = ""  # keyed: the time column
    entry: EntryFn | None = None  # keyed: one row as an entry
    related: tuple[str, ...] = ()  # keyed: what `entry` reads of related rows
    listed: Callable[[int, Cursor | None, int], list[tuple[Key, Callable[[], Entry]]]] | None = None


Key = tuple[datetime, int, int]


def _drawdown_entry(d: Drawdown, borrower_id: int) -> Entry:
    return Entry(
        at=d.disbursed_at,
        kind="drawdown",
        rank=10,
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


def _repayment_entry(r: Repayment, borrower_id: int) -> Entry:
    foreign = r.bank_account is not None and r.bank_account.borrower_id != borrower_id
    return Entry(
        at=r.paid_at,
        kind="repayment",
        rank=20,
        id=r.pk,
        text=_("Repaid %(amount)s on loan %(loan)s")
        % {"amount": cny(r.amount), "loan": r.drawdown.loan_no},
        amount=r.amount,
        badge=_("From another person's account") if foreign else "",
        tone="warn" if foreign else "neutral",
        url=_loan_anchor(borrower_id, r.drawdown.loan_no),
    )


def _missed(borrower_id: int, cursor: Cursor | None, limit: int) -> list[tuple[Key, Any]]:
    """Instalments not paid off by the end of their due date: missed at the next midnight."""
    rank = 30
    today = timezone.localdate()
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

    def entry(inst: Instalment, at: datetime) -> Entry:
        paid_late = inst.paid_off_at is not None
        return Entry(
            at=at,
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

    # Instalments missed on one day are few (one per loan); the margin keeps the exact
    # cursor filter below from leaving a page short.
    found = []
    for inst in rows.order_by("-due_date", "-id")[: limit + 50]:
        at = _start_of_day_after(inst.due_date)
        key = (at, rank, inst.pk)
        if cursor is None or key < (cursor.at, cursor.rank, cursor.id):
            found.append((key, partial(entry, inst, at)))
    found.sort(key=lambda pair: pair[0], reverse=True)
    return found[:limit]


def _transfer_entry(t: TransferOut, borrower_id: int) -> Entry:
    return Entry(
        at=t.occurred_at,
        kind="transfer",
        rank=40,
        id=t.pk,
        text=_("Transferred %(amount)s out to %(to)s")
        % {"amount": cny(t.amount), "to": t.counterparty_name},
        amount=t.amount,
        badge=_("Another lender") if t.counterparty_is_lender else "",
        tone="warn" if t.counterparty_is_lender else "neutral",
    )


def _login_entry(e: Event, borrower_id: int) -> Entry:
    payload = e.payload if isinstance(e.payload, dict) else {}
    device = str(payload.get("device_id") or "")[:64]
    ip = str(payload.get("ip_address") or payload.get("ip") or "")[:45]
    text = _("Logged in")
    if device or ip:
        text = _("Logged in from %(where)s") % {"where": " ".join(p for p in (device, ip) if p)}
    return Entry(at=e.occurred_at, kind="login", rank=50, id=e.pk, text=text)


def _device_entry(d: Device, borrower_id: int) -> Entry:
    return Entry(
        at=d.first_seen_at,
        kind="device",
        rank=60,
        id=d.pk,
        text=_("New device %(device)s (%(platform)s)")
        % {"device": d.device_id, "platform": d.platform or "—"},
    )


def _bank_account_entry(b: BankAccount, borrower_id: int) -> Entry:
    from accounts.masking import mask_card

    return Entry(
        at=b.first_seen_at,
        kind="bank_account",
        rank=70,
        id=b.pk,
        text=_("New bank account %(bank)s %(card)s")
        % {"bank": b.bank_name, "card": mask_card(b.card_no)},
    )


def _scores(borrower_id: int, cursor: Cursor | None, limit: int) -> list[tuple[Key, Any]]:
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

    def entry(s: Score) -> Entry:
        # Stored as reason codes (R02 ...), the most points lost first.
        reasons = ", ".join(str(code) for code in (s.reasons or [])[:4])
        previous = getattr(s, "previous", None)
        values = {"score": s.total, "model": str(s.model), "old": previous}
        text = (
            _("Score %(old)s → %(score)s (%(model)s)") % values
            if previous is not None
            else _("Scored %(score)s (%(model)s)") % values
        )
        return Entry(
            at=s.scored_at,
            kind="score",
            rank=rank,
            id=s.pk,
            text=text,
            detail=_("Reasons: %(codes)s") % {"codes": reasons} if reasons else "",
            tone="warn" if previous is not None and s.total < previous else "neutral",
        )

    return [((s.scored_at, rank, s.pk), partial(entry, s)) for s in rows]


def _limit_decision_entry(d: LimitDecision, borrower_id: int) -> Entry:
    """Policy reviews that changed nothing on the line (a hold, a refused change): the ones
    that did change it appear as the line's audited limit change."""
    reasons = [str(DECISION_SENTENCES.get(code, code)) for code in (d.reasons or [])]
    return Entry(
        at=d.decided_at,
        kind="limit",
        rank=90,
        id=d.pk,
        text=_("Limit policy: %(action)s at %(limit)s, not applied")
        % {"action": d.get_action_display(), "limit": cny(d.new_limit)},
        detail="; ".join(reasons),
    )


def _alert_entry(a: Alert, borrower_id: int) -> Entry:
    return Entry(
        at=a.occurred_at,
        kind="alert",
        rank=100,
        id=a.pk,
        text=_("Alert: %(rule)s (version %(version)s)")
        % {"rule": a.rule_version.rule.get_kind_display(), "version": a.rule_version.version},
        badge=a.get_severity_display(),
        tone="bad" if a.severity >= 3 else "warn",
        url=_link("monitoring:alert-detail", a.pk),
    )


def _case_entry(c: Case, borrower_id: int) -> Entry:
    text = _("Case #%(id)s opened in the %(queue)s queue") % {
        "id": c.pk,
        "queue": c.queue.get_kind_display(),
    }
    if c.disposition:
        text += " · " + _("resolved: %(disposition)s") % {
            "disposition": c.get_disposition_display()
        }
    return Entry(
        at=c.opened_at,
        kind="case",
        rank=110,
        id=c.pk,
        text=text,
        badge=c.get_status_display(),
        tone="neutral" if c.disposition else "warn",
        url=_link("monitoring:case-detail", c.pk),
    )


def _check_entry(c: DrawdownCheck, borrower_id: int) -> Entry:
    label = str(c.get_decision_display())
    return Entry(
        at=c.checked_at,
        kind="check",
        rank=120,
        id=c.pk,
        text=_("Drawdown check for %(amount)s: %(outcome)s")
        % {"amount": cny(c.amount), "outcome": label},
        amount=c.amount,
        detail="; ".join(reason_texts(c.reasons)),
        badge=label,
        tone={"decline": "bad", "review": "warn"}.get(c.decision, "neutral"),
        url=_checks_url(borrower_id),
    )


def _checks_url(borrower_id: int) -> str:
    url = _link("monitoring:drawdown-check-list")
    return f"{url}?borrower={borrower_id}" if url else ""


def _audit_rows(user: User, borrower_id: int, kinds: frozenset[str]) -> QuerySet[Any] | None:
    typed = [a for kind in _AUDIT_KIND_ACTIONS.values() for a in kind]
    wanted = Q()
    for kind, actions in _AUDIT_KIND_ACTIONS.items():
        if kind in kinds:
            wanted |= Q(action__in=actions)
    if "change" in kinds:
        wanted |= ~Q(action__in=typed)
    if not wanted:
        return None
    return (
        audit_trail_for_borrower(user=user, borrower_id=borrower_id)
        .exclude(action__in=_AUDIT_SHOWN_ELSEWHERE)
        .filter(wanted)
    )


def _audit_entry(e: Any, borrower_id: int) -> Entry:
    kind = next((k for k, acts in _AUDIT_KIND_ACTIONS.items() if e.action in acts), "change")
    return Entry(
        at=e.at,
        kind=kind,
        rank=130,
        id=e.pk,
        text=audit_sentence(e),
        detail=e.note if kind == "change" else "",
        tone="warn" if e.action == "pii.reveal_refused" else "neutral",
    )


def _of(model: Any, **conditions: Any) -> RowsFn:
    def rows(user: User, borrower_id: int, kinds: frozenset[str]) -> QuerySet[Any]:
        return model.objects.filter(borrower_id=borrower_id, **conditions)

    return rows


SOURCES: tuple[Source, ...] = (
    Source(10, ("drawdown",), _of(Drawdown), "disbursed_at", _drawdown_entry),
    Source(
        20,
        ("repayment",),
        _of(Repayment),
        "paid_at",
        _repayment_entry,
        ("drawdown", "bank_account"),
    ),
    Source(30, ("missed",), listed=_missed),
    Source(40, ("transfer",), _of(TransferOut), "occurred_at", _transfer_entry),
    Source(50, ("login",), _of(Event, kind=EventKind.LOGIN), "occurred_at", _login_entry),
    Source(60, ("device",), _of(Device), "first_seen_at", _device_entry),
    Source(70, ("bank_account",), _of(BankAccount), "first_seen_at", _bank_account_entry),
    Source(80, ("score",), listed=_scores),
    Source(90, ("limit",), _of(LimitDecision, applied=False), "decided_at", _limit_decision_entry),
    Source(100, ("alert",), _of(Alert), "occurred_at", _alert_entry, ("rule_version__rule",)),
    Source(110, ("case",), _of(Case), "opened_at", _case_entry, ("queue",)),
    Source(120, ("check",), _of(DrawdownCheck), "checked_at", _check_entry),
    Source(130, ("reveal", "limit", "change"), _audit_rows, "at", _audit_entry, ("actor",)),
)


def _no_entry(row: Any, borrower_id: int) -> Entry:
    raise TypeError("a keyed source without an entry builder")  # a wiring error of SOURCES


def _union(
    branches: list[tuple[Source, QuerySet[Any]]], cursor: Cursor | None, limit: int
) -> QuerySet[Any] | None:
    """The newest `limit` keys after the cursor among the keyed sources, as one query.

    Each branch takes its own newest rows on its (borrower, time) index (a LIMIT inside, as a
    key subquery: SQLite allows no LIMIT on a compound's member), the union the newest of
    those."""
    parts = []
    for source, rows in branches:
        newest = (
            rows.filter(_after(cursor, source.rank, source.at))
            .order_by(f"-{source.at}", "-id")
            .values("pk")[:limit]
        )
        parts.append(
            rows.model.objects.filter(pk__in=newest)
            .annotate(
                t_at=F(source.at),
                t_rank=Value(source.rank, output_field=IntegerField()),
                t_id=F("pk"),
            )
            .values_list("t_at", "t_rank", "t_id")
            .order_by()
        )
    if not parts:
        return None
    union = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return union.order_by("-t_at", "-t_rank", "-t_id")[:limit]


# Building the union's SQL through the ORM costs more than running it (a dozen branches, each
# with a subquery). Its shape depends only on the kinds, the page size and where the cursor's
# rank falls, so it is built once per process for each, with stand-in values for the borrower
# and the cursor, whose places among the parameters are then filled with the real ones.
_STAND_IN_BORROWER = 987_654_321_987
_STAND_IN_ID = 987_654_321_123
_STAND_IN_AT = datetime(2001, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC)
_union_sql: dict[tuple[Any, ...], tuple[str, tuple[Any, ...], dict[int, str]]] = {}


def _union_prepared(
    user: User, selected: frozenset[str], cursor: Cursor | None, limit: int
) -> tuple[str, tuple[Any, ...], dict[int, str]] | None:
    """The union's SQL, its parameters and which of them are the borrower's id ("borrower")
    or the cursor's time and id ("at", "id"); None when there is nothing to union or the
    stand-ins could not all be found (the caller then builds the query as usual)."""
    shape = (selected, None if cursor is None else cursor.rank, limit, connection.vendor)
    found = _union_sql.get(shape)
    if found is not None:
        return found
    stand_in = None if cursor is None else Cursor(_STAND_IN_AT, cursor.rank, _STAND_IN_ID)
    branches = _branches(user, _STAND_IN_BORROWER, selected)
    union = _union(branches, stand_in, limit)
    if union is None:
        return None
    sql, params = union.query.sql_with_params()
    at = connection.ops.adapt_datetimefield_value(_STAND_IN_AT)
    places: dict[int, str] = {}
    for index, value in enumerate(params):
        if isinstance(value, bool):
            continue
        if value == _STAND_IN_BORROWER:
            places[index] = "borrower"
        elif stand_in is not None and value == _STAND_IN_ID:
            places[index] = "id"
        elif stand_in is not None and value == at:
            places[index] = "at"
    if "borrower" not in places.values() or (stand_in is not None and "at" not in places.values()):
        return None
    found = (sql, tuple(params), places)
    _union_sql[shape] = found
    return found


def _keys(
    user: User,
    branches: list[tuple[Source, QuerySet[Any]]],
    borrower_id: int,
    selected: frozenset[str],
    cursor: Cursor | None,
    limit: int,
) -> list[Key]:
    """The newest `limit` keys after the cursor among the keyed sources: one query."""
    if not branches:
        return []
    prepared = _union_prepared(user, selected, cursor, limit)
    if prepared is None:
        union = _union(branches, cursor, limit)
        return list(union) if union is not None else []
    sql, template, places = prepared
    real = {
        "borrower": borrower_id,
        "at": connection.ops.adapt_datetimefield_value(cursor.at) if cursor else None,
        "id": cursor.id if cursor else None,
    }
    params = [real[places[i]] if i in places else value for i, value in enumerate(template)]
    with connection.cursor() as db:
        db.execute(sql, params)
        rows = db.fetchall()
    return [(_aware(at), int(rank), int(pk)) for at, rank, pk in rows]


def _aware(value: Any) -> datetime:
    """A key's time as the ORM gives it (SQLite hands raw SQL its text, naive UTC)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        raise ValueError("a timeline key without a time")
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _branches(
    user: User, borrower_id: int, selected: frozenset[str]
) -> list[tuple[Source, QuerySet[Any]]]:
    """The keyed sources selected by the kinds, each with the borrower's rows."""
    found = []
    for source in SOURCES:
        if source.listed is not None or not selected.intersection(source.kinds):
            continue
        rows = source.rows(user, borrower_id, selected) if source.rows else None
        if rows is not None:
            found.append((source, rows))
    return found


def _details(
    branches: list[tuple[Source, QuerySet[Any]]], keys: list[Key], borrower_id: int
) -> dict[tuple[int, int], Entry]:
    """The entries of the page's keyed rows: one query per source on the page."""
    wanted: dict[int, list[int]] = {}
    for _at, rank, pk in keys:
        wanted.setdefault(rank, []).append(pk)
    entries = {}
    for source, rows in branches:
        pks = wanted.get(source.rank)
        if not pks:
            continue
        build = source.entry or _no_entry
        for row in rows.filter(pk__in=pks).select_related(*source.related):
            entries[(source.rank, row.pk)] = build(row, borrower_id)
    return entries


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
    limit = size + 1
    candidates: list[tuple[Key, Callable[[], Entry] | None]] = []
    for source in SOURCES:
        if source.listed is not None and selected.intersection(source.kinds):
            candidates += source.listed(borrower_id, cursor, limit)
    branches = _branches(user, borrower_id, selected)
    keys = _keys(user, branches, borrower_id, selected, cursor, limit)
    candidates += [(key, None) for key in keys]
    candidates.sort(key=lambda pair: pair[0], reverse=True)
    on_page = candidates[:size]
    details = _details(branches, [key for key, build in on_page if build is None], borrower_id)
    page = []
    for (_at, rank, pk), build in on_page:
        entry = build() if build is not None else details.get((rank, pk))
        if entry is not None:  # a keyed row gone between the two reads is left out
            page.append(entry)
    next_cursor = ""
    if len(candidates) > size and on_page:
        at, rank, pk = on_page[-1][0]
        next_cursor = Cursor(at=at, rank=rank, id=pk).encode()
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
