"""Every figure of the book, by subject: delinquency, roll rates and cures, loans and lines,
vintages, fraud and multi-lender signals (and the scorecard, demo.metrics.scorecard)."""

from __future__ import annotations

from datetime import date

import numpy as np

from demo.metrics.report import Report
from demo.metrics.rows import (
    NIGHT_HOURS,
    SETTLED,
    Book,
    clusters,
    drawer_bad,
    first_day_at,
    loan_dpd,
    loan_states,
    month_end,
    month_ends,
    multi_lender_flags,
    shared_share,
)
from demo.metrics.scorecard import scorecard as fit_scorecard


def _share(part: float, whole: float) -> float:
    return part / whole if whole else float("nan")


def measure(book: Book, *, with_scorecard: bool = True) -> Report:
    """Every figure of the book (bench/book_metrics.py prints them; the tests assert them)."""
    report = Report()
    as_of = book.as_of.toordinal()
    _delinquency(book, report, as_of)
    _rolls(book, report)
    _loans(book, report, as_of)
    _vintages(book, report)
    _signals(book, report, as_of)
    if with_scorecard:
        fit_scorecard(book, report)
    return report


def _delinquency(book: Book, report: Report, as_of: int) -> None:
    active = (book.l_settled > as_of) & (book.l_written_off > as_of)
    balance = np.where(active, book.l_outstanding, 0.0)
    dpd = loan_dpd(book, as_of)
    total = balance.sum()
    report.add("DPD 1+ share of balance", _share(balance[dpd >= 1].sum(), total), 0.03, 0.06)
    report.add("DPD 30+ share of balance", _share(balance[dpd >= 30].sum(), total), 0.015, 0.045)
    report.add("DPD 90+ share of balance", _share(balance[dpd >= 90].sum(), total), 0.01, 0.03)
    report.add(
        "active loans past the write-off DPD",
        float((active & (dpd > 180)).sum()),
        0,
        0,
        percent=False,
        note="the day close writes them off",
    )
    wo = book.l_written_off <= as_of
    report.add("loans written off", float(wo.sum()), percent=False)
    report.add("principal written off (yuan)", float(book.l_wo_principal[wo].sum()), percent=False)
    overdue = (book.i_due < as_of) & (book.i_principal_unpaid > 0) & active[book.i_loan]
    stale = overdue & (book.i_penalty_through != as_of)
    report.add(
        "overdue instalments without penalty to date", float(stale.sum()), 0, 0, percent=False
    )
    report.add("day close row for the as-of date", float(book.day_close), 1, 1, percent=False)


def _rolls(book: Book, report: Report) -> None:
    ends = month_ends(book)
    states = [loan_states(book, e.toordinal()) for e in ends]
    targets = {0: (0.02, 0.05), 1: (0.30, 0.60), 2: (0.70, 0.92), 3: (0.80, 0.97)}
    cure_targets = {1: (0.35, 0.75), 2: (0.08, 0.25), 3: (0.03, 0.20)}
    rows = []
    for i in range(7):
        start = rolled = cured = 0.0
        monthly = []
        for (s0, b0), (s1, _) in zip(states, states[1:], strict=False):
            here = s0 == i
            base = b0[here].sum()
            worse = here & (s1 > i) & (s1 != SETTLED)
            back = here & ((s1 == 0) | (s1 == SETTLED)) & (i > 0)
            start += base
            rolled += b0[worse].sum()
            cured += b0[back].sum()
            monthly.append(_share(b0[worse].sum(), base))
        low, high = targets.get(i, (None, None))
        report.add(f"roll M{i}->M{i + 1}", _share(rolled, start), low, high)
        if i in cure_targets:
            report.add(
                f"cure from M{i} (to M0 next month end)", _share(cured, start), *cure_targets[i]
            )
        rows.append(f"  M{i}->M{i + 1}  " + " ".join(f"{m:6.1%}" for m in monthly))
    head = "  month  " + " ".join(f"{e:%y-%m}" for e in ends[1:])
    report.tables.append(
        ("Roll rates by month (balance-weighted, month end to month end)", [head, *rows])
    )
    # The bucket mix at each month end.
    mix = []
    for e, (s, b) in zip(ends, states, strict=True):
        total = b.sum()
        mix.append(
            f"  {e:%Y-%m}  "
            + " ".join(f"M{i} {_share(b[s == i].sum(), total):5.1%}" for i in range(7))
        )
    report.tables.append(("Balance by bucket at each month end", mix))


def _loans(book: Book, report: Report, as_of: int) -> None:
    n = len(book.l_id)
    last_due = np.zeros(n, dtype=np.int64)
    np.maximum.at(last_due, book.i_loan, book.i_due)
    early = (book.l_settled < last_due) & (book.l_settled <= as_of)
    report.add("loans settled early", _share(early.sum(), n), 0.20, 0.40)
    drawn = np.zeros(len(book.b_id), dtype=bool)
    drawn[book.l_borrower] = True
    report.add("lines never drawn", _share((~drawn).sum(), len(drawn)), 0.30, 0.50)
    report.add("loans of 12 months", _share((book.l_term == 12).sum(), n), 0.40, 0.60)
    amortising_1m = (book.l_term == 1) & (book.l_mode != "interest_first")
    report.add("1-month amortising loans", float(amortising_1m.sum()), 0, 0, percent=False)
    terms, counts = np.unique(book.l_term, return_counts=True)
    report.tables.append(
        (
            "Term mix (share of loans)",
            ["  " + "  ".join(f"{t}m {c / n:.1%}" for t, c in zip(terms, counts, strict=True))],
        )
    )
    # Onboarding: lines opened per calendar month.
    months = np.array([date.fromordinal(int(d)).strftime("%Y-%m") for d in book.b_opened])
    names, counts = np.unique(months, return_counts=True)
    report.add(
        "most lines opened in one month",
        counts.max() / counts.sum(),
        None,
        2.5 / max(1, len(names)),
        note=f"{len(names)} months",
    )
    report.tables.append(
        (
            "Onboarding: lines opened by month",
            [
                "  "
                + "  ".join(
                    f"{m} {c / counts.sum():.1%}" for m, c in zip(names, counts, strict=True)
                )
            ],
        )
    )
    # First payment default: the first instalment x days past due.
    first = book.i_seq == 1
    for x, (low, high) in ((1, (None, None)), (7, (None, None)), (30, (0.003, 0.03))):
        seen = first & (book.i_due + x <= as_of)
        bad = seen & (book.i_paid > book.i_due + x)
        report.add(f"FPD{x} (first instalment {x}+ DPD)", _share(bad.sum(), seen.sum()), low, high)


