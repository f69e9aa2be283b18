"""The confirmed-fraud flag: set by a service (a case resolved as fraud), cleared by another,
audited, read in bulk by the limit policy and by the override hard block."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from decisions.errors import NotAllowed
from decisions.errors.overrides import FlagAlreadySet, FlagNotSet
from decisions.models import RiskFlag
from decisions.selectors.overrides import fraud_confirmed_ids
from decisions.services import fraud_flag_clear, fraud_flag_set
from lending.tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db


def test_a_flag_is_set_read_in_bulk_and_cleared_with_an_audit_row_each(analyst, manager):
    one, two = BorrowerFactory(), BorrowerFactory()
    flag = fraud_flag_set(actor=analyst, borrower_id=one.pk, source="case:12", note="ring")
    assert fraud_confirmed_ids([one.pk, two.pk]) == {one.pk}
    assert AuditEvent.objects.filter(action="risk_flag.set", borrower_id=one.pk).count() == 1

    fraud_flag_clear(actor=manager, borrower_id=one.pk, source="case:12", note="reopened")
    assert fraud_confirmed_ids([one.pk, two.pk]) == set()
    flag.refresh_from_db()
    assert flag.cleared_by == manager
    assert AuditEvent.objects.filter(action="risk_flag.cleared", borrower_id=one.pk).exists()
    # Set again later: a new row, the old one kept as history.
    fraud_flag_set(actor=None, borrower_id=one.pk, source="case:40")
    assert RiskFlag.objects.filter(borrower_id=one.pk).count() == 2


def test_the_same_source_again_is_a_replay_and_another_source_is_refused(analyst):
    b = BorrowerFactory()
    first = fraud_flag_set(actor=analyst, borrower_id=b.pk, source="case:1")
    again = fraud_flag_set(actor=analyst, borrower_id=b.pk, source="case:1")
    assert again.pk == first.pk
    assert AuditEvent.objects.filter(action="risk_flag.set").count() == 1
    with pytest.raises(FlagAlreadySet):
        fraud_flag_set(actor=analyst, borrower_id=b.pk, source="case:2")


def test_clearing_without_a_flag_and_a_borrower_login_are_refused(analyst, borrower_user):
    b = BorrowerFactory()
    with pytest.raises(FlagNotSet):
        fraud_flag_clear(actor=analyst, borrower_id=b.pk)
    with pytest.raises(NotAllowed):
        fraud_flag_set(actor=borrower_user, borrower_id=b.pk, source="case:1")
    assert fraud_confirmed_ids([]) == set()
