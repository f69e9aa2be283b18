"""Reads of cases, queues and alerts for the case pages, the API and the team view.

Access: every active risk staff member sees every case and alert (the queues are shared
work); anyone else sees none. The services re-check who may act on a case.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AuditEvent
from lending.choices import DocumentKind, LineStatusCode
from monitoring.choices import CaseStatus, Disposition
from monitoring.filters import near_breach_threshold
from monitoring.models import Alert, Case, CaseComment, CaseEvidence, Queue


def _is_staff(user: Any) -> bool:
    return bool(
        user is not None and user.is_authenticated and getattr(user, "is_risk_staff", False)
    )


def case_visible_to(*, user: Any) -> QuerySet[Case]:
    """Cases a login may see: all for active risk staff, none for anyone else."""
    if not _is_staff(user):
        return Case.objects.none()
    return Case.objects.select_related("queue", "borrower", "borrower__line", "assignee")


def alert_visible_to(*, user: Any) -> QuerySet[Alert]:
    """Alerts a login may see: all for active risk staff, none for anyone else."""
    if not _is_staff(user):
        return Alert.objects.none()
    return Alert.objects.select_related("borrower", "rule_version", "rule_version__rule", "case")


def queue_visible_to(*, user: Any) -> QuerySet[Queue]:
    if not _is_staff(user):
        return Queue.objects.none()
    return Queue.objects.all()


def sla_state(case: Case, now: datetime) -> str:
    """'overdue', 'near_breach', 'waiting' (the clock is paused while the case waits for the
    borrower: never overdue then) or '' (resolved cases: '')."""
    if case.status == CaseStatus.RESOLVED:
        return ""
    if case.status == CaseStatus.WAITING:
        return "waiting"
    if case.due_at < now:
        return "overdue"
    if case.due_at - now < near_breach_threshold(case.queue.sla_hours):
        return "near_breach"
    return ""


def cases_annotate_sla(cases: list[Case], now: datetime) -> list[Case]:
    """Set `sla_state` and `age` on each case for the list's badges (display only)."""
    for case in cases:
        case.sla_state = sla_state(case, now)  # type: ignore[attr-defined]
        case.age = now - case.opened_at  # type: ignore[attr-defined]
    return cases


# --- the case's own timeline ------------------------------------------------------------------


def _action_label(action: str) -> str:
    labels = {
        "case.opened": _("Case opened"),
        "case.alerts_joined": _("Alerts joined the case"),
        "case.claimed": _("Taken"),
        "case.assigned": _("Assigned"),
        "case.released": _("Put back in the queue"),
        "case.resolved": _("Resolved"),
        "case.reopened": _("Reopened"),
        "case.line_frozen": _("Line frozen from the case"),
        "case.line_unfrozen": _("Line unfrozen from the case"),
        "case.evidence_attached": _("Evidence attached"),
        "case.evidence_opened": _("Evidence opened"),
        "case.commented": _("Comment"),
        "case.limit_cut_proposed": _("Limit cut proposed"),
        "case.documents_requested": _("Documents requested from the borrower"),
        "case.documents_received": _("Documents received; back in progress"),
        "case.documents_withdrawn": _("Documents request withdrawn; back in progress"),
    }
    return str(labels.get(action, action))


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # audit, comment, alert, evidence
    title: str
    who: str = ""
    text: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    obj: Any = None


def _audit_detail(event: AuditEvent, names: dict[int, str]) -> str:
    after = event.after or {}
    parts: list[str] = []
    if after.get("assignee") and event.action in {"case.assigned", "case.claimed"}:
        who = names.get(after["assignee"], f"#{after['assignee']}")
        parts.append(_("to %(who)s") % {"who": who})
    if after.get("disposition"):
        parts.append(str(dict(Disposition.choices).get(after["disposition"], after["disposition"])))
    if "priority" in after and event.action in {"case.opened", "case.alerts_joined"}:
        parts.append(_("priority %(p)s") % {"p": after["priority"]})
    if after.get("proposal"):
        parts.append(
            _("override proposal #%(id)s: new limit %(limit)s")
            % {"id": after["proposal"], "limit": after.get("new_limit", "")}
        )
    if after.get("documents") and event.action == "case.documents_requested":
        kinds = dict(DocumentKind.choices)
        asked = [str(kinds.get(code, code)) for code in after["documents"]]
        if after.get("other"):
            asked[-1] = f"{asked[-1]}: {after['other']}"  # "other" sorts last
        parts.append(", ".join(asked))
    if after.get("status_code"):
        codes = dict(LineStatusCode.choices)
        parts.append(str(codes.get(after["status_code"], after["status_code"])))
    if event.note and event.note != "next":
        parts.append(event.note)
    return " · ".join(parts)