def _vintages(book: Book, report: Report) -> None:
    """Ever-30+ by month on book per disbursement-month cohort, by count and by amount."""
    first30 = first_day_at(book, 30)
    cohort = np.array([date.fromordinal(int(d)).strftime("%Y-%m") for d in book.l_day])
    for basis, weight in (("count", np.ones(len(book.l_id))), ("amount", book.l_amount)):
        lines = ["  cohort   loans " + "".join(f"{f'MOB{m}':>7}" for m in range(1, 13))]
        for name in np.unique(cohort):
            members = cohort == name
            year, month = map(int, name.split("-"))
            cells = []
            for m in range(1, 13):
                end_index = year * 12 + month - 1 + m
                horizon = month_end(end_index // 12, end_index % 12 + 1)
                if horizon > book.as_of:
                    break
                bad = members & (first30 <= horizon.toordinal())
                cells.append(f"{_share(weight[bad].sum(), weight[members].sum()):7.1%}")
            lines.append(f"  {name}  {members.sum():5d} " + "".join(cells))
        report.tables.append((f"Vintage: ever 30+ DPD by MOB ({basis} basis)", lines))


def _signals(book: Book, report: Report, as_of: int) -> None:
    drawn, bad = drawer_bad(book)
    base = bad[drawn].mean() if drawn.any() else float("nan")
    report.add("ever 90+ among borrowers who drew", base, percent=True)

    def lift(flag: np.ndarray) -> tuple[float, str]:
        flag = flag & drawn
        return _share(bad[flag].mean() if flag.any() else 0.0, base), f"{flag.sum()} borrowers"

    multi = multi_lender_flags(book) > 0
    value, note = lift(multi)
    report.add("90+ lift: multi-lender (以贷养贷)", value, 2.0, 4.0, percent=False, note=note)
    night = book.l_hour < NIGHT_HOURS
    large = book.l_amount >= 0.5 * book.b_limit[book.l_borrower]
    night_large = np.zeros(len(book.b_id), dtype=bool)
    night_large[book.l_borrower[night & large]] = True
    value, note = lift(night_large)
    report.add("90+ lift: night-time large drawdown", value, 1.5, 4.0, percent=False, note=note)
    group = clusters(book, ("device", "ip", "address", "contact"))
    value, note = lift(group >= 3)
    report.add(
        "90+ lift: ring members (linked groups of 3+)", value, 3.0, None, percent=False, note=note
    )
    # Hour of day.
    hours = np.bincount(book.l_hour, minlength=24) / max(1, len(book.l_hour))
    report.add("drawdowns at night (00:00-04:59)", hours[:NIGHT_HOURS].sum(), 0.02, 0.08)
    firsts = np.full(len(book.b_id), np.inf)
    np.minimum.at(firsts, book.l_borrower, book.l_seconds)
    is_first = book.l_seconds == firsts[book.l_borrower]
    report.add(
        "first drawdowns at night", night[is_first].mean() if is_first.any() else 0, 0.01, 0.10
    )
    report.add("busiest drawdown hour", float(hours.argmax()), 9, 23, percent=False)
    report.tables.append(
        (
            "Drawdowns by hour of day",
            [
                "  " + " ".join(f"{h:02d}" for h in range(24)),
                "  " + " ".join(f"{round(100 * v):2d}" for v in hours) + "  (%)",
            ],
        )
    )
    # Sharing.
    owners, keys = book.links["device"]
    share2, _ = shared_share(owners, keys, 2)
    share3, _ = shared_share(owners, keys, 3)
    report.add("devices shared by 2+ borrowers", share2, 0.01, 0.03)
    report.add("devices shared by 3+ borrowers (rings)", share3, 0.0005, 0.01)
    for kind, label, low, high in (
        ("ip", "borrowers sharing an IP address", 0.02, 0.08),
        ("address", "borrowers sharing a home address", 0.02, 0.06),
        ("contact", "borrowers linked by an emergency contact", 0.02, 0.06),
    ):
        report.add(label, float((clusters(book, (kind,)) >= 2).mean()), low, high)
    report.add(
        "payout cards shared by 2+ borrowers",
        float(shared_share(*book.cards, 2)[1]),
        0,
        0,
        percent=False,
        note="four-factor card check",
    )
    mobiles = book.b_mobile
    report.add(
        "mobiles shared by 2+ borrowers",
        float(len(mobiles) - len(np.unique(mobiles))),
        0,
        0,
        percent=False,
        note="real-name mobiles",
    )
