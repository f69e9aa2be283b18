"""Reviewing lines by the active policy, a chunk at a time, and re-scoring after an event.

`review_columns` is decisions.policy.review over numpy columns: the same rules in the same
order, money in whole fen (int64) so every limit is exact; decisions/tests/test_review_bulk.py
runs both on many random states, every boundary included, and asserts the same decisions.
A policy whose amounts are not whole fen is reviewed line by line by `review` itself.

`chunk_review` reads what review reads for a chunk of lines (`chunk_state`: the line, the
current and previous acting score, the behaviour features, the last cut and raise, locks,
flags), decides (`chunk_decide`, which the policy simulation runs too) and writes in bulk:
limit changes and freezes through lending's bulk services (the same rows the single-line
services write, a line that moved since the read skipped), the LimitDecision rows by COPY
(bulk_create on SQLite). `line_review` is the same for one borrower.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from decisions import policy as limit_policy
from decisions.choices import LimitAction
from decisions.features import chunk_features
from decisions.models import LimitDecision, LimitPolicy, Score
from decisions.services._copy import NULL, copy_lines, copy_text
from decisions.services.policies import active_policy
from lending import bulk, caps
from lending.choices import LineStatus, LineStatusCode
from lending.selectors import line_review_columns
from lending.services import LineChange, line_freeze_bulk, line_limits_set_bulk

# Actions as small integers in the columns, and the reason codes as bits, in the order
# review() lists them.
HOLD, FREEZE, CUT, RAISE = 0, 1, 2, 3
ACTIONS = {
    HOLD: limit_policy.HOLD,
    FREEZE: limit_policy.FREEZE,
    CUT: limit_policy.CUT,
    RAISE: limit_policy.RAISE,
}
CODES = ("L01", "F02", "F01", "C01", "C02", "C03", "P01")
BIT = {code: 1 << i for i, code in enumerate(CODES)}


@dataclass
class ReviewInputs:
    """What the policy reads of each line, as columns (one entry per line)."""

    limit: np.ndarray  # int64 fen
    used: np.ndarray  # int64 fen
    dpd: np.ndarray  # int64 days
    score: np.ndarray  # float64, NaN: no score
    previous_score: np.ndarray  # float64, NaN: none
    on_time_streak: np.ndarray  # int64
    small_early_settlements: np.ndarray  # int64
    lender_transfers_90d: np.ndarray  # int64
    identity_mismatch: np.ndarray  # bool
    fraud_confirmed: np.ndarray  # bool
    locked: np.ndarray  # bool
    pending_override: np.ndarray  # bool
    days_since_cut: np.ndarray  # float64, NaN: never cut
    closed: np.ndarray  # bool
    frozen: np.ndarray  # bool
    days_since_raise: np.ndarray  # float64, NaN: never raised by the policy


def _fen(amount: Decimal) -> int | None:
    """An amount in whole fen, or None if it is not a whole number of fen."""
    fen = Decimal(amount) * 100
    return int(fen) if fen == fen.to_integral_value() else None


def _fen_rules(rules: limit_policy.PolicyRules, product_cap: Decimal) -> dict[str, Any] | None:
    """The policy's amounts in whole fen, or None if one is not (then review line by line)."""
    step = _fen(rules.step)
    cap = _fen(product_cap)
    raise_steps = [_fen(b.raise_step) for b in rules.bands]
    ceilings = [_fen(b.ceiling) for b in rules.bands]
    if step is None or step <= 0 or cap is None or None in raise_steps or None in ceilings:
        return None
    numerator, denominator = rules.cut_share.as_integer_ratio()
    return {
        "step": step,
        "cap": cap,
        "raise_step": np.array(raise_steps, dtype=np.int64),
        "ceiling": np.array(ceilings, dtype=np.int64),
        "keep_num": denominator - numerator,
        "keep_den": denominator,
    }


def _within(days_since: np.ndarray, days: int) -> np.ndarray:
    """Where it happened fewer than `days` days ago (NaN: never, so not within)."""
    within: np.ndarray = np.nan_to_num(days_since, nan=np.inf) < days
    return within