def case_timeline(*, case: Case) -> list[TimelineEntry]:
    """The case's own story, oldest first: its audit rows, comments, evidence and alerts.

    Five queries whatever the case's size (one per kind, and the assignees' names). Comments
    and evidence carry their own audit rows too; the timeline shows the comment itself
    instead of its audit row.
    """
    from accounts.models import User

    events = list(
        AuditEvent.objects.filter(object_type="monitoring.case", object_id=str(case.pk)).order_by(
            "at", "pk"
        )
    )
    assignee_ids = {e.after.get("assignee") for e in events if isinstance(e.after, dict)}
    names = dict(
        User.objects.filter(pk__in=[i for i in assignee_ids if isinstance(i, int)]).values_list(
            "pk", "username"
        )
    )
    entries = [
        TimelineEntry(
            at=event.at,
            kind="audit",
            title=_action_label(event.action),
            who=event.actor_label,
            text=_audit_detail(event, names),
        )
        for event in events
    ]
    entries += [
        TimelineEntry(
            at=comment.created_at,
            kind="comment",
            title=_("Comment"),
            who=comment.author.get_username(),
            text=comment.body,
        )
        for comment in CaseComment.objects.filter(case=case).select_related("author")
    ]
    entries += [
        TimelineEntry(
            at=evidence.uploaded_at,
            kind="evidence",
            title=_("Evidence attached"),
            who=evidence.uploaded_by.get_username(),
            text=evidence.file_name,
            obj=evidence,
        )
        for evidence in CaseEvidence.objects.filter(case=case).select_related("uploaded_by")
    ]
    entries += [
        TimelineEntry(
            at=alert.raised_at,
            kind="alert",
            title=str(alert.rule_version.rule.get_kind_display()),
            text=_("Severity: %(s)s; rule version %(v)s")
            % {"s": alert.get_severity_display(), "v": alert.rule_version.version},
            obj=alert,
        )
        for alert in Alert.objects.filter(case=case).select_related("rule_version__rule")
    ]
    entries.sort(key=lambda e: (e.at, {"alert": 0, "audit": 1}.get(e.kind, 2)))
    return entries


# --- the team view ----------------------------------------------------------------------------


@dataclass
class QueueStats:
    queue: Queue
    open: int = 0
    in_progress: int = 0
    waiting: int = 0
    unassigned: int = 0
    overdue: int = 0
    near_breach: int = 0
    oldest_age: timedelta | None = None
    median_age: timedelta | None = None

    @property
    def oldest_hours(self) -> float | None:
        return _hours(self.oldest_age)

    @property
    def median_hours(self) -> float | None:
        return _hours(self.median_age)


def _hours(age: timedelta | None) -> float | None:
    return None if age is None else round(age.total_seconds() / 3600, 1)


@dataclass
class AnalystThroughput:
    user_id: int
    username: str
    by_day: list[int]
    total: int
    open_now: int


