"""The lending admin is read-only and shows personal data masked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from lending.tests.factories import DrawdownFactory

pytestmark = pytest.mark.django_db


def test_admin_lists_borrowers_masked_and_offers_no_writes(client, admin_user):
    loan = DrawdownFactory()
    borrower = loan.borrower
    client.force_login(admin_user)

    listing = client.get(reverse("admin:lending_borrower_changelist"))
    detail = client.get(reverse("admin:lending_borrower_change", args=[borrower.pk]))

    assert listing.status_code == 200
    assert detail.status_code == 200
    for page in (listing, detail):
        text = page.content.decode()
        assert borrower.national_id not in text
        assert borrower.mobile not in text
        assert borrower.national_id[:6] + "********" + borrower.national_id[-4:] in text
    assert client.get(reverse("admin:lending_borrower_add")).status_code == 403
    delete_url = reverse("admin:lending_borrower_delete", args=[borrower.pk])
    assert client.post(delete_url).status_code == 403


def test_admin_shows_cards_masked_and_drawdowns_with_their_schedule(client, admin_user):
    loan = DrawdownFactory()
    client.force_login(admin_user)

    cards = client.get(reverse("admin:lending_bankaccount_changelist")).content.decode()
    drawdown = client.get(reverse("admin:lending_drawdown_change", args=[loan.pk]))

    assert loan.bank_account.card_no not in cards
    assert drawdown.status_code == 200
    assert loan.bank_account.card_no not in drawdown.content.decode()
    assert "152.08" in drawdown.content.decode()  # the first instalment's interest, inline


@pytest.mark.parametrize(
    "model",
    [
        "creditline",
        "device",
        "drawdown",
        "repayment",
        "repaymentallocation",
        "transferout",
        "declaredasset",
        "booksnapshot",
    ],
)
def test_every_lending_admin_list_opens(client, admin_user, model):
    DrawdownFactory()
    client.force_login(admin_user)
    assert client.get(reverse(f"admin:lending_{model}_changelist")).status_code == 200
