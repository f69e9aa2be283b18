"""The demo seeder: deterministic, consistent with the services' math, and every feature there.

One small book (200 borrowers, 9 months: long enough for M7 balances) is seeded once per
module and shared by the read-only checks; the determinism and --if-empty checks seed again.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Min, Sum
from django.utils import timezone

from accounts.models import AuditEvent, User
from demo.seeding import DEMO_PASSWORD, book
from lending import services
from lending.choices import DrawdownStatus, IdentityCheckResult, LineStatus, Purpose
from lending.models import (
    BankAccount,
    Borrower,
    CreditLine,
    DeclaredAsset,
    Device,
    Drawdown,
    Instalment,
    Repayment,
    RepaymentAllocation,
    TransferOut,
)
from monitoring.choices import EventKind
from monitoring.models import Event

AS_OF = date(2026, 6, 30)
ARGS = ["--borrowers", "200", "--months", "9", "--seed", "42", "--as-of", AS_OF.isoformat()]


def seed(*extra: str) -> str:
    out = StringIO()
    call_command("seed_demo", *ARGS, *extra, stdout=out)
    return out.getvalue()


def checksum() -> str:
    """A digest of the book's key columns, in id order."""
    digest = hashlib.sha256()
    for queryset in (
        Borrower.objects.order_by("id").values_list(
            "id",
            "customer_no",
            "name",
            "national_id",
            "mobile",
            "city",
            "registered_at",
            "identity_check",
        ),
        CreditLine.objects.order_by("id").values_list(
            "id", "credit_limit", "used", "status", "daily_rate", "oldest_unpaid_due"
        ),
        Drawdown.objects.order_by("id").values_list(
            "id",
            "loan_no",
            "amount",
            "apr",
            "disbursed_at",
            "status",
            "principal_outstanding",
            "settled_at",
            "bank_account_id",
            "device_id",
        ),
        Instalment.objects.order_by("id").values_list(
            "id",
            "due_date",
            "principal_due",
            "interest_due",
            "fee_due",
            "principal_paid",
            "interest_paid",
            "fee_paid",
            "penalty_through",
            "paid_off_at",
        ),
        Repayment.objects.order_by("id").values_list("id", "reference", "amount", "paid_at"),
        RepaymentAllocation.objects.order_by("id").values_list(
            "repayment_id", "instalment_id", "fee", "interest", "principal"
        ),
        TransferOut.objects.order_by("id").values_list("reference", "amount", "occurred_at"),
        Event.objects.order_by("id").values_list(
            "event_id", "kind", "occurred_at", "payload", "payload_digest"
        ),
    ):
        for row in queryset.iterator():
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The module's book, seeded once (and emptied again after the module)."""
    with django_db_blocker.unblock():
        output = seed("--reset")
        yield output
        call_command("flush", interactive=False, verbosity=0)


# Plain (rolled back) tests: the module's committed book survives each of them.
pytestmark = pytest.mark.django_db


def test_seeding_twice_with_reset_gives_the_same_book(seeded):
    first = checksum()
    seed("--reset")
    assert checksum() == first
    assert Borrower.objects.count() == 200


def test_if_empty_changes_nothing_on_a_seeded_database(seeded):
    before = (checksum(), AuditEvent.objects.count(), User.objects.count())
    output = seed("--if-empty")
    assert "nothing seeded" in output
    assert (checksum(), AuditEvent.objects.count(), User.objects.count()) == before


def test_lines_are_within_limit_and_used_is_the_outstanding_principal(seeded):
    outstanding = dict(
        Drawdown.objects.values_list("line_id").annotate(s=Sum("principal_outstanding"))
    )
    for line in CreditLine.objects.all():
        assert Decimal(0) <= line.used <= line.credit_limit
        assert line.used == outstanding.get(line.pk, Decimal("0.00"))


def test_oldest_unpaid_due_is_the_earliest_unpaid_instalment(seeded):
    earliest = dict(
        Instalment.objects.filter(paid_off_at__isnull=True)
        .values_list("drawdown__line_id")
        .annotate(d=Min("due_date"))
    )
    for line in CreditLine.objects.all():
        assert line.oldest_unpaid_due == earliest.get(line.pk)


def test_schedules_allocations_and_outstanding_add_up(seeded):
    principal = dict(Instalment.objects.values_list("drawdown_id").annotate(s=Sum("principal_due")))
    paid = dict(Instalment.objects.values_list("drawdown_id").annotate(s=Sum("principal_paid")))
    for drawdown in Drawdown.objects.all():
        assert principal[drawdown.pk] == drawdown.amount
        assert drawdown.principal_outstanding == drawdown.amount - paid[drawdown.pk]
        settled = drawdown.status == DrawdownStatus.SETTLED
        assert settled == (drawdown.principal_outstanding == 0 and drawdown.settled_at is not None)
    allocated = dict(
        RepaymentAllocation.objects.values_list("repayment_id").annotate(
            s=Sum("fee") + Sum("interest") + Sum("principal")
        )
    )
    for repayment in Repayment.objects.all():
        assert allocated[repayment.pk] == repayment.amount
    parts: defaultdict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for inst_id, fee, interest, principal_part in RepaymentAllocation.objects.values_list(
        "instalment_id", "fee", "interest", "principal"
    ):
        parts[inst_id][0] += fee
        parts[inst_id][1] += interest
        parts[inst_id][2] += principal_part
    for inst in Instalment.objects.all():
        assert [inst.fee_paid, inst.interest_paid, inst.principal_paid] == (
            parts.get(inst.pk, [0, 0, 0])
        )
        assert (inst.paid_off_at is not None) == (inst.remaining == 0)


