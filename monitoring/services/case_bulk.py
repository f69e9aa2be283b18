"""Bulk actions on a filtered case list, and the record of a CSV export.

The form or API call carries the list's filter (monitoring.filters.CaseFilter's parameters),
never a list of ids: the service re-applies the filter here, under row locks, and acts on
exactly the rows it matches. `expected` is the number of rows the user saw; if the list has
changed since (a new case arrived, another analyst took one), nothing is done
(SelectionChanged), so a bulk action never touches a row its user did not see counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.audit import AuditRow, audit_bulk
from monitoring.choices import CaseStatus
from monitoring.errors.cases import (
    CaseAssignedToAnother,
    FilterInvalid,
    NoteRequired,
    SelectionChanged,
    SelectionEmpty,
    SelectionTooLarge,
)
from monitoring.filters import CaseFilter
from monitoring.models import Case
from monitoring.services.cases import (
    CASE_ASSIGNER_ROLES,
    CASE_SUPERVISOR_ROLES,
    CASE_WORKER_ROLES,
    _clean_disposition,
    _clean_note,
    _require_assignee,
    _require_role,
    _resolve_locked,
    _state,
)

if TYPE_CHECKING:
    from accounts.models import User

BULK_MAX_ROWS = 500
# Filter parameters a bulk action carries; paging and sorting do not change the set.
BULK_IGNORED_PARAMS = frozenset({"sort", "after", "before", "page", "csrfmiddlewaretoken"})


def cases_filtered(*, actor: User, filters: Mapping[str, Any]) -> QuerySet[Case]:
    """The cases `filters` (CaseFilter's parameters) select for `actor`, or FilterInvalid."""
    data = {k: v for k, v in filters.items() if k not in BULK_IGNORED_PARAMS}
    filterset = CaseFilter(data, queryset=Case.objects.all(), user=actor)
    if not filterset.is_valid():
        raise FilterInvalid(fields=filterset.errors_text())
    return filterset.qs


def _locked_selection(*, actor: User, filters: Mapping[str, Any], expected: int) -> list[Case]:
    """The filtered, unresolved cases, locked in id order (no deadlock with another bulk
    action), checked against the count the user saw."""
    queryset = cases_filtered(actor=actor, filters=filters).exclude(status=CaseStatus.RESOLVED)
    ids = list(queryset.order_by().values_list("pk", flat=True)[: BULK_MAX_ROWS + 1])
    if len(ids) > BULK_MAX_ROWS:
        raise SelectionTooLarge(max=BULK_MAX_ROWS, actual=queryset.count())
    if not ids:
        raise SelectionEmpty()
    if len(ids) != expected:
        raise SelectionChanged(expected=expected, actual=len(ids))
    cases = list(
        Case.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .exclude(status=CaseStatus.RESOLVED)
        .order_by("pk")
    )
    if len(cases) != expected:  # one was resolved between the count and the lock
        raise SelectionChanged(expected=expected, actual=len(cases))
    return cases


@transaction.atomic(durable=True)
def cases_bulk_assign(
    *, actor: User, filters: Mapping[str, Any], assignee: User, expected: int
) -> list[Case]:
    """Assign every unresolved case the filter selects to `assignee` (senior analyst and up).

    A senior analyst may not take cases from another analyst in bulk: if the selection holds
    one assigned to someone else, nothing is done (CaseAssignedToAnother); a manager may.
    Raises CaseNotAllowed, AssigneeInvalid, FilterInvalid, SelectionEmpty, SelectionTooLarge,
    SelectionChanged."""
    _require_role(actor, CASE_ASSIGNER_ROLES)
    assignee = _require_assignee(assignee)
    cases = _locked_selection(actor=actor, filters=filters, expected=expected)
    now = timezone.now()
    rows: list[AuditRow] = []
    changed: list[Case] = []
    for case in cases:
        if case.assignee_id == assignee.pk:
            continue
        if (
            case.assignee_id is not None
            and case.assignee_id != actor.pk
            and actor.role not in CASE_SUPERVISOR_ROLES
        ):
            raise CaseAssignedToAnother(case_id=case.pk, assignee=str(case.assignee_id))
        before = _state(case)
        case.assignee = assignee
        case.assigned_at = now
        if case.status == CaseStatus.OPEN:
            case.status = CaseStatus.IN_PROGRESS
        changed.append(case)
        rows.append(
            AuditRow(
                action="case.assigned",
                obj=case,
                actor=actor,
                borrower_id=case.borrower_id,
                before=before,
                after=_state(case),
                note="bulk",
            )
        )
    Case.objects.bulk_update(changed, ["assignee", "assigned_at", "status"])
    audit_bulk(rows)
    return changed


@transaction.atomic(durable=True)
def cases_bulk_close(
    *, actor: User, filters: Mapping[str, Any], disposition: str, note: str, expected: int
) -> list[Case]:
    """Resolve every unresolved case the filter selects with one disposition and note (a
    manager: closing a batch of false positives after a rule misfired).

    Raises CaseNotAllowed, DispositionRequired, InvalidDisposition, NoteRequired, FilterInvalid,
    SelectionEmpty, SelectionTooLarge, SelectionChanged."""
    _require_role(actor, CASE_SUPERVISOR_ROLES)
    disposition = _clean_disposition(disposition)
    note = _clean_note(note)
    if not note:
        raise NoteRequired()
    cases = _locked_selection(actor=actor, filters=filters, expected=expected)
    now = timezone.now()
    rows: list[AuditRow] = []
    for case in cases:
        before = _resolve_locked(
            actor=actor, case=case, disposition=disposition, note=note, now=now
        )
        rows.append(
            AuditRow(
                action="case.resolved",
                obj=case,
                actor=actor,
                borrower_id=case.borrower_id,
                before=before,
                after=_state(case),
                note=f"bulk: {note}",
            )
        )
    audit_bulk(rows)
    return cases


@transaction.atomic(durable=True)
def cases_export_record(*, actor: User, filters: Mapping[str, Any], rows: int) -> None:
    """Record that `actor` exported `rows` cases as CSV with these filters (audit only)."""
    _require_role(actor, CASE_WORKER_ROLES)
    audit_bulk(
        [
            AuditRow(
                action="cases.exported",
                obj=None,
                object_type="monitoring.case",
                actor=actor,
                after={
                    "filters": {k: str(v)[:64] for k, v in sorted(filters.items())},
                    "rows": rows,
                },
            )
        ]
    )