def review_columns(
    rules: limit_policy.PolicyRules, state: ReviewInputs, *, product_cap: Decimal
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """decisions.policy.review for every line at once: (action, new limit in fen, band index,
    reason bits). None when the policy's amounts are not whole fen (review line by line)."""
    fen = _fen_rules(rules, product_cap)
    if fen is None:
        return None
    n = len(state.limit)
    has_score = ~np.isnan(state.score)
    score = np.nan_to_num(state.score, nan=-np.inf)
    band = np.full(n, len(rules.bands) - 1, dtype=np.int64)
    for index in range(len(rules.bands) - 2, -1, -1):  # best band wins: assign it last
        band = np.where(has_score & (score >= rules.bands[index].min_score), index, band)
    limit = state.limit
    action = np.full(n, HOLD, dtype=np.int8)
    new_limit = limit.copy()
    reasons = np.zeros(n, dtype=np.int64)
    open_ = ~state.closed  # rule 1: a closed line holds with no reason

    held = open_ & (state.locked | state.pending_override)
    reasons[held] = BIT["L01"]
    open_ &= ~held
    fraud = open_ & state.fraud_confirmed
    action[fraud], reasons[fraud] = FREEZE, BIT["F02"]
    open_ &= ~fraud
    overdue = open_ & (state.dpd > rules.freeze_dpd)
    action[overdue], reasons[overdue] = FREEZE, BIT["F01"]
    open_ &= ~overdue & ~state.frozen  # a frozen line holds: unfreezing is a person's decision

    has_previous = ~np.isnan(state.previous_score)
    drop = (
        has_score
        & has_previous
        & (np.nan_to_num(state.previous_score) - np.nan_to_num(state.score) >= rules.cut_score_drop)
    )
    low = has_score & (band >= rules.rank(rules.cut_below_band))
    spike = state.lender_transfers_90d >= rules.multi_lender_spike
    cut_bits = (
        np.where(drop, BIT["C01"], 0)
        | np.where(low, BIT["C02"], 0)
        | np.where(spike, BIT["C03"], 0)
    )
    cooling = _within(state.days_since_cut, rules.cooldown_days)
    cutting = open_ & (cut_bits > 0)
    step = fen["step"]
    floor = np.minimum(limit, -(-state.used // step) * step)
    target = (limit * fen["keep_num"]) // (fen["keep_den"] * step) * step
    cut_to = np.maximum(np.maximum(target, floor), 0)
    # In the cooldown only a fresh score drop cuts again; a persisting condition holds.
    cut = cutting & (cut_to < limit) & (~cooling | drop)
    action[cut], new_limit[cut] = CUT, cut_to[cut]
    reasons[cutting] = cut_bits[cutting]
    open_ &= ~cutting

    raised_lately = _within(state.days_since_raise, rules.raise_interval_days)
    raise_step = fen["raise_step"][band]
    ceiling = np.minimum(fen["ceiling"][band], fen["cap"])
    raise_to = np.minimum(limit + raise_step, ceiling)
    raising = (
        open_
        & (state.on_time_streak + state.small_early_settlements >= rules.raise_after_on_time)
        & (band <= rules.rank(rules.raise_min_band))
        & ~cooling
        & ~raised_lately
        & ~state.identity_mismatch
        & (raise_step > 0)
        & (raise_to > limit)
    )
    action[raising], new_limit[raising], reasons[raising] = RAISE, raise_to[raising], BIT["P01"]
    return action, new_limit, band, reasons


def reason_tuple(bits: int) -> tuple[str, ...]:
    return tuple(code for code in CODES if bits & BIT[code])


def _money(fen: int) -> Decimal:
    return Decimal(int(fen)).scaleb(-2)


def _days_since(days: Sequence[date | None], today: date) -> np.ndarray:
    return np.array([np.nan if d is None else (today - d).days for d in days], dtype=float)


def review_states(
    rules: limit_policy.PolicyRules,
    states: Sequence[limit_policy.LineState],
    *,
    today: date,
    product_cap: Decimal,
) -> list[limit_policy.Decision]:
    """review_columns over LineStates: what decisions.policy.review decides for each (the
    equivalence the tests check; also the fallback path's shape)."""
    if not states:
        return []
    state = ReviewInputs(
        limit=np.array([_fen(s.limit) for s in states], dtype=np.int64),
        used=np.array([_fen(s.used) for s in states], dtype=np.int64),
        dpd=np.array([s.dpd for s in states], dtype=np.int64),
        score=np.array([np.nan if s.score is None else s.score for s in states], dtype=float),
        previous_score=np.array(
            [np.nan if s.previous_score is None else s.previous_score for s in states], dtype=float
        ),
        on_time_streak=np.array([s.on_time_streak for s in states], dtype=np.int64),
        small_early_settlements=np.array(
            [s.small_early_settlements for s in states], dtype=np.int64
        ),
        lender_transfers_90d=np.array([s.lender_transfers_90d for s in states], dtype=np.int64),
        identity_mismatch=np.array([s.identity_mismatch for s in states], dtype=bool),
        fraud_confirmed=np.array([s.fraud_confirmed for s in states], dtype=bool),
        locked=np.array([s.locked for s in states], dtype=bool),
        pending_override=np.array([s.pending_override for s in states], dtype=bool),
        days_since_cut=_days_since([s.last_cut_on for s in states], today),
        closed=np.array([s.closed for s in states], dtype=bool),
        frozen=np.array([s.frozen for s in states], dtype=bool),
        days_since_raise=_days_since([s.last_raise_on for s in states], today),
    )
    decided = review_columns(rules, state, product_cap=product_cap)
    if decided is None:
        return [limit_policy.review(rules, s, today=today, product_cap=product_cap) for s in states]
    action, new_limit, band, reasons = decided
    return [
        limit_policy.Decision(
            ACTIONS[int(action[i])],
            _money(new_limit[i]),
            rules.bands[int(band[i])].name,
            reason_tuple(int(reasons[i])),
        )
        for i in range(len(states))
    ]


# --- reading a chunk's state ---------------------------------------------------------------


def flagged_borrowers(borrower_ids: Sequence[int]) -> tuple[set[int], set[int]]:
    """(confirmed fraud, pending override) among `borrower_ids`: the open confirmed-fraud flags
    and the override proposals in flight (decisions.selectors.overrides)."""
    # Imported here: the overrides' selectors import decisions.services (a cycle at import).
    from decisions.selectors.overrides import fraud_confirmed_ids, pending_override_ids

    ids = list(borrower_ids)
    return fraud_confirmed_ids(ids), pending_override_ids(ids)


def latest_acting(
    ids: Sequence[int], *, exclude_run: str, count: int
) -> dict[int, list[tuple[int, int]]]:
    """(id, total) of each borrower's `count` latest acting scores (newest first), leaving out
    those of run `exclude_run`. Borrowers in the span of `ids` (a range is cheaper to send
    than a list of 20,000 ids): the caller looks up its own."""
    if not ids:
        return {}
    from django.db.models import F, Window
    from django.db.models.functions import RowNumber

    scores = Score.objects.filter(borrower_id__gte=min(ids), borrower_id__lte=max(ids), acting=True)
    if exclude_run:
        scores = scores.exclude(run_id=exclude_run)
    ranked = scores.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("borrower_id")],
            order_by=[F("scored_at").desc(), F("id").desc()],
        )
    ).filter(rank__lte=count)
    out: dict[int, list[tuple[int, int]]] = {}
    for borrower_id, pk, total, _rank in ranked.order_by("borrower_id", "rank").values_list(
        "borrower_id", "id", "total", "rank"
    ):
        out.setdefault(borrower_id, []).append((pk, total))
    return out


