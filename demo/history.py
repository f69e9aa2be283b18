"""One demo borrower's whole history, generated in memory as rows ready to write.

Each borrower is generated from its own `random.Random(f"{seed}:{index}")`, so a borrower's
history depends only on the seed and its index, never on chunking or on the order the
borrowers are written in. What spans borrowers (rings, households) is planned once by
demo.plan.

In order: the hidden profile (demo.behaviour), identity and line, cards and phones, declared
assets, drawdowns and repayments (demo.borrowing, money through demo.book.Loan), the nightly
day closes (demo.closing), then the rows, and the events the lending core would have posted.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from math import log
from typing import Any

from demo import behaviour, closing, people
from demo.book import TALLY, Ids, Loan, Rows, fill_aprs, new_rows
from demo.borrowing import DRAW_HOURS, Borrowing, Event, Seen, at_hour, floor_amount
from demo.plan import BookPlan, onboarding_day
from lending import money
from lending.choices import (
    AssetKind,
    DrawdownStatus,
    IdentityCheckResult,
    IncomeBand,
    LimitChangeKind,
    LineStatus,
    LineStatusCode,
    NoticeKind,
)
from lending.search_keys import national_id_hash
from monitoring.choices import EventKind
from monitoring.services import event_storage_form

ZERO = Decimal("0.00")
# The grid of daily rates the demo lender prices on: 0.0200% to 0.0600% a day in 0.005% steps
# (7.3% to 21.9% a year, clear of the 24% ceiling even after a small loan's fen rounding).
RATE_GRID = tuple(Decimal("0.000200") + Decimal("0.000050") * i for i in range(9))
INCOME_BANDS = (
    (IncomeBand.BELOW_3K, 15, 2000),
    (IncomeBand.FROM_3K, 30, 5000),
    (IncomeBand.FROM_5K, 32, 10000),
    (IncomeBand.FROM_10K, 16, 20000),
    (IncomeBand.ABOVE_20K, 7, 35000),
)
INCOME_CUM = people.cumulative([w for _, w, _ in INCOME_BANDS])
ASSETS = (
    (AssetKind.DEPOSIT, 35, 5000, 200000),
    (AssetKind.WEALTH, 20, 10000, 300000),
    (AssetKind.HOUSING_FUND, 25, 3000, 150000),
    (AssetKind.INSURANCE, 8, 5000, 100000),
    (AssetKind.SECURITIES, 8, 5000, 500000),
    (AssetKind.OTHER, 4, 1000, 50000),
)
ASSET_CUM = people.cumulative([a[1] for a in ASSETS])
# decisions.policy freezes a line past its freeze DPD with reason F01, code overdue.
FREEZE_NOTE = "F01"


def _lender_view(rng: random.Random, risk: float) -> float:
    """The lender's own score of the borrower: the latent risk, seen through noise (in standard
    deviations above the average risk; what prices the rate and sizes the limit)."""
    return log(max(risk, 0.002) / 0.07) / 1.1 + rng.gauss(0, 1.0)


def generate_borrower(plan: BookPlan, index: int, ids: Ids, out: Rows) -> None:
    """Append one borrower's whole history to `out` (see the module docstring)."""
    rng = random.Random(f"{plan.seed}:{index}")  # noqa: S311  (demo data: reproducible)
    ring = plan.ring_of.get(index)
    household = plan.household_of.get(index)
    member = household.members.index(index) if household else 0
    good = index == 0
    customer_no = f"C{index + 1:08d}"
    borrower_id = ids.take("borrower")
    line_id = ids.take("line")
    events: list[Event] = []

    # 1. The hidden profile, and who the borrower is.
    band_rank = rng.choices(range(len(INCOME_BANDS)), cum_weights=INCOME_CUM)[0]
    band, _, base_limit = INCOME_BANDS[band_rank]
    profile = behaviour.draw_profile(rng, band_rank=band_rank, good=good, ring=ring is not None)
    if ring:
        day = min(ring.day + rng.randint(0, 5), plan.days - 2)
    elif household:
        day = household.days[member]
    elif good:
        day = rng.randint(0, min(10, plan.days - 2))
    else:
        day = onboarding_day(rng.random(), plan.days)
    registered = at_hour(rng, plan.start + timedelta(days=day), DRAW_HOURS)
    if household:
        person = household.people[member]
        male, name, mobile = person.male, person.name, person.mobile
        city, areas = household.city, household.areas
    else:
        male = rng.random() < 0.56
        name = people.person_name(rng, male=male)
        mobile = people.mobile(rng)
        city, areas = (ring.city, ring.areas) if ring else people.pick_city(rng)
    employer = ring.employer if ring else people.employer(rng, city)
    nid = people.national_id(
        rng, area=rng.choice(areas), birth=people.birth_date(rng, on=plan.as_of), male=male
    )
    if household:
        address = household.address
        partner = household.people[1 - member]
        contact = (partner.name, partner.mobile)
    else:
        address = ring.address if ring and rng.random() < 0.6 else people.home_address(rng, city)
        if ring and rng.random() < 0.75:
            contact = ring.organiser
        else:
            contact = (people.relative_name(rng, name), people.mobile(rng))
    home_ip = household.ip if household else people.ip_address(rng)
    u = rng.random()
    mismatch = 0.02 + 0.12 * profile.risk + (0.2 if ring else 0.0)
    if u < mismatch:
        check, source = IdentityCheckResult.MISMATCHED, rng.choice(people.IDENTITY_SOURCES)
    elif u < 0.88:
        check, source = IdentityCheckResult.MATCHED, rng.choice(people.IDENTITY_SOURCES)
    else:
        check, source = IdentityCheckResult.NOT_CHECKED, ""
    checked_at = registered + timedelta(seconds=rng.randint(5, 300)) if source else None
    view = _lender_view(rng, profile.risk)
    limit = Decimal(base_limit) * Decimal(
        str(round(rng.lognormvariate(0, 0.45) * min(1.6, max(0.3, 1 - 0.25 * view)), 3))
    )
    limit = money.to_fen(min(max(floor_amount(limit), Decimal(300)), Decimal(50000)))
    rate = RATE_GRID[min(len(RATE_GRID) - 1, max(0, round(3 + 1.6 * view)))]
    opened_at = (checked_at or registered) + timedelta(seconds=rng.randint(30, 600))
    events.append(
        (
            opened_at,
            EventKind.LINE_OPENED,
            {
                "name": name,
                "national_id": nid,
                "mobile": mobile,
                "city": city,
                "employer": employer,
                "income_band": str(band),
                "credit_limit": str(limit),
                "daily_rate": str(rate),
            },
            {"line_id": line_id},
            None,
        )
    )

    # 2. Cards and phones: one of each at registration, sometimes more later. A ring's phones
    # (used from its Wi-Fi) and a household's shared phone are the borrower's devices too.
    cards: list[Seen] = []
    devices: list[Seen] = []

    def add_card(label: tuple[str, str], at: datetime) -> Seen:
        seen = Seen(ids.take("bank"), label, at, at)
        cards.append(seen)
        body = {"bank_name": label[0], "card_no": label[1]}
        events.append(
            (at, EventKind.BANK_ACCOUNT_CHANGE, body, {"bank_account_id": seen.row_id}, None)
        )
        return seen

    def add_device(label: tuple[str, str], at: datetime, network: str = "") -> Seen:
        seen = Seen(ids.take("device"), label, at, at, network=network)
        devices.append(seen)
        body = {"device_id": label[0], "platform": label[1]}
        events.append((at, EventKind.DEVICE_CHANGE, body, {"device_record_id": seen.row_id}, None))
        return seen

    platform = "ios" if rng.random() < 0.3 else "android"
    own_device = add_device((people.device_id(rng, platform), platform), registered)
    add_card(people.card(rng), opened_at + timedelta(seconds=rng.randint(10, 300)))
    shared: list[Seen] = []
    if ring:
        shared = [
            add_device(d, registered + timedelta(seconds=rng.randint(1, 60)), ring.ip)
            for d in ring.devices
        ]
    elif household:
        at = registered + timedelta(seconds=rng.randint(1, 60))
        shared = [add_device(household.device, at, household.ip)]
    own = [own_device]
    later = plan.days - day
    if rng.random() < 0.15:
        at = at_hour(
            rng, registered.date() + timedelta(days=rng.randint(1, max(1, later))), DRAW_HOURS
        )
        if at < plan.cutoff:
            add_card(people.card(rng), at)
    if rng.random() < 0.2:
        at = at_hour(
            rng, registered.date() + timedelta(days=rng.randint(1, max(1, later))), DRAW_HOURS
        )
        if at < plan.cutoff:
            platform = "ios" if rng.random() < 0.3 else "android"
            own.append(add_device((people.device_id(rng, platform), platform), at))
    cards.sort(key=lambda s: s.first)
    own.sort(key=lambda s: s.first)

    def new_phone(at: datetime) -> Seen:
        platform = "ios" if rng.random() < 0.3 else "android"
        return add_device((people.device_id(rng, platform), platform), at)

    # 3. Declared assets: more likely for higher incomes; some verified.
    assets = _assets(rng, plan, ids, borrower_id, registered, band_rank)

    # 4. Drawdowns and repayments, and logins along the way.
    borrowing = Borrowing(
        plan=plan,
        rng=rng,
        profile=profile,
        index=index,
        ids=ids,
        limit=limit,
        rate=rate,
        home_ip=home_ip,
        cards=cards,
        devices=own,
        shared_devices=shared,
        events=events,
        new_phone=new_phone,
    )
    # Every phone logs in when it is bound (a new phone: the first login from it).
    for seen in (*shared, *own):
        borrowing.login(seen.first + timedelta(seconds=rng.randint(1, 30)), seen)
    borrowing.run(opened_at)
    months_active = max(1, (plan.cutoff - registered).days // 30)
    for _ in range(sum(1 for _ in range(months_active) if rng.random() < 0.1)):
        at = at_hour(
            rng, registered.date() + timedelta(days=rng.randint(1, max(1, later))), DRAW_HOURS
        )
        if at < plan.cutoff:
            borrowing.login(at)
    loans = borrowing.loans

    # 5. The nightly day closes: penalty to date, write-offs, the line's transitions.
    close = closing.close_line(loans, as_of=plan.as_of)

    # 6. Rows. The line's derived fields come from the schedules, as the services keep them.
    used = sum(
        (
            loan.principal_outstanding
            for loan in loans
            if loan.settled_at is None and loan.written_off_at is None
        ),
        ZERO,
    )
    # Written-off loans are off the book: they no longer drive the line's DPD.
    oldest = min(
        (
            s.due_date
            for loan in loans
            if loan.written_off_at is None
            for s in loan.states
            if s.paid_off_at is None
        ),
        default=None,
    )
    status, code, note, closed_at = LineStatus.ACTIVE, LineStatusCode.OPENED, "", None
    notices = list(close.notices)
    frozen_at = None
    if borrowing.frozen_on is not None:
        # The limit policy's review after that night's close (decisions.services.line_review).
        status, code, note = LineStatus.FROZEN, LineStatusCode.OVERDUE, FREEZE_NOTE
        frozen_at = closing.run_of(borrowing.frozen_on) + timedelta(minutes=1)
        notices.append((frozen_at, NoticeKind.LINE_FROZEN, {"reason_code": str(code)}))
    if close.closed_at is not None:
        # drawdown_write_off closes the line with the day close's (empty) note.
        status, code, note = LineStatus.CLOSED, LineStatusCode.WRITTEN_OFF, ""
        closed_at = close.closed_at
    # The line's history (lending.LimitChange) as the services write it: the policy's freeze,
    # then the write-off's close; the limit itself stays as opened (limit reviews come later,
    # from demo.decisioning, through the services).
    changes = []
    if frozen_at is not None and (closed_at is None or frozen_at < closed_at):
        changes.append(
            (frozen_at, LimitChangeKind.FREEZE, LineStatus.FROZEN, LineStatusCode.OVERDUE, True)
        )
    if closed_at is not None:
        changes.append((closed_at, LimitChangeKind.CLOSE, LineStatus.CLOSED, code, False))
    before = LineStatus.ACTIVE
    for at, change, after, reason, automatic in sorted(changes, key=lambda c: c[0]):
        out["limitchange"].append(
            (
                ids.take("limitchange"),
                line_id,
                at,
                change,
                limit,
                limit,
                before,
                after,
                reason,
                automatic,
                "",
                "",
            )
        )
        before = after
    out["borrower"].append(
        (
            borrower_id,
            customer_no,
            name,
            nid,
            nid[-4:],
            mobile,
            mobile[-4:],
            city,
            employer,
            band,
            registered,
            check,
            source,
            checked_at,
            address,
            contact[0],
            contact[1],
            national_id_hash(nid),
        )
    )
    out["line"].append(
        (
            line_id,
            borrower_id,
            limit,
            used,
            status,
            rate,
            opened_at,
            None,
            note,
            oldest,
            code,
            closed_at,
        )
    )
    out["profile"].append((borrower_id, round(profile.risk, 4), profile.archetype))
    for seen in cards:
        out["bank"].append(
            (seen.row_id, borrower_id, seen.label[0], seen.label[1], seen.first, seen.last)
        )
    for seen in devices:
        out["device"].append(
            (seen.row_id, borrower_id, seen.label[0], seen.label[1], seen.first, seen.last, seen.ip)
        )
    out["asset"].extend(assets)
    _loan_rows(loans, borrower_id, line_id, cards, ids, out, events)
    for t in close.transitions:
        out["transition"].append(
            (
                ids.take("transition"),
                line_id,
                borrower_id,
                t.day,
                t.kind,
                t.from_bucket,
                t.to_bucket,
                t.dpd,
                t.balance,
                closing.run_of(t.day) + timedelta(seconds=rng.randint(1, 60)),
            )
        )
    for at, kind, params in sorted(notices, key=lambda n: n[0]):
        out["notice"].append((ids.take("notice"), borrower_id, kind, params, at, None))
    tally = close.tally
    out[TALLY].append((tally.penalty, tally.instalments, tally.transitions, tally.written_off))
    _transfer_rows(borrowing, borrower_id, index, ids, out, events)
    _event_rows(plan, rng, events, customer_no, borrower_id, ids, out)


def _assets(
    rng: random.Random, plan: BookPlan, ids: Ids, borrower_id: int, registered: datetime, rank: int
) -> list[tuple[Any, ...]]:
    """Declared assets: more likely for higher incomes; about half verified."""
    assets: list[tuple[Any, ...]] = []
    if rng.random() >= 0.10 + 0.04 * rank:
        return assets
    for _ in range(rng.randint(1, 2)):
        kind, _, low, high = rng.choices(ASSETS, cum_weights=ASSET_CUM)[0]
        declared = registered + timedelta(minutes=rng.randint(5, 60 * 24 * 20))
        if declared >= plan.cutoff:
            continue
        verified_at = declared + timedelta(days=rng.randint(1, 10))
        verified = rng.random() < 0.5 and verified_at < plan.cutoff
        amount = money.to_fen(floor_amount(Decimal(int(low * (high / low) ** rng.random()))))
        assets.append(
            (
                ids.take("asset"),
                borrower_id,
                kind,
                amount,
                declared,
                verified,
                verified_at if verified else None,
            )
        )
    return assets


def _loan_rows(
    loans: list[Loan],
    borrower_id: int,
    line_id: int,
    cards: list[Seen],
    ids: Ids,
    out: Rows,
    events: list[Event],
) -> None:
    """Drawdown, instalment, repayment and allocation rows, and the repayment events."""
    card_by_id = {seen.row_id: seen for seen in cards}
    for loan in loans:
        drawdown_id = loan.row_id
        outstanding = loan.principal_outstanding
        if loan.written_off_at is not None:
            status, written_off = DrawdownStatus.WRITTEN_OFF, outstanding
            outstanding = ZERO
        else:
            settled = loan.settled_at is not None
            status = DrawdownStatus.SETTLED if settled else DrawdownStatus.ACTIVE
            written_off = ZERO
        out["drawdown"].append(
            (
                drawdown_id,
                line_id,
                borrower_id,
                loan.loan_no,
                loan.amount,
                loan.term,
                loan.mode,
                loan.rate,
                None,  # the APR, filled in per chunk (demo.book.fill_aprs)
                loan.purpose,
                loan.disbursed_at,
                loan.card,
                loan.device,
                status,
                outstanding,
                loan.settled_at,
                loan.written_off_at,
                written_off,
            )
        )
        instalment_ids = []
        for s in loan.states:
            instalment_id = ids.take("instalment")
            instalment_ids.append(instalment_id)
            out["instalment"].append(
                (
                    instalment_id,
                    drawdown_id,
                    s.seq,
                    s.due_date,
                    s.principal_due,
                    s.interest_due,
                    s.fee_due,
                    s.principal_paid,
                    s.interest_paid,
                    s.fee_paid,
                    s.penalty_through,
                    s.paid_off_at,
                )
            )
        card = card_by_id[loan.card]
        for n, payment in enumerate(loan.payments, start=1):
            repayment_id = ids.take("repayment")
            reference = f"RP{loan.loan_no[2:]}{n:03d}"
            out["repayment"].append(
                (
                    repayment_id,
                    drawdown_id,
                    borrower_id,
                    reference,
                    payment.amount,
                    payment.paid_at,
                    loan.card,
                    payment.unapplied,
                )
            )
            for seq, fee, interest, principal in payment.parts:
                out["allocation"].append(
                    (
                        ids.take("allocation"),
                        repayment_id,
                        instalment_ids[seq - 1],
                        fee,
                        interest,
                        principal,
                    )
                )
            # The API takes a repayment's reference from its event id.
            events.append(
                (
                    payment.paid_at,
                    EventKind.REPAYMENT,
                    {
                        "loan_no": loan.loan_no,
                        "amount": str(payment.amount),
                        "card_no": card.label[1],
                    },
                    {"drawdown_id": drawdown_id, "repayment_id": repayment_id},
                    reference,
                )
            )


def _transfer_rows(
    borrowing: Borrowing, borrower_id: int, index: int, ids: Ids, out: Rows, events: list[Event]
) -> None:
    for n, (at, moved, to, account, is_lender, card) in enumerate(borrowing.transfers, start=1):
        reference = f"TO{index + 1:08d}{n:03d}"
        transfer_id = ids.take("transfer")
        out["transfer"].append(
            (transfer_id, borrower_id, reference, moved, at, to, account, is_lender, card.row_id)
        )
        events.append(
            (
                at,
                EventKind.TRANSFER_OUT,
                {
                    "amount": str(moved),
                    "counterparty_name": to,
                    "counterparty_account": account,
                    "counterparty_is_lender": is_lender,
                    "card_no": card.label[1],
                },
                {"transfer_out_id": transfer_id},
                reference,
            )
        )


def _utc_iso(moment: datetime) -> str:
    """A naive Shanghai time as the API's canonical UTC ISO 8601 string."""
    return (moment - timedelta(hours=8)).isoformat() + "+00:00"


def _event_rows(
    plan: BookPlan,
    rng: random.Random,
    events: list[Event],
    customer_no: str,
    borrower_id: int,
    ids: Ids,
    out: Rows,
) -> None:
    events.sort(key=lambda e: e[0])
    for n, (at, event_kind, body, result_ids, event_ref) in enumerate(events, start=1):
        event_id = event_ref or f"demo-{customer_no}-{n:04d}"
        # The payload is what the API stores: the canonical validated event (keys sorted,
        # amounts at their scale, times in UTC), kept masked with the digest of the full one,
        # so a later real post of the same event id replays; the result is what it answered.
        payload, payload_digest = event_storage_form(
            dict(
                sorted(
                    {
                        "event_id": event_id,
                        "kind": str(event_kind),
                        "occurred_at": _utc_iso(at),
                        "customer_no": customer_no,
                        **body,
                    }.items()
                )
            )
        )
        result = {
            "index": 0,
            "event_id": event_id,
            "kind": str(event_kind),
            "status": "recorded",
            "borrower_id": borrower_id,
            **result_ids,
        }
        received = at + timedelta(milliseconds=rng.randint(50, 3000))
        out["event"].append(
            (
                ids.take("event"),
                event_id,
                str(event_kind),
                borrower_id,
                at,
                received,
                payload,
                result,
                plan.service_user_id,
                payload_digest,
            )
        )


def generate_chunk(
    plan: BookPlan,
    first: int,
    last: int,
    ids: Ids,
    mapper: Callable[..., Iterable[Decimal]] = map,
) -> Rows:
    """Rows for borrowers first..last-1, APRs filled in."""
    out = new_rows()
    for index in range(first, last):
        generate_borrower(plan, index, ids, out)
    fill_aprs(out, mapper)
    return out
