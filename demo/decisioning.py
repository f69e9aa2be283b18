"""After the demo book is written: a scorecard trained on it, a limit policy, the whole-book run.

Everything here goes through the decisions services a person or the nightly job would use, so
the rows and audit trail are theirs: the champion is trained on train_scorecard's training rows
(book_training_frame's population and labels, the features computed once for both labels),
then decisions.scorecard.scorecard_train, and stored with scorecard_store;
the demo head of risk promotes it (scorecard_set_status, audited); the demo manager drafts the
limit policy and the head of risk activates it (policy_draft, policy_activate: four eyes); then
the whole-book run (scoring_run_start, scoring_chunk_run for each chunk, in this process) scores
every borrower with reasons and reviews every line: limits raised, cut or frozen by the policy,
each with a LimitDecision, the borrower's Notice and its audit row.

The training follows a behavioural scorecard's usual set-up: features at an observation date
about eight months before the book's end, the label 90+ DPD within the 180 days after it (so
the champion can be checked out of time on the later half: bench/book_metrics.py). The
challenger is the same population labelled 30+ DPD. A book too short or too small for that
(the tests' 200 borrowers over 9 months) shrinks the window, and falls back to the 30+ label
for the champion when there are too few 90+ borrowers to fit.

The run reviews the lines as of the book's as-of day (days past due, cooldowns and locks are
read at that day's close, not the wall clock's), yesterday for `make run`.
"""

from __future__ import annotations

import time as clock
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from accounts.models import User
from decisions.choices import ModelStatus
from decisions.features import book_features, book_labels
from decisions.models import LimitDecision, ScorecardModel
from decisions.policy import DEFAULT_RULES
from decisions.scorecard import scorecard_train
from decisions.services import (
    policy_activate,
    policy_draft,
    scorecard_set_status,
    scorecard_store,
    scoring_chunk_run,
    scoring_run_start,
)

SCORECARD_NAME = "book"  # the name the whole-book run scores by (score_chunk's default)
LABEL = 90
CHALLENGER_LABEL = 30
WINDOW_DAYS = 180
# The observation date lies this much further back than the window, so the champion can be
# scored again at the window's start (as-of minus WINDOW_DAYS) against 90+ that came later.
LEAD_DAYS = 60
MIN_BADS = 20  # fewer bads than this in the 90+ population: the champion learns 30+ instead
RUN_CHUNK = 2000
MANAGER_USERNAME = "manager"
HEAD_USERNAME = "head"