@dataclass
class ScoresNow:
    """Each borrower's latest acting score (total and row id) and the one before it: what a
    review reads when no new score is written first (the scores they already have)."""

    current: dict[int, float]
    previous: dict[int, float]
    score_ids: dict[int, int | None]


def scores_now(ids: Sequence[int]) -> ScoresNow:
    """ScoresNow for the borrowers in the span of `ids` (latest_acting, two each)."""
    latest = latest_acting(ids, exclude_run="", count=2)
    return ScoresNow(
        current={b: float(t[0][1]) for b, t in latest.items()},
        previous={b: float(t[1][1]) for b, t in latest.items() if len(t) > 1},
        score_ids={b: t[0][0] for b, t in latest.items()},
    )


def _last_moves(ids: Sequence[int]) -> dict[int, tuple[datetime | None, datetime | None]]:
    """When each borrower in the span of `ids` was last cut and last raised by an applied
    policy decision (None: never), in one pass over their decisions."""
    if not ids:
        return {}
    rows = (
        LimitDecision.objects.filter(
            borrower_id__gte=min(ids),
            borrower_id__lte=max(ids),
            action__in=[LimitAction.CUT, LimitAction.RAISE],
            applied=True,
        )
        .values("borrower_id")
        .annotate(
            cut=Max("decided_at", filter=Q(action=LimitAction.CUT)),
            raised=Max("decided_at", filter=Q(action=LimitAction.RAISE)),
        )
        .values_list("borrower_id", "cut", "raised")
    )
    return {b: (cut, raised) for b, cut, raised in rows}