def test_every_demo_feature_is_in_the_book(seeded):
    shared_devices = Device.objects.values("device_id").annotate(n=Count("borrower", distinct=True))
    assert shared_devices.filter(n__gte=3).exists()  # rings share phones
    shared_cards = BankAccount.objects.values("card_no").annotate(
        n=Count("borrower", distinct=True)
    )
    assert shared_cards.filter(n__gte=3).exists()  # ... and payout cards
    shared_phones = Borrower.objects.values("mobile").annotate(n=Count("id"))
    assert shared_phones.filter(n__gte=2).exists()
    assert Borrower.objects.filter(identity_check=IdentityCheckResult.MISMATCHED).exists()
    assert DeclaredAsset.objects.filter(verified=True).exists()
    assert DeclaredAsset.objects.filter(verified=False).exists()
    assert set(Drawdown.objects.values_list("purpose", flat=True)) == set(Purpose.values)
    purposes = Counter(Drawdown.objects.values_list("purpose", flat=True))
    assert purposes.most_common(1)[0][0] == Purpose.DAILY_CONSUMPTION
    assert {3, 6, 12} <= set(Drawdown.objects.values_list("term_months", flat=True))
    assert CreditLine.objects.filter(status=LineStatus.FROZEN).exists()
    m7 = CreditLine.objects.filter(used__gt=0, oldest_unpaid_due__lt=AS_OF - timedelta(days=180))
    assert m7.exists()
    assert Instalment.objects.filter(fee_due__gt=0).exists()  # penalties accrued on late ones
    assert set(Event.objects.values_list("kind", flat=True)) == set(EventKind.values)


def _as_posted(event: Event) -> dict[str, object]:
    """The event as the lending core would have posted it: the stored payload's masked
    personal data put back from the book's own records."""
    from accounts.masking import mask_card

    posted = dict(event.payload)
    borrower = event.borrower
    assert borrower is not None  # every seeded event is a borrower's
    if event.kind == EventKind.LINE_OPENED:
        posted.update(name=borrower.name, national_id=borrower.national_id, mobile=borrower.mobile)
    if "card_no" in posted:
        [posted["card_no"]] = {
            account.card_no
            for account in borrower.bank_accounts.all()
            if mask_card(account.card_no) == posted["card_no"]
        }
    if "counterparty_account" in posted:
        transfer = TransferOut.objects.get(reference=event.event_id)
        posted["counterparty_account"] = transfer.counterparty_account
    return posted


def test_event_payloads_are_what_the_api_would_have_stored(seeded):
    from monitoring.api.serializers import canonical, events_parse
    from monitoring.services import event_storage_form

    for kind in EventKind.values:
        for event in Event.objects.filter(kind=kind).select_related("borrower").order_by("id")[:5]:
            valid, errors = events_parse([_as_posted(event)], max_events=10)
            assert errors == []
            # The same masked payload and digest: a real post of this event id replays.
            assert event_storage_form(canonical(valid[0])) == (event.payload, event.payload_digest)
            assert event.result["borrower_id"] == event.borrower_id
    for repayment in Repayment.objects.order_by("id")[:20]:
        event = Event.objects.get(event_id=repayment.reference)
        assert event.result["repayment_id"] == repayment.pk
    for transfer in TransferOut.objects.order_by("id")[:20]:
        assert Event.objects.get(event_id=transfer.reference).result["transfer_out_id"] == (
            transfer.pk
        )


def test_multi_lender_transfers_follow_a_drawdown_within_hours(seeded):
    transfers = TransferOut.objects.filter(counterparty_is_lender=True)
    assert transfers.exists()
    for transfer in transfers[:20]:
        assert Drawdown.objects.filter(
            borrower_id=transfer.borrower_id,
            disbursed_at__lte=transfer.occurred_at,
            disbursed_at__gte=transfer.occurred_at - timedelta(hours=6),
        ).exists()


def test_large_withdrawals_happen_at_night(seeded):
    night = [
        d
        for d in Drawdown.objects.select_related("line")
        if timezone.localtime(d.disbursed_at).hour < 5
    ]
    assert night
    assert any(d.amount >= d.line.credit_limit / 2 for d in night)