@dataclass(frozen=True)
class Training:
    """Where the demo's scorecards observe the book."""

    observation_date: date
    window_days: int

    @classmethod
    def for_book(cls, *, as_of: date, start: date) -> Training:
        """Eight months back with a 180-day window on a year's book; proportionally less on a
        shorter one (the observation date then still lies after the first third)."""
        days = (as_of - start).days
        window = WINDOW_DAYS if days >= 330 else max(30, days // 3)
        lead = LEAD_DAYS if days >= 330 else window // 3
        return cls(as_of - timedelta(days=window + lead), window)

    @property
    def check_date(self) -> date:
        """The later, out-of-time observation date the champion is checked at."""
        return self.observation_date + timedelta(days=self.window_days // 3)


@dataclass
class DecisionsResult:
    champion: ScorecardModel | None
    challenger: ScorecardModel | None
    run_id: str
    seconds: dict[str, float] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def run_id_for(as_of: date) -> str:
    return f"demo-{as_of.isoformat()}"


Rows = tuple[Any, dict[str, Any], int]


def _rows_by_label(*, labels: Sequence[int], training: Training) -> dict[int, Rows]:
    """train_scorecard's training rows for each label in `labels`, their metadata and how many
    are bad: book_training_frame's population and labels, with the features at the
    observation date computed once for all labels (they are the same for every label and
    most of the cost; book_training_frame computes them again on each call)."""
    features = book_features(as_of=training.observation_date)
    out: dict[int, Rows] = {}
    for label in labels:
        # As book_training_frame: borrowers whose line was open by the observation date and
        # who were not already bad then; bad = `label` DPD within the window after it.
        population = features[(features["max_dpd_ever"] < label) & (features["months_on_book"] > 0)]
        bad = book_labels(
            as_of=training.observation_date,
            window_days=training.window_days,
            dpd=label,
            borrower_ids=[int(i) for i in population.index],
        )
        frame = population.assign(bad=bad.reindex(population.index).fillna(0).astype(int))
        meta = {
            "description": (
                f"{label}+ DPD within {training.window_days} days after {training.observation_date}"
            ),
            "source": "book",
            "observation_date": training.observation_date.isoformat(),
            "window_days": training.window_days,
            "label_dpd": label,
        }
        out[label] = (frame, meta, int(frame["bad"].sum()) if not frame.empty else 0)
    return out


def _train(*, rows: Rows, label: int) -> tuple[Any, str]:
    """Train and store one draft version from train_scorecard's rows; None (and why) when the
    book cannot support it."""
    frame, meta, bads = rows
    if bads < 2 or bads == len(frame):
        return None, f"{label}+: {len(frame)} borrowers, {bads} bad: too few to train"
    try:
        result = scorecard_train(frame, target="bad", test_size=0.3, seed=42)
    except ValueError as exc:
        return None, f"{label}+: {exc}"
    meta = {**meta, "test_size": 0.3, "seed": 42}
    model = scorecard_store(
        actor=None,
        name=SCORECARD_NAME,
        result=result,
        target=meta.pop("description"),
        training=meta,
    )
    return model, (
        f"{label}+ DPD scorecard v{model.version}: {len(frame)} borrowers, {bads} bad, "
        f"test AUC {result.auc:.3f}, KS {result.ks:.3f}"
    )


def train_models(
    *, as_of: date, start: date, head: User | None
) -> tuple[ScorecardModel | None, ScorecardModel | None, list[str]]:
    """The champion (90+, or 30+ on a book with too few 90+) and the challenger (30+, or none
    when the champion took that label), promoted by the head of risk."""
    training = Training.for_book(as_of=as_of, start=start)
    notes = [
        f"scorecards observe the book at {training.observation_date}, "
        f"label within {training.window_days} days after"
    ]
    label = LABEL
    by_label = _rows_by_label(labels=(LABEL, CHALLENGER_LABEL), training=training)
    rows, alternative = by_label[LABEL], by_label[CHALLENGER_LABEL]
    if rows[2] < MIN_BADS:
        label = CHALLENGER_LABEL
        notes.append(f"fewer than {MIN_BADS} borrowers went 90+: the champion learns 30+")
    champion, note = _train(rows=rows if label == LABEL else alternative, label=label)
    notes.append(note)
    if champion is not None:
        champion = scorecard_set_status(
            actor=head,
            model=champion,
            status=ModelStatus.CHAMPION,
            note="Demo set-up: trained on the demo book.",
        )
    challenger = None
    if champion is not None and label != CHALLENGER_LABEL:
        challenger, note = _train(rows=alternative, label=CHALLENGER_LABEL)
        notes.append(note)
        if challenger is not None:
            challenger = scorecard_set_status(
                actor=head,
                model=challenger,
                status=ModelStatus.CHALLENGER,
                note="Demo set-up: the 30+ DPD alternative, on a share of the book.",
            )
    return champion, challenger, notes


def activate_policy(*, manager: User | None, head: User | None) -> Any:
    """The default limit policy, drafted by the manager and activated by the head of risk."""
    draft = policy_draft(
        actor=manager,
        rules=DEFAULT_RULES,
        note="Demo set-up: the default limit policy.",
    )
    return policy_activate(actor=head, policy=draft, note="Demo set-up: approved.")


def run_book(
    *, as_of: date, progress: Callable[[int, int], None] | None = None
) -> tuple[str, dict[str, int]]:
    """Score the whole book and review every line: the nightly run's services, in process."""
    run_id = run_id_for(as_of)
    run = scoring_run_start(as_of=as_of, chunk_size=RUN_CHUNK, run_id=run_id)
    for index in range(run.chunks_total):
        scoring_chunk_run(run_id=run_id, index=index)
        if progress:
            progress(index + 1, run.chunks_total)
    actions = Counter(LimitDecision.objects.filter(run_id=run_id).values_list("action", flat=True))
    return run_id, dict(sorted(actions.items()))


def seed_decisions(
    *, as_of: date, start: date, progress: Callable[[int, int], None] | None = None
) -> DecisionsResult:
    """Train and promote the scorecards, activate the policy, run the whole book (see the
    module docstring). Each service owns its transaction: call this outside any atomic block."""
    seconds: dict[str, float] = {}
    manager = User.objects.filter(username=MANAGER_USERNAME).first()
    head = User.objects.filter(username=HEAD_USERNAME).first()
    t0 = clock.perf_counter()
    champion, challenger, notes = train_models(as_of=as_of, start=start, head=head)
    seconds["training"] = clock.perf_counter() - t0
    t0 = clock.perf_counter()
    activate_policy(manager=manager, head=head)
    run_id = run_id_for(as_of)
    actions: dict[str, int] = {}
    if champion is not None:  # without one, nothing would be scored: no run
        run_id, actions = run_book(as_of=as_of, progress=progress)
    seconds["scoring and reviews"] = clock.perf_counter() - t0
    return DecisionsResult(
        champion=champion,
        challenger=challenger,
        run_id=run_id,
        seconds=seconds,
        decisions=actions,
        notes=notes,
    )