NEVER = (None, None)


def _day(at: datetime | None) -> date | None:
    return None if at is None else timezone.localdate(at)


@dataclass
class ChunkState:
    lines: list[tuple[Any, ...]]  # lending.selectors.line_review_columns
    inputs: ReviewInputs


def chunk_state(
    *,
    borrower_ids: Sequence[int],
    today: date,
    features: Any,
    current: dict[int, float],
    previous: dict[int, float],
) -> ChunkState:
    """What the policy reads of each line of `borrower_ids` (the ones with a line)."""
    lines = line_review_columns(borrower_ids=borrower_ids)
    ids = [row[0] for row in lines]
    fraud, pending = flagged_borrowers(ids)
    moves = _last_moves(ids)
    feats = features.reindex(ids).fillna(0.0)

    def column(values: list[Any], dtype: Any) -> np.ndarray:
        return np.array(values, dtype=dtype)

    inputs = ReviewInputs(
        limit=column([int(row[2] * 100) for row in lines], np.int64),
        used=column([int(row[3] * 100) for row in lines], np.int64),
        dpd=column([max((today - row[8]).days, 0) if row[8] else 0 for row in lines], np.int64),
        score=column([current.get(b, np.nan) for b in ids], np.float64),
        previous_score=column([previous.get(b, np.nan) for b in ids], np.float64),
        on_time_streak=feats["on_time_streak"].to_numpy().astype(np.int64),
        small_early_settlements=feats["early_settlements"].to_numpy().astype(np.int64),
        lender_transfers_90d=feats["lender_transfers_90d"].to_numpy().astype(np.int64),
        identity_mismatch=feats["identity_mismatch"].to_numpy() > 0,
        fraud_confirmed=column([b in fraud for b in ids], bool),
        locked=column([row[7] is not None and row[7] > today for row in lines], bool),
        pending_override=column([b in pending for b in ids], bool),
        days_since_cut=_days_since([_day(moves.get(b, NEVER)[0]) for b in ids], today),
        closed=column([row[4] == LineStatus.CLOSED for row in lines], bool),
        frozen=column([row[4] == LineStatus.FROZEN for row in lines], bool),
        days_since_raise=_days_since([_day(moves.get(b, NEVER)[1]) for b in ids], today),
    )
    return ChunkState(lines=lines, inputs=inputs)


# --- deciding and writing ----------------------------------------------------------------------