def queue_stats(*, user: Any, now: datetime | None = None) -> list[QueueStats]:
    """Per queue: unresolved cases by status, unassigned, overdue, near breach, and the age of
    the oldest and the median unresolved case. A handful of queries per queue (four queues)."""
    now = now or timezone.now()
    stats: list[QueueStats] = []
    for queue in queue_visible_to(user=user).order_by("kind"):
        active = Case.objects.filter(queue=queue).exclude(status=CaseStatus.RESOLVED)
        counts = active.aggregate(
            open=Count("pk", filter=Q(status=CaseStatus.OPEN)),
            in_progress=Count("pk", filter=Q(status=CaseStatus.IN_PROGRESS)),
            waiting=Count("pk", filter=Q(status=CaseStatus.WAITING)),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
            # Waiting for the borrower: the SLA clock is paused, neither overdue nor near.
            overdue=Count("pk", filter=Q(due_at__lt=now) & ~Q(status=CaseStatus.WAITING)),
            near=Count(
                "pk",
                filter=Q(due_at__gte=now, due_at__lt=now + near_breach_threshold(queue.sla_hours))
                & ~Q(status=CaseStatus.WAITING),
            ),
            total=Count("pk"),
        )
        row = QueueStats(
            queue=queue,
            open=counts["open"],
            in_progress=counts["in_progress"],
            waiting=counts["waiting"],
            unassigned=counts["unassigned"],
            overdue=counts["overdue"],
            near_breach=counts["near"],
        )
        total = counts["total"]
        if total:
            ordered = active.order_by("opened_at").values_list("opened_at", flat=True)
            oldest = ordered.first()
            middle = ordered[total // 2] if total > 1 else oldest
            row.oldest_age = now - oldest if oldest else None
            row.median_age = now - middle if middle else None
        stats.append(row)
    return stats


def team_throughput(*, user: Any, days: int = 7, now: datetime | None = None) -> list[Any]:
    """Cases resolved per analyst and day over the last `days` days (Shanghai dates, oldest
    first), with each analyst's unresolved cases now. Two queries."""
    from accounts.models import User

    if not _is_staff(user):
        return []
    now = now or timezone.now()
    today: date = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    dates = [first + timedelta(days=n) for n in range(days)]
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    resolved = (
        Case.objects.filter(resolved_at__gte=start, resolved_by__isnull=False)
        .annotate(day=TruncDate("resolved_at"))
        .values("resolved_by", "day")
        .annotate(n=Count("pk"))
    )
    per_user: dict[int, dict[date, int]] = defaultdict(dict)
    for row in resolved:
        per_user[row["resolved_by"]][row["day"]] = row["n"]
    open_now = dict(
        Case.objects.exclude(status=CaseStatus.RESOLVED)
        .filter(assignee__isnull=False)
        .values("assignee")
        .annotate(n=Count("pk"))
        .values_list("assignee", "n")
    )
    user_ids = set(per_user) | set(open_now)
    names = dict(User.objects.filter(pk__in=user_ids).values_list("pk", "username"))
    rows = [
        AnalystThroughput(
            user_id=uid,
            username=names.get(uid, str(uid)),
            by_day=[per_user[uid].get(d, 0) for d in dates],
            total=sum(per_user[uid].values()),
            open_now=open_now.get(uid, 0),
        )
        for uid in user_ids
    ]
    rows.sort(key=lambda r: (-r.total, r.username))
    return [dates, rows]


def case_pulse(*, user: Any, since: datetime | None = None) -> dict[str, Any]:
    """The small live panel: unassigned open cases per queue, and alerts raised since
    `since` (default: the last hour). Three queries."""
    now = timezone.now()
    since = since or now - timedelta(hours=1)
    if not _is_staff(user):
        return {"queues": [], "new_alerts": 0, "latest": [], "now": now}
    waiting = dict(
        Case.objects.filter(status=CaseStatus.OPEN, assignee__isnull=True)
        .values("queue__kind")
        .annotate(n=Count("pk"))
        .values_list("queue__kind", "n")
    )
    queues = [(q, waiting.get(q.kind, 0)) for q in Queue.objects.order_by("kind")]
    recent = Alert.objects.filter(raised_at__gte=since)
    return {
        "queues": queues,
        "new_alerts": recent.count(),
        "latest": list(
            recent.select_related("rule_version__rule", "borrower").order_by("-raised_at")[:5]
        ),
        "now": now,
    }


def staff_assignees() -> QuerySet[Any]:
    """Logins a case may be assigned to: active risk staff, by username."""
    from accounts.choices import STAFF_ROLES
    from accounts.models import User

    return User.objects.filter(is_active=True, role__in=STAFF_ROLES).order_by("username")


def override_reasons() -> QuerySet[Any]:
    """The override reasons in use (decisions keeps the list), for the limit-cut form."""
    from decisions.models.overrides import OverrideReason

    return OverrideReason.objects.filter(active=True).order_by("position", "code")
