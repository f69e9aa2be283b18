"""Asking the borrower for documents from a case: the service (happy path, refusals, replay),
lending's notice service it sends through, the case page's form, the API action, and what the
borrower reads in the portal (their own notice only)."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from lending.choices import DocumentKind, NoticeKind
from lending.errors import InvalidChoice, InvalidData, NotAllowed
from lending.models import Notice
from lending.services import notice_send
from monitoring.choices import CaseStatus, Disposition
from monitoring.errors.cases import (
    CaseAssignedToAnother,
    CaseResolved,
    DocumentOtherRequired,
    DocumentsRequired,
)
from monitoring.models import Case
from monitoring.services.case_documents import case_documents_request
from monitoring.services.cases import alerts_group, case_claim, case_resolve
from monitoring.tests.cases_setup import make_alert, make_borrower

pytestmark = pytest.mark.django_db


def _case(borrower=None) -> Case:
    borrower = borrower or make_borrower(used="1000.00")
    return alerts_group(alert_ids=[make_alert(borrower).pk])[0]


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the service ------------------------------------------------------------------------------


def test_asking_for_documents_tells_the_borrower_and_the_case_waits(analyst):
    case = _case()

    case = case_documents_request(
        actor=analyst,
        case=case,
        documents=["bank_statement", "income_proof", "other"],
        other="  Tax   receipt 2025 ",
        note="Income looks inflated",
    )

    case.refresh_from_db()
    assert case.status == CaseStatus.WAITING
    assert case.assignee == analyst  # asking is working it: the unassigned case is theirs
    (notice,) = Notice.objects.filter(borrower_id=case.borrower_id)
    assert notice.kind == NoticeKind.DOCUMENTS_REQUESTED
    # In the list's order, the words squeezed; the internal note is not in the notice.
    assert notice.params == {
        "documents": ["income_proof", "bank_statement", "other"],
        "other": "Tax receipt 2025",
    }
    (row,) = AuditEvent.objects.filter(action="case.documents_requested")
    assert row.object_id == str(case.pk) and row.actor_id == analyst.pk
    assert row.before["status"] == CaseStatus.OPEN and row.after["status"] == CaseStatus.WAITING
    assert row.after["notice"] == notice.pk and row.note == "Income looks inflated"
    sent = AuditEvent.objects.filter(action="notice.sent", borrower_id=case.borrower_id)
    assert sent.count() == 1


def test_asking_again_for_the_same_documents_while_waiting_sends_nothing(analyst):
    case = _case()
    case_documents_request(actor=analyst, case=case, documents=["id_card_copy"])

    case_documents_request(actor=analyst, case=case, documents=["id_card_copy"])
    assert Notice.objects.filter(borrower_id=case.borrower_id).count() == 1
    assert AuditEvent.objects.filter(action="case.documents_requested").count() == 1

    case_documents_request(actor=analyst, case=case, documents=["employment_proof"])
    assert Notice.objects.filter(borrower_id=case.borrower_id).count() == 2


@pytest.mark.parametrize(
    ("documents", "other", "error"),
    [
        ([], "", DocumentsRequired),
        (["payslip"], "", DocumentsRequired),  # not in the fixed list
        (["other"], "   ", DocumentOtherRequired),
        (["other"], "x" * 201, DocumentOtherRequired),
    ],
)
def test_an_empty_or_unclear_request_is_refused_and_nothing_is_sent(
    analyst, documents, other, error
):
    case = _case()
    with pytest.raises(error):
        case_documents_request(actor=analyst, case=case, documents=documents, other=other)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert not Notice.objects.filter(borrower_id=case.borrower_id).exists()


def test_a_resolved_case_asks_for_nothing(analyst):
    case = _case()
    case_resolve(actor=analyst, case=case, disposition=Disposition.FALSE_POSITIVE, note="fine")
    with pytest.raises(CaseResolved):
        case_documents_request(actor=analyst, case=case, documents=["income_proof"])
    assert not Notice.objects.filter(borrower_id=case.borrower_id).exists()


def test_another_analysts_case_is_refused(analyst, senior_analyst):
    case = _case()
    case_claim(actor=senior_analyst, case=case)
    with pytest.raises(CaseAssignedToAnother):
        case_documents_request(actor=analyst, case=case, documents=["income_proof"])
    assert not Notice.objects.filter(borrower_id=case.borrower_id).exists()
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS


# --- lending's notice service -----------------------------------------------------------------


def test_notice_send_refuses_kinds_a_line_service_owns(analyst, borrower_record):
    # A "line frozen" notice sent from outside would announce a freeze that never happened.
    for kind in (NoticeKind.LINE_FROZEN, "made_up"):
        with pytest.raises(InvalidChoice):
            notice_send(
                actor=analyst, borrower_id=borrower_record.pk, kind=kind, params={"documents": []}
            )
    assert not Notice.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"documents": []},
        {"documents": ["income_proof"], "other": "not asked"},
        {"documents": ["income_proof"], "message": "free text"},
    ],
)
def test_notice_send_refuses_params_the_portal_would_not_show(analyst, borrower_record, params):
    with pytest.raises(InvalidData):
        notice_send(
            actor=analyst,
            borrower_id=borrower_record.pk,
            kind=NoticeKind.DOCUMENTS_REQUESTED,
            params=params,
        )


def test_notice_send_is_for_staff_only(borrower_user, service_user, borrower_record):
    for actor in (borrower_user, service_user):
        with pytest.raises(NotAllowed):
            notice_send(
                actor=actor,
                borrower_id=borrower_record.pk,
                kind=NoticeKind.DOCUMENTS_REQUESTED,
                params={"documents": ["income_proof"]},
            )
    assert not Notice.objects.exists()


@pytest.mark.parametrize("code", DocumentKind.values)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_document_code_reads_as_its_label(code, language):
    with translation.override(language):
        shown = render_to_string("lending/partials/document_kind.html", {"code": code}).strip()
        assert shown == str(DocumentKind(code).label)


# --- the case page and the API ----------------------------------------------------------------


def test_the_case_page_form_asks_and_the_timeline_shows_it(analyst):
    case = _case()
    client = _login(analyst)
    url = reverse("monitoring:case-documents", args=[case.pk])

    response = client.post(url, {"documents": ["income_proof", "bank_statement"], "note": "n1"})

    assert response.status_code == 302
    page = client.get(
        reverse("monitoring:case-detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Documents requested from the borrower" in page
    assert "Proof of income, Bank statement" in page
    assert "Waiting for the borrower" in page


def test_the_case_page_shows_the_refusal_beside_the_form(analyst):
    case = _case()
    response = _login(analyst).post(
        reverse("monitoring:case-documents", args=[case.pk]),
        {"documents": []},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    assert "Choose at least one document to ask for." in response.content.decode()


@pytest.mark.parametrize("role_fixture", ["borrower_user", "service_user"])
def test_the_case_page_action_is_refused_to_non_staff(request, role_fixture):
    case = _case()
    client = _login(request.getfixturevalue(role_fixture))
    response = client.post(
        reverse("monitoring:case-documents", args=[case.pk]), {"documents": ["income_proof"]}
    )
    assert response.status_code in {302, 403}
    assert not Notice.objects.exists()


def test_anonymous_is_sent_to_sign_in():
    case = _case()
    response = Client().post(
        reverse("monitoring:case-documents", args=[case.pk]), {"documents": ["income_proof"]}
    )
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Notice.objects.exists()


def test_the_api_action_asks_and_answers_the_case(analyst, senior_analyst):
    case = _case()
    api = APIClient()
    api.force_authenticate(analyst)
    url = reverse("case-documents-api", args=[case.pk])

    response = api.post(url, {"documents": ["other"], "other": "Lease contract"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == CaseStatus.WAITING
    assert Notice.objects.get(borrower_id=case.borrower_id).params["other"] == "Lease contract"

    empty = api.post(url, {"documents": []}, format="json")
    assert empty.status_code == 409 and empty.json()["code"] == "documents_required"
    unknown = api.post(url, {"documents": ["payslip"]}, format="json")
    assert unknown.status_code == 400

    other_case = _case()
    case_claim(actor=senior_analyst, case=other_case)
    taken = api.post(
        reverse("case-documents-api", args=[other_case.pk]),
        {"documents": ["income_proof"]},
        format="json",
    )
    assert taken.status_code == 409 and taken.json()["code"] == "case_assigned_to_another"


def test_the_api_action_is_refused_to_a_borrower_and_the_service_account(
    borrower_user, service_user
):
    case = _case()
    for user in (borrower_user, service_user):
        api = APIClient()
        api.force_authenticate(user)
        response = api.post(
            reverse("case-documents-api", args=[case.pk]),
            {"documents": ["income_proof"]},
            format="json",
        )
        assert response.status_code == 403
    assert not Notice.objects.exists()


# --- the portal -------------------------------------------------------------------------------


def test_the_borrower_reads_which_documents_are_asked_and_another_borrower_does_not(
    analyst, borrower_user, borrower_record, django_user_model
):
    case = _case(borrower_record)
    case_documents_request(
        actor=analyst,
        case=case,
        documents=["income_proof", "other"],
        other="Rental contract",
        note="Staff-only remark",
    )
    stranger = make_borrower()
    stranger_user = django_user_model.objects.create_user(
        username="other-borrower", password="x-x-x-x-x-x", role="borrower", borrower_id=stranger.pk
    )

    mine = _login(borrower_user).get(reverse("lending:my-line"), HTTP_ACCEPT_LANGUAGE="en")
    page = mine.content.decode()
    assert "To review your credit line we need the documents below." in page
    assert "Proof of income" in page and "Other document: Rental contract" in page
    assert "Staff-only remark" not in page

    theirs = _login(stranger_user).get(reverse("lending:my-line"), HTTP_ACCEPT_LANGUAGE="en")
    assert theirs.status_code == 200
    other_page = theirs.content.decode()
    assert "Rental contract" not in other_page and "Proof of income" not in other_page


def test_documents_received_puts_the_case_back_in_progress(analyst):
    case = _case()
    client = _login(analyst)
    received = reverse("monitoring:case-documents-received", args=[case.pk])

    not_waiting = client.post(received, {"note": "early"}, HTTP_ACCEPT_LANGUAGE="en")
    assert not_waiting.status_code == 409
    assert "is not waiting for the borrower" in not_waiting.content.decode()

    case_documents_request(actor=analyst, case=case, documents=["income_proof"])
    assert client.post(received, {"note": "Payslips by e-mail"}).status_code == 302

    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS
    row = AuditEvent.objects.get(action="case.documents_received")
    assert row.note == "Payslips by e-mail" and row.before["status"] == CaseStatus.WAITING
    page = client.get(reverse("monitoring:case-detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert "Documents received; back in progress" in page.content.decode()