def chunk_decide(
    rules: limit_policy.PolicyRules, state: ChunkState, *, today: date, product_cap: Decimal
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """The policy's decision for every line of the chunk, applying nothing: (action code, new
    limit in fen, band name, reason bits) per line of `state.lines`. Vectorised
    (review_columns); a policy whose amounts are not whole fen is decided line by line by
    decisions.policy.review itself."""
    decided = review_columns(rules, state.inputs, product_cap=product_cap)
    if decided is None:
        decisions = [
            limit_policy.review(rules, s, today=today, product_cap=product_cap)
            for s in _line_states(state, today=today)
        ]
        action = np.array([_action_code(d.action) for d in decisions], dtype=np.int8)
        new_limit = np.array([int(d.new_limit * 100) for d in decisions], dtype=np.int64)
        reasons = np.array([sum(BIT[c] for c in d.reasons) for d in decisions], dtype=np.int64)
        return action, new_limit, [d.band for d in decisions], reasons
    action, new_limit, band, reasons = decided
    return action, new_limit, [rules.bands[int(i)].name for i in band], reasons


def chunk_review(
    *,
    policy: LimitPolicy,
    state: ChunkState,
    score_ids: dict[int, int | None],
    run_id: str,
    today: date,
) -> list[Any]:
    """Decide every line of the chunk by `policy` and apply the decisions in bulk; the caller
    holds the transaction. Returns the decisions written: LimitDecision instances, or
    DecisionRows where they were written by COPY (COPY_FROM rows on PostgreSQL).

    What is written matches line_review one line at a time: a raise or cut through
    line_limits_set_bulk (automatic: a locked line is left alone), a freeze through
    line_freeze_bulk (a line already frozen is left alone), each with its audit row and
    notice; a LimitDecision for each change applied and for each hold with reasons (a lock, a
    cut that would not lower the limit). A line that moved since it was read gets nothing.
    """
    rules = limit_policy.policy_rules(policy.rules)
    lines = state.lines
    action, new_limit, band_names, reasons = chunk_decide(
        rules, state, today=today, product_cap=caps.product_limit_cap()
    )
    wanted = np.flatnonzero((action != HOLD) | (reasons != 0))
    changes: list[LineChange] = []
    freezes: list[LineChange] = []
    for i in wanted.tolist():
        if action[i] == HOLD:
            continue
        row = lines[i]
        change = LineChange(
            borrower_id=row[0],
            line_id=row[1],
            old_limit=row[2],
            status=row[4],
            status_code=row[5],
            status_reason=row[6],
            locked_until=row[7],
            note=" ".join(reason_tuple(int(reasons[i]))),
            new_limit=_money(new_limit[i]) if action[i] in (CUT, RAISE) else None,
            code=(LineStatusCode.FRAUD if reasons[i] & BIT["F02"] else LineStatusCode.OVERDUE),
        )
        (freezes if action[i] == FREEZE else changes).append(change)
    applied = {
        c.line_id
        for c in line_limits_set_bulk(
            actor=None, changes=changes, reason_code=LineStatusCode.POLICY, automatic=True
        )
    }
    applied |= {c.line_id for c in line_freeze_bulk(actor=None, changes=freezes)}
    now = timezone.now()
    actions = action.tolist()
    limits = new_limit.tolist()
    bits = reasons.tolist()
    score_of = score_ids.get
    rows: list[tuple[Any, ...]] = []
    for i in wanted.tolist():
        row = lines[i]
        is_hold = actions[i] == HOLD
        if not is_hold and row[1] not in applied:
            continue  # refused (locked meanwhile, already frozen) or moved since the read
        rows.append(
            (
                row[0],
                score_of(row[0]),
                ACTIONS[actions[i]],
                row[2],
                _money(limits[i]),
                band_names[i],
                reason_tuple(bits[i]),
                not is_hold,
            )
        )
    return _decisions_write(rows, policy_id=policy.pk, decided_at=now, run_id=run_id)


def _action_code(action: str) -> int:
    return next(code for code, name in ACTIONS.items() if name == action)


def _line_states(state: ChunkState, *, today: date) -> list[limit_policy.LineState]:
    s = state.inputs
    return [
        limit_policy.LineState(
            limit=_money(s.limit[i]),
            used=_money(s.used[i]),
            dpd=int(s.dpd[i]),
            score=None if np.isnan(s.score[i]) else int(s.score[i]),
            previous_score=None if np.isnan(s.previous_score[i]) else int(s.previous_score[i]),
            on_time_streak=int(s.on_time_streak[i]),
            small_early_settlements=int(s.small_early_settlements[i]),
            lender_transfers_90d=int(s.lender_transfers_90d[i]),
            identity_mismatch=bool(s.identity_mismatch[i]),
            fraud_confirmed=bool(s.fraud_confirmed[i]),
            locked=bool(s.locked[i]),
            pending_override=bool(s.pending_override[i]),
            last_cut_on=None
            if np.isnan(s.days_since_cut[i])
            else date.fromordinal(today.toordinal() - int(s.days_since_cut[i])),
            closed=bool(s.closed[i]),
            frozen=bool(s.frozen[i]),
            last_raise_on=None
            if np.isnan(s.days_since_raise[i])
            else date.fromordinal(today.toordinal() - int(s.days_since_raise[i])),
        )
        for i in range(len(s.limit))
    ]


class DecisionRow(NamedTuple):
    """A LimitDecision written by COPY (a book-wide chunk): its values, without a model
    instance per row (they have no id here)."""

    borrower_id: int
    score_id: int | None
    action: str
    old_limit: Decimal
    new_limit: Decimal
    band: str
    reasons: list[str]
    applied: bool
    policy_id: int
    decided_at: datetime
    run_id: str


# Fewer rows than this are inserted with bulk_create (their ids come back: one borrower's
# re-score returns its decision); more by COPY.
COPY_FROM = 200


def _decisions_write(
    rows: list[tuple[Any, ...]], *, policy_id: int, decided_at: datetime, run_id: str
) -> list[Any]:
    """Write the decisions (borrower, score, action, old limit, new limit, band, reason codes,
    applied): LimitDecision instances by bulk_create, or DecisionRows by COPY from COPY_FROM
    rows on (PostgreSQL)."""
    if not rows:
        return []
    if bulk.copy_supported() and len(rows) >= COPY_FROM:
        tail = f"\t{decided_at.isoformat()}\t{copy_text(run_id)}\n"
        copy_lines(
            LimitDecision,
            (
                "borrower_id",
                "policy_id",
                "score_id",
                "action",
                "old_limit",
                "new_limit",
                "band",
                "reasons",
                "applied",
                "decided_at",
                "run_id",
            ),
            [
                f"{b}\t{policy_id}\t{NULL if s is None else s}\t{a}\t{old}\t{new}\t"
                f"{copy_text(band)}\t{json.dumps(codes)}\t{'t' if ok else 'f'}{tail}"
                for b, s, a, old, new, band, codes, ok in rows
            ],
        )
        return [
            DecisionRow(b, s, a, old, new, band, list(codes), ok, policy_id, decided_at, run_id)
            for b, s, a, old, new, band, codes, ok in rows
        ]
    return LimitDecision.objects.bulk_create(
        [
            LimitDecision(
                borrower_id=b,
                policy_id=policy_id,
                score_id=s,
                action=a,
                old_limit=old,
                new_limit=new,
                band=band,
                reasons=list(codes),
                applied=ok,
                decided_at=decided_at,
                run_id=run_id,
            )
            for b, s, a, old, new, band, codes, ok in rows
        ],
        batch_size=2000,
    )


@transaction.atomic(durable=True)
def line_review(*, borrower_id: int, run_id: str = "") -> LimitDecision | None:
    """Review one borrower's line by the active policy and apply the decision at once.

    The chunk review with one line: the decision goes through lending's services (a limit
    change automatic, which honours the line's lock; a freeze with the reason code), and is
    stored with the policy version, the score read (the latest acting one; the one before it
    for a score drop), the old and new limit and the reason codes. A hold is stored only when
    a lock or a cut reason forced it; a plain hold writes nothing. Returns the decision, or
    None. Raises NoActivePolicy.
    """
    policy = active_policy()
    today = timezone.localdate()
    scores = scores_now([borrower_id])
    state = chunk_state(
        borrower_ids=[borrower_id],
        today=today,
        features=chunk_features(borrower_ids=[borrower_id], as_of=today),
        current=scores.current,
        previous=scores.previous,
    )
    rows = chunk_review(
        policy=policy, state=state, score_ids=scores.score_ids, run_id=run_id, today=today
    )
    return rows[0] if rows else None


# --- re-scoring: one borrower after an event ----------------------------------------------


def borrowers_rescore(*, borrower_ids: list[int]) -> list[LimitDecision]:
    """Score these borrowers now and review their lines by the active policy.

    Called by a task queued after drawdowns, repayments or day-close transitions commit (one
    per batch of events, not one per borrower): the whole-book chunk path with these
    borrowers (decisions.services.runs.chunk_rescore). Without a champion nothing is scored;
    without an active policy no line is reviewed. A line that moved meanwhile (locked by a
    person, closed) is left as it was. Returns the decisions made.
    """
    from decisions.services.runs import chunk_rescore

    if not borrower_ids:
        return []
    result = chunk_rescore(
        actor=None, run_id="", borrower_ids=sorted(set(borrower_ids)), as_of=timezone.localdate()
    )
    return list(result.decisions)