def test_demo_logins_exist_for_every_role(seeded):
    roles = dict(User.objects.values_list("username", "role"))
    assert roles == {
        "analyst": "analyst",
        "senior": "senior_analyst",
        "manager": "manager",
        "head": "head_of_risk",
        "admin": "admin",
        "borrower": "borrower",
        "lending-core": "service",
    }
    borrower_login = User.objects.get(username="borrower")
    assert Borrower.objects.get(pk=borrower_login.borrower_id).customer_no == "C00000001"
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="analyst").check_password(DEMO_PASSWORD)
    assert User.objects.get(username="lending-core").auth_token.key in seeded
    assert AuditEvent.objects.filter(action="demo.seeded", source="command").count() == 1


def test_seeded_loans_are_what_the_services_would_have_written(seeded):
    """Replay some seeded loans through drawdown_create and repayment_record on fresh lines."""
    with_penalty = Instalment.objects.filter(fee_due__gt=0).values_list("drawdown_id", flat=True)
    busy = (
        Drawdown.objects.annotate(n=Count("repayments"))
        .filter(n__gte=3)
        .values_list("id", flat=True)
    )
    picked = sorted(set(with_penalty[:10]) | set(busy[:10]))
    loans = Drawdown.objects.filter(pk__in=picked).select_related("line", "bank_account")
    assert len(loans) >= 10
    for n, seeded_loan in enumerate(loans):
        borrower = services.borrower_register(
            actor=None,
            customer_no=f"REPLAY{n}",
            name="replay",
            national_id="110101199001011234",
            mobile="13800000000",
            city="上海",
            income_band="5k_10k",
            registered_at=seeded_loan.disbursed_at - timedelta(days=1),
            credit_limit=seeded_loan.line.credit_limit,
            daily_rate=seeded_loan.daily_rate,
        )
        replay = services.drawdown_create(
            actor=None,
            borrower=borrower,
            loan_no=f"R{seeded_loan.loan_no}",
            amount=seeded_loan.amount,
            term_months=seeded_loan.term_months,
            repayment_mode=seeded_loan.repayment_mode,
            purpose=seeded_loan.purpose,
            card_no=seeded_loan.bank_account.card_no,
            bank_name="x",
            disbursed_at=seeded_loan.disbursed_at,
        )
        for repayment in seeded_loan.repayments.order_by("paid_at", "id"):
            services.repayment_record(
                actor=None,
                loan_no=replay.loan_no,
                reference=f"R{repayment.reference}",
                amount=repayment.amount,
                paid_at=repayment.paid_at,
            )
        replay.refresh_from_db()
        assert (replay.apr, replay.status, replay.principal_outstanding, replay.settled_at) == (
            seeded_loan.apr,
            seeded_loan.status,
            seeded_loan.principal_outstanding,
            seeded_loan.settled_at,
        )
        fields = (
            "seq",
            "due_date",
            "principal_due",
            "interest_due",
            "fee_due",
            "principal_paid",
            "interest_paid",
            "fee_paid",
            "penalty_through",
            "paid_off_at",
        )
        assert list(replay.instalments.order_by("seq").values_list(*fields)) == list(
            seeded_loan.instalments.order_by("seq").values_list(*fields)
        )
        allocation = ("instalment__seq", "fee", "interest", "principal")
        assert list(
            RepaymentAllocation.objects.filter(repayment__drawdown=replay)
            .order_by("repayment__paid_at", "instalment__seq")
            .values_list(*allocation)
        ) == list(
            RepaymentAllocation.objects.filter(repayment__drawdown=seeded_loan)
            .order_by("repayment__paid_at", "instalment__seq")
            .values_list(*allocation)
        )


def test_a_borrowers_history_depends_only_on_the_seed_and_its_index():
    plan = book.make_plan(seed=5, borrowers=50, months=6, as_of=AS_OF, service_user_id=None)
    alone = book.new_rows()
    book.generate_borrower(plan, 17, book.Ids(dict.fromkeys(book.TABLES, 1)), alone)
    chunk = book.generate_chunk(plan, 10, 20, book.Ids(dict.fromkeys(book.TABLES, 1)))
    customer = [row for row in chunk["borrower"] if row[1] == "C00000018"][0]
    assert customer[1:] == alone["borrower"][0][1:]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_bulk_mode_writes_the_same_book(seeded):
    """Runs last: a transactional test empties the database afterwards."""
    from django.db import connection

    from demo.seeding import SeedOptions, ensure_staff_logins, seed_book

    if connection.vendor != "postgresql":
        pytest.skip("bulk mode's parallel COPY needs PostgreSQL")
    serial = checksum()
    call_command("flush", interactive=False, verbosity=0)
    service, _ = ensure_staff_logins()
    options = SeedOptions(
        borrowers=200, months=9, seed=42, as_of=AS_OF, bulk=True, chunk_size=37, workers=2
    )
    result = seed_book(options, service_user_id=service.pk)
    assert result.counts["borrower"] == 200
    assert checksum() == serial
