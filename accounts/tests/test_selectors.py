from __future__ import annotations

import pytest

from accounts.selectors import audit_trail_for_borrower
from lending.selectors import pii_accesses_for_borrower
from lending.services import pii_reveal

pytestmark = pytest.mark.django_db

REASON = "Checking identity before a call back"


def test_staff_see_a_borrowers_audit_trail_and_access_log(
    senior_analyst, analyst, borrower_record, django_assert_num_queries
):
    pii_reveal(actor=senior_analyst, borrower=borrower_record, field="name", reason=REASON)

    with django_assert_num_queries(1):
        events = list(audit_trail_for_borrower(user=analyst, borrower_id=borrower_record.pk))
        assert [e.actor.username if e.actor else None for e in events] == ["sam"]
    with django_assert_num_queries(1):
        accesses = list(pii_accesses_for_borrower(user=analyst, borrower=borrower_record))
        assert [a.actor.username for a in accesses] == ["sam"]


@pytest.mark.parametrize("login", ["borrower_user", "service_user", "outsider"])
def test_non_staff_see_nothing(request, senior_analyst, borrower_record, login):
    pii_reveal(actor=senior_analyst, borrower=borrower_record, field="name", reason=REASON)
    user = request.getfixturevalue(login)

    assert not audit_trail_for_borrower(user=user, borrower_id=borrower_record.pk).exists()
    assert not pii_accesses_for_borrower(user=user, borrower=borrower_record).exists()
