"""The feature set, computed point in time for the whole book from what had happened by then."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from decisions.features import FEATURE_NAMES, FEATURES, book_features, book_labels
from lending.services import repayment_record, transfer_out_record
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 20)


@pytest.fixture
def book():
    with time_machine.travel(NOW, tick=False):
        late = BorrowerFactory(credit_limit=Decimal("5000.00"), income_band="lt3k")
        loan = DrawdownFactory(
            borrower=late,
            amount=Decimal("4000.00"),
            term_months=6,
            disbursed_at=at(2026, 1, 10, 1, 30),
        )
        transfer_out_record(
            actor=None,
            borrower=late,
            reference="T-1",
            amount=Decimal("3900.00"),
            occurred_at=at(2026, 1, 10, 4, 30),
            counterparty_name="某小贷",
            counterparty_is_lender=True,
        )
        steady = BorrowerFactory(credit_limit=Decimal("20000.00"), income_band="10k_20k")
        other = DrawdownFactory(borrower=steady, amount=Decimal("1000.00"), term_months=3)
        for n, inst in enumerate(other.instalments.order_by("seq"), start=1):
            repayment_record(
                actor=None,
                loan_no=other.loan_no,
                reference=f"R-{n}",
                amount=inst.principal_due + inst.interest_due,
                paid_at=at(inst.due_date.year, inst.due_date.month, inst.due_date.day, 9),
            )
    return {"late": late, "loan": loan, "steady": steady}


def test_every_feature_is_documented_with_family_unit_and_missing_rule():
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) >= 15
    for spec in FEATURES:
        assert str(spec.description) and str(spec.unit) and str(spec.missing) and str(spec.family)


def test_features_read_the_book_as_it_stood_on_the_date(book):
    frame = book_features(as_of=date(2026, 3, 1))
    late = frame.loc[book["late"].pk]
    steady = frame.loc[book["steady"].pk]

    # The first instalment fell due on 10 February and is still unpaid on 1 March: 19 days.
    assert late["max_dpd_ever"] == 19
    assert late["late_instalments_12m"] == 1
    assert late["utilisation"] == pytest.approx(4000 / 5000)
    assert late["night_drawdowns_180d"] == 1
    assert late["lender_transfers_90d"] == 1
    assert late["income_band"] == 1
    assert steady["max_dpd_ever"] == 0
    assert steady["on_time_streak"] == 1  # 10 February paid on the day; 10 March not yet due
    assert steady["lender_transfers_90d"] == 0
    assert list(frame.columns) == list(FEATURE_NAMES)

    # Before the loan existed nothing of it shows.
    before = book_features(as_of=date(2026, 1, 5)).loc[book["late"].pk]
    assert before["utilisation"] == 0 and before["night_drawdowns_180d"] == 0


def test_the_label_marks_who_reached_90_days_past_due_within_the_window(book):
    ids = [book["late"].pk, book["steady"].pk]
    labels = book_labels(as_of=date(2026, 2, 1), window_days=180, dpd=90, borrower_ids=ids)
    assert labels.to_dict() == {book["late"].pk: 1, book["steady"].pk: 0}
    # 90 days after 10 February is 11 May: a window ending before it holds no bad.
    early = book_labels(as_of=date(2026, 2, 1), window_days=60, dpd=90, borrower_ids=ids)
    assert early.sum() == 0
