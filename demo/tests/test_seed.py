"""The demo seeder: deterministic, consistent with the services' math and the day close, and
every feature there.

One small book (200 borrowers, 9 months: long enough for write-offs) is seeded once per module
and shared by the read-only checks; the determinism and --if-empty checks seed again.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Min, Sum
from django.utils import timezone

from accounts.models import AuditEvent, User
from demo import book, history, plan
from demo.models import DemoBorrowerProfile
from demo.seeding import DEMO_PASSWORD
from demo.tests.flush import flush_keeping_shipped_rows
from lending import caps, money, services
from lending.choices import (
    DrawdownStatus,
    IdentityCheckResult,
    LimitChangeKind,
    LineStatus,
    LineStatusCode,
    NoticeKind,
    Purpose,
    TransitionKind,
)
from lending.models import (
    BankAccount,
    Borrower,
    CreditLine,
    DayClose,
    DeclaredAsset,
    Device,
    Drawdown,
    Instalment,
    LimitChange,
    LineTransition,
    Notice,
    Repayment,
    RepaymentAllocation,
    TransferOut,
)
from monitoring.choices import EventKind
from monitoring.models import Event

AS_OF = date(2026, 6, 30)
# The book alone: its alerts, champion, policy and scoring run are test_decisioning.py's.
ARGS = [
    *("--borrowers", "200", "--months", "9", "--seed", "42", "--as-of", AS_OF.isoformat()),
    *("--without-alerts", "--without-decisions"),
]
INSTALMENT_FIELDS = (
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
            "home_address",
            "emergency_contact_name",
            "emergency_contact_mobile",
        ),
        CreditLine.objects.order_by("id").values_list(
            "id",
            "credit_limit",
            "used",
            "status",
            "status_code",
            "status_reason",
            "daily_rate",
            "oldest_unpaid_due",
            "closed_at",
        ),
        Device.objects.order_by("id").values_list("device_id", "ip_address", "last_seen_at"),
        Drawdown.objects.order_by("id").values_list(
            "id",
            "loan_no",
            "amount",
            "apr",
            "disbursed_at",
            "status",
            "principal_outstanding",
            "settled_at",
            "written_off_at",
            "written_off_principal",
            "bank_account_id",
            "device_id",
        ),
        Instalment.objects.order_by("id").values_list("id", *INSTALMENT_FIELDS),
        Repayment.objects.order_by("id").values_list(
            "id", "reference", "amount", "paid_at", "unapplied_amount"
        ),
        RepaymentAllocation.objects.order_by("id").values_list(
            "repayment_id", "instalment_id", "fee", "interest", "principal"
        ),
        TransferOut.objects.order_by("id").values_list("reference", "amount", "occurred_at"),
        Event.objects.order_by("id").values_list(
            "event_id", "kind", "occurred_at", "payload", "payload_digest"
        ),
        LineTransition.objects.order_by("id").values_list(
            "line_id", "day", "kind", "from_bucket", "to_bucket", "dpd", "balance", "created_at"
        ),
        Notice.objects.order_by("id").values_list("borrower_id", "kind", "params", "created_at"),
        DemoBorrowerProfile.objects.order_by("borrower_id").values_list(
            "borrower_id", "latent_risk", "archetype"
        ),
        DayClose.objects.order_by("day").values_list(
            "day", "status", "penalty_accrued", "instalments_accrued", "transitions", "written_off"
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
        flush_keeping_shipped_rows()


# Plain (rolled back) tests: the module's committed book survives each of them.
pytestmark = pytest.mark.django_db


def test_seeding_twice_with_reset_gives_the_same_book(seeded):
    first = checksum()
    seed("--reset")
    assert checksum() == first
    assert Borrower.objects.count() == 200


def test_the_chunk_size_changes_nothing(seeded):
    first = checksum()
    seed("--reset", "--chunk-size", "37")
    assert checksum() == first


def test_if_empty_changes_nothing_on_a_seeded_database(seeded):
    before = (checksum(), AuditEvent.objects.count(), User.objects.count())
    output = seed("--if-empty")
    assert "nothing seeded" in output
    assert (checksum(), AuditEvent.objects.count(), User.objects.count()) == before


def test_used_is_the_principal_outstanding_of_the_active_loans(seeded):
    outstanding = dict(
        Drawdown.objects.filter(status=DrawdownStatus.ACTIVE)
        .values_list("line_id")
        .annotate(s=Sum("principal_outstanding"))
    )
    for line in CreditLine.objects.all():
        assert Decimal(0) <= line.used <= line.credit_limit
        assert line.used == outstanding.get(line.pk, Decimal("0.00"))


def test_every_line_s_history_chains_to_its_status_and_limit_now(seeded):
    """Frozen and closed lines carry the history rows the services would have written (a
    point-in-time read of the line, such as a backtest's, sees the freeze when it happened)."""
    changes = defaultdict(list)
    for change in LimitChange.objects.order_by("effective_at", "id"):
        changes[change.line_id].append(change)
    kinds: Counter[str] = Counter()
    for line in CreditLine.objects.all():
        rows = changes.get(line.pk, [])
        status: str = LineStatus.ACTIVE
        limit = rows[0].old_limit if rows else line.credit_limit
        for row in rows:
            assert (row.old_status, row.old_limit) == (status, limit), row
            status, limit = row.new_status, row.new_limit
            kinds[row.kind] += 1
        assert (status, limit) == (line.status, line.credit_limit), line.pk
        if line.status == LineStatus.CLOSED:
            assert rows[-1].kind == LimitChangeKind.CLOSE
            assert rows[-1].effective_at == line.closed_at
        if line.status == LineStatus.FROZEN:
            assert any(r.kind == LimitChangeKind.FREEZE for r in rows)
    assert kinds[LimitChangeKind.FREEZE] > 0 and kinds[LimitChangeKind.CLOSE] > 0, kinds


def test_oldest_unpaid_due_is_the_earliest_uncleared_instalment_on_the_book(seeded):
    earliest = dict(
        Instalment.objects.filter(paid_off_at__isnull=True, drawdown__status=DrawdownStatus.ACTIVE)
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
        owed = drawdown.amount - paid[drawdown.pk]
        if drawdown.status == DrawdownStatus.WRITTEN_OFF:
            assert (drawdown.principal_outstanding, drawdown.written_off_principal) == (0, owed)
        else:
            assert drawdown.principal_outstanding == owed
        settled = drawdown.status == DrawdownStatus.SETTLED
        assert settled == (drawdown.settled_at is not None)
    allocated = dict(
        RepaymentAllocation.objects.values_list("repayment_id").annotate(
            s=Sum("fee") + Sum("interest") + Sum("principal")
        )
    )
    for repayment in Repayment.objects.all():
        assert allocated[repayment.pk] == repayment.amount - repayment.unapplied_amount
    parts: defaultdict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for inst_id, fee, interest, principal_part in RepaymentAllocation.objects.values_list(
        "instalment_id", "fee", "interest", "principal"
    ):
        parts[inst_id][0] += fee
        parts[inst_id][1] += interest
        parts[inst_id][2] += principal_part
    for inst in Instalment.objects.select_related("drawdown"):
        assert [inst.fee_paid, inst.interest_paid, inst.principal_paid] == (
            parts.get(inst.pk, [0, 0, 0])
        )
        assert (inst.paid_off_at is not None) == money.is_cleared(inst)
        if inst.drawdown.status == DrawdownStatus.SETTLED:
            assert inst.remaining == 0


def test_every_demo_feature_is_in_the_book(seeded):
    assert Borrower.objects.filter(identity_check=IdentityCheckResult.MISMATCHED).exists()
    assert DeclaredAsset.objects.filter(verified=True).exists()
    assert DeclaredAsset.objects.filter(verified=False).exists()
    assert set(Drawdown.objects.values_list("purpose", flat=True)) == set(Purpose.values)
    purposes = Counter(Drawdown.objects.values_list("purpose", flat=True))
    assert purposes.most_common(1)[0][0] == Purpose.DAILY_CONSUMPTION
    terms = Counter(Drawdown.objects.values_list("term_months", flat=True))
    assert {3, 6, 12} <= set(terms)
    assert terms.most_common(1)[0][0] == 12
    assert 1 not in terms  # no one-instalment loans
    assert CreditLine.objects.filter(drawdowns__isnull=True).exists()  # lines never drawn
    assert CreditLine.objects.filter(
        status=LineStatus.FROZEN, status_code=LineStatusCode.OVERDUE
    ).exists()
    assert Drawdown.objects.filter(status=DrawdownStatus.SETTLED).exists()
    assert Instalment.objects.filter(fee_due__gt=0).exists()  # penalties accrued on late ones
    assert set(Event.objects.values_list("kind", flat=True)) == set(EventKind.values)
    assert DemoBorrowerProfile.objects.count() == Borrower.objects.count()
    assert {"steady", "dormant", "ring"} <= set(
        DemoBorrowerProfile.objects.values_list("archetype", flat=True)
    )


def test_rings_share_phones_wifi_and_addresses_never_cards_or_mobiles(seeded):
    devices = Counter(
        Device.objects.values("device_id")
        .annotate(n=Count("borrower", distinct=True))
        .values_list("n", flat=True)
    )
    assert any(n >= 3 for n in devices)  # a ring's phones
    assert devices[2] >= 1  # a household's shared phone
    shared_ip = Device.objects.exclude(ip_address=None).values("ip_address")
    assert shared_ip.annotate(n=Count("borrower", distinct=True)).filter(n__gte=3).exists()
    addresses = Borrower.objects.values("home_address").annotate(n=Count("id"))
    assert addresses.filter(n__gte=3).exists()
    contacts = Borrower.objects.values("emergency_contact_mobile").annotate(n=Count("id"))
    assert contacts.filter(n__gte=2).exists()  # a ring's organiser
    mobiles = set(Borrower.objects.values_list("mobile", flat=True))
    assert Borrower.objects.filter(emergency_contact_mobile__in=mobiles).exists()  # couples
    # A payout card passes the four-factor check and a mobile is real-name registered.
    cards = BankAccount.objects.values("card_no").annotate(n=Count("borrower", distinct=True))
    assert not cards.filter(n__gte=2).exists()
    assert len(mobiles) == Borrower.objects.count()


def _close(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.max))


def test_the_book_is_closed_through_the_as_of_day(seeded):
    """What lending's nightly day close leaves: penalty through the day, write-offs at the
    threshold with their transitions, notices and closed lines, and the day's row."""
    close = DayClose.objects.get()
    assert (close.day, close.status) == (AS_OF, "done")
    assert close.transitions == LineTransition.objects.filter(day=AS_OF).count()
    overdue = Instalment.objects.filter(
        drawdown__status=DrawdownStatus.ACTIVE,
        due_date__lt=AS_OF,
        principal_paid__lt=F("principal_due"),
    )
    assert overdue.exists()
    assert set(overdue.values_list("penalty_through", flat=True)) == {AS_OF}
    threshold = caps.write_off_dpd()
    for loan in Drawdown.objects.filter(status=DrawdownStatus.ACTIVE):
        oldest = loan.instalments.filter(paid_off_at=None).aggregate(d=Min("due_date"))["d"]
        assert money.days_past_due(oldest, AS_OF) < threshold
    written_off = Drawdown.objects.filter(status=DrawdownStatus.WRITTEN_OFF).select_related("line")
    assert written_off.exists()
    for loan in written_off:
        oldest = loan.instalments.filter(paid_off_at=None).aggregate(d=Min("due_date"))["d"]
        day = oldest + timedelta(days=threshold)
        assert loan.written_off_at == _close(day)
        # Penalty runs on overdue principal through the write-off day (an interest-first loan
        # written off before its principal fell due has none overdue: the set is empty).
        assert set(
            loan.instalments.filter(
                due_date__lt=day, principal_paid__lt=F("principal_due")
            ).values_list("penalty_through", flat=True)
        ) <= {day}
        row = LineTransition.objects.get(line=loan.line, day=day, kind=TransitionKind.WRITTEN_OFF)
        assert row.balance >= loan.written_off_principal
        assert Notice.objects.filter(
            borrower_id=loan.borrower_id, kind=NoticeKind.WRITTEN_OFF, params__loan_no=loan.loan_no
        ).exists()
        if not loan.line.drawdowns.filter(status=DrawdownStatus.ACTIVE).exists():
            assert loan.line.status == LineStatus.CLOSED
            assert loan.line.status_code == LineStatusCode.WRITTEN_OFF
            assert loan.line.closed_at is not None


def test_transitions_chain_bucket_by_bucket(seeded):
    """Each line's transitions read as the nightly closes saw it: entered one bucket after
    another, cured back to M0, the DPD inside the bucket it names."""
    by_line: defaultdict[int, list[LineTransition]] = defaultdict(list)
    for row in LineTransition.objects.order_by("day", "kind"):
        by_line[row.line_id].append(row)
    assert {TransitionKind.ENTERED, TransitionKind.CURED, TransitionKind.WRITTEN_OFF} <= {
        row.kind for rows in by_line.values() for row in rows
    }
    for rows in by_line.values():
        bucket = "M0"
        for row in rows:
            assert row.day <= AS_OF
            assert money.bucket_for(row.dpd) == row.to_bucket
            if row.kind == TransitionKind.WRITTEN_OFF:
                # The line's DPD as the write-off found it: loans written off before no
                # longer count there, while the nightly transitions still read them.
                assert row.from_bucket == row.to_bucket
                assert int(row.to_bucket[1:]) <= int(bucket[1:])
                continue
            assert row.from_bucket == bucket
            if row.kind == TransitionKind.CURED:
                assert row.to_bucket == "M0"
            else:
                assert int(row.to_bucket[1:]) > int(bucket[1:])
            bucket = row.to_bucket


def test_the_next_nights_close_finds_nothing_left_over(seeded):
    """lending's own day close, run for the day after the book's last: it writes off only
    loans reaching the threshold that very day, and books one more day of penalty."""
    day = AS_OF + timedelta(days=1)
    if day >= timezone.localdate():
        pytest.skip("the day after the book's as-of date has not ended yet")
    before = set(
        Drawdown.objects.filter(status=DrawdownStatus.WRITTEN_OFF).values_list("pk", flat=True)
    )
    close = services.day_close_run(day=day)
    assert close.status == "done"
    for loan in Drawdown.objects.filter(status=DrawdownStatus.WRITTEN_OFF).exclude(pk__in=before):
        oldest = loan.instalments.filter(paid_off_at=None).aggregate(d=Min("due_date"))["d"]
        assert money.days_past_due(oldest, day) == caps.write_off_dpd()


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
    from monitoring.services import event_storage_form
    from monitoring.validation import canonical, events_parse

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
    # A device's address is the one its last login came from.
    for device in Device.objects.order_by("id")[:50]:
        last = (
            Event.objects.filter(kind=EventKind.LOGIN, result__device_record_id=device.pk)
            .order_by("-occurred_at")
            .first()
        )
        assert last is not None
        assert last.payload["ip"] == device.ip_address


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


def test_late_at_night_ordinary_borrowers_draw_small_sums(seeded):
    """23:00-06:59: a steady borrower or a revolver draws a bill's worth, not the line (the
    large late withdrawals are the night owls', the stressed borrowers' and the fraudsters')."""
    from demo.behaviour import REVOLVER, STEADY
    from demo.borrowing import LATE_CAP

    ordinary = set(
        DemoBorrowerProfile.objects.filter(archetype__in=[STEADY, REVOLVER]).values_list(
            "borrower_id", flat=True
        )
    )
    late = [
        d
        for d in Drawdown.objects.filter(borrower_id__in=ordinary)
        if timezone.localtime(d.disbursed_at).hour in {23, 0, 1, 2, 3, 4, 5, 6}
    ]
    assert late
    # Only borrowers in the weeks before their default draw more then (cash needed now).
    large = [d for d in late if d.amount > LATE_CAP]
    assert len(large) <= max(1, len(late) // 10)


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
    assert borrower_login.borrower_id is not None
    assert Borrower.objects.get(pk=borrower_login.borrower_id).customer_no == "C00000001"
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="analyst").check_password(DEMO_PASSWORD)
    assert User.objects.get(username="lending-core").auth_token.key in seeded
    assert AuditEvent.objects.filter(action="demo.seeded", source="command").count() == 1


def _replay(n: int, seeded_loan: Drawdown) -> Drawdown:
    """The seeded loan drawn and repaid again through the services, on a fresh line."""
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
        stored = services.repayment_record(
            actor=None,
            loan_no=replay.loan_no,
            reference=f"R{repayment.reference}",
            amount=repayment.amount,
            paid_at=repayment.paid_at,
        )
        assert stored.unapplied_amount == repayment.unapplied_amount
    replay.refresh_from_db()
    return replay


def _allocations(loan: Drawdown) -> list[tuple[object, ...]]:
    return list(
        RepaymentAllocation.objects.filter(repayment__drawdown=loan)
        .order_by("repayment__paid_at", "instalment__seq")
        .values_list("instalment__seq", "fee", "interest", "principal")
    )


def test_seeded_loans_are_what_the_services_would_have_written(seeded):
    """Replay seeded loans through drawdown_create and repayment_record on fresh lines: loans
    cured after a lapse (penalty paid), settled early (some paying above the payoff), paid
    ahead in part (the schedule re-amortised), and busy ones. Loans past due at the as-of date
    are the next test's (the day close's penalty is on them too)."""
    current = Drawdown.objects.exclude(status=DrawdownStatus.WRITTEN_OFF).exclude(
        instalments__due_date__lt=AS_OF, instalments__paid_off_at=None
    )
    ids = [
        *current.filter(instalments__fee_due__gt=0).values_list("id", flat=True)[:8],
        *current.filter(repayments__unapplied_amount__gt=0).values_list("id", flat=True)[:3],
        *current.filter(status=DrawdownStatus.SETTLED).values_list("id", flat=True)[:6],
        *current.annotate(n=Count("repayments")).filter(n__gte=5).values_list("id", flat=True)[:6],
    ]
    loans = Drawdown.objects.filter(pk__in=set(ids)).select_related("line", "bank_account")
    assert len(loans) >= 15
    for n, seeded_loan in enumerate(loans):
        replay = _replay(n, seeded_loan)
        assert (replay.apr, replay.status, replay.principal_outstanding, replay.settled_at) == (
            seeded_loan.apr,
            seeded_loan.status,
            seeded_loan.principal_outstanding,
            seeded_loan.settled_at,
        )
        assert list(replay.instalments.order_by("seq").values_list(*INSTALMENT_FIELDS)) == list(
            seeded_loan.instalments.order_by("seq").values_list(*INSTALMENT_FIELDS)
        )
        assert _allocations(replay) == _allocations(seeded_loan)


def test_past_due_loans_are_what_the_services_and_the_day_close_would_have_written(seeded):
    """Loans past due at the as-of date, and written off: their repayments replayed through
    the services, then the day close's accrual (money.accrue_penalties, the function
    day_close runs each night) through the as-of day, or the write-off day."""
    past_due = Drawdown.objects.filter(
        instalments__due_date__lt=AS_OF, instalments__paid_off_at=None
    ).distinct()
    loans = list(past_due.select_related("line", "bank_account").order_by("id")[:15])
    assert any(loan.status == DrawdownStatus.WRITTEN_OFF for loan in loans)
    assert any(loan.status == DrawdownStatus.ACTIVE for loan in loans)
    for n, seeded_loan in enumerate(loans):
        replay = _replay(n, seeded_loan)
        through = AS_OF
        if seeded_loan.written_off_at is not None:
            through = timezone.localdate(seeded_loan.written_off_at)
            assert replay.principal_outstanding == seeded_loan.written_off_principal
        instalments = list(replay.instalments.order_by("seq"))
        money.accrue_penalties(instalments, daily_rate=replay.daily_rate, on=through)
        assert [tuple(getattr(i, f) for f in INSTALMENT_FIELDS) for i in instalments] == list(
            seeded_loan.instalments.order_by("seq").values_list(*INSTALMENT_FIELDS)
        )
        assert _allocations(replay) == _allocations(seeded_loan)


def test_a_borrowers_history_depends_only_on_the_seed_and_its_index():
    the_plan = plan.make_plan(seed=5, borrowers=50, months=6, as_of=AS_OF, service_user_id=None)
    alone = book.new_rows()
    history.generate_borrower(the_plan, 17, book.Ids(dict.fromkeys(book.TABLES, 1)), alone)
    chunk = history.generate_chunk(the_plan, 10, 20, book.Ids(dict.fromkeys(book.TABLES, 1)))
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
