"""Train a points scorecard from the book or from a CSV file and store it as a draft version.

    manage.py train_scorecard --book [--label 90] [--observation-date D] [--window-days 180]
    manage.py train_scorecard --csv FILE --target COL [--bad-value V]
        common: [--name NAME] [--base-score 600 --base-odds 50 --pdo 20]
                [--test-size 0.3 --seed 42] [--dry-run] [--champion]

From the book: the features (decisions.features) as of the observation date (default: the
window before today), the label 1 when the borrower reached 30+ or 90+ days past due within
the window after it. From a CSV: the target column is 1 for bad and 0 for good, or any two
values with --bad-value naming the bad one; text columns are treated as categorical. It prints
the held-out AUC, KS and Gini, and the information value of each feature; without --dry-run it
stores the model as a draft (--champion: and makes it the champion, as the demo set-up does).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.audit import audit_context
from accounts.choices import AuditSource
from decisions.choices import ModelStatus
from decisions.features import book_features, book_labels
from decisions.scorecard import (
    DEFAULT_BASE_ODDS,
    DEFAULT_BASE_SCORE,
    DEFAULT_PDO,
    scorecard_train,
)
from decisions.services import scorecard_set_status, scorecard_store


class Command(BaseCommand):
    help = "Train a points scorecard (optbinning) from the book or a CSV file; store a draft."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--csv", type=Path, help="the training data")
        source.add_argument("--book", action="store_true", help="train on the lending book")
        parser.add_argument("--target", help="with --csv: the column saying bad (1) or good")
        parser.add_argument("--label", type=int, choices=(30, 90), default=90)
        parser.add_argument("--observation-date", type=date.fromisoformat)
        parser.add_argument("--window-days", type=int, default=180)
        parser.add_argument("--champion", action="store_true", help="promote it at once")
        parser.add_argument("--bad-value", help="the target's value meaning bad (default 1)")
        parser.add_argument("--name", help="the scorecard's name (default: book, or csv)")
        parser.add_argument("--base-score", type=int, default=DEFAULT_BASE_SCORE)
        parser.add_argument("--base-odds", type=int, default=DEFAULT_BASE_ODDS)
        parser.add_argument("--pdo", type=int, default=DEFAULT_PDO)
        parser.add_argument("--test-size", type=float, default=0.3)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--dry-run", action="store_true", help="print, store nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["book"]:
            frame, target, categorical, meta = self._book(options)
        else:
            frame, target, categorical, meta = self._csv(options)
        try:
            result = scorecard_train(
                frame,
                target=target,
                categorical=categorical,
                base_score=options["base_score"],
                base_odds=options["base_odds"],
                pdo=options["pdo"],
                test_size=options["test_size"],
                seed=options["seed"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        out = self.stdout
        out.write(f"rows: {result.train_rows} train, {result.test_rows} test (stratified)")
        out.write(f"bad rate: {result.bad_rate:.1%}")
        out.write(f"test AUC {result.auc:.4f}   KS {result.ks:.4f}   Gini {result.gini:.4f}")
        out.write("information value by feature:")
        for feature, iv in sorted(result.iv.items(), key=lambda kv: -kv[1]):
            out.write(f"  {iv:7.4f}  {feature}")
        if options["dry_run"]:
            return
        with audit_context(source=AuditSource.COMMAND, reference="train_scorecard"):
            model = scorecard_store(
                actor=None,
                name=options["name"] or ("book" if options["book"] else "csv"),
                result=result,
                target=meta.pop("description"),
                training=meta,
            )
            if options["champion"]:
                model = scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
        out.write(self.style.SUCCESS(f"stored {model} ({model.get_status_display()})"))

    def _csv(self, options: dict[str, Any]) -> tuple[Any, str, list[str], dict[str, Any]]:
        import pandas as pd

        path: Path = options["csv"]
        target = options["target"]
        if not target:
            raise CommandError("--csv needs --target")
        if not path.is_file():
            raise CommandError(f"no file {path}")
        frame = pd.read_csv(path)
        if target not in frame.columns:
            raise CommandError(f"no column {target!r} in {path.name}")
        if options["bad_value"] is not None:
            frame[target] = (frame[target].astype(str) == options["bad_value"]).astype(int)
        categorical = [
            c for c in frame.columns if c != target and not pd.api.types.is_numeric_dtype(frame[c])
        ]
        meta = {
            "description": f"{target} (csv {path.name})",
            "source": "csv",
            "file": path.name,
            "target": target,
            "bad_value": options["bad_value"] or "1",
            "test_size": options["test_size"],
            "seed": options["seed"],
        }
        return frame, target, categorical, meta

    def _book(self, options: dict[str, Any]) -> tuple[Any, str, list[str], dict[str, Any]]:
        window = options["window_days"]
        observed = options["observation_date"] or (timezone.localdate() - timedelta(days=window))
        frame, meta = book_training_frame(
            observation_date=observed, window_days=window, label=options["label"]
        )
        if frame.empty:
            raise CommandError(f"no borrowers on the book at {observed}")
        meta = {**meta, "test_size": options["test_size"], "seed": options["seed"]}
        return frame, "bad", [], meta


def book_training_frame(
    *, observation_date: date, window_days: int, label: int
) -> tuple[Any, dict[str, Any]]:
    """The book's training rows: the features as of `observation_date` and `bad`, 1 when the
    borrower reached `label` DPD within `window_days` after it; and the training metadata
    (with its "description"). Also used by the demo seeder to train its champion."""
    frame = book_features(as_of=observation_date)
    # The population: borrowers whose line was open by the observation date (months_on_book is
    # 0 for a line opened later: such a borrower had nothing to observe and cannot go bad) and
    # not already bad then.
    population = frame[(frame["max_dpd_ever"] < label) & (frame["months_on_book"] > 0)]
    labels = book_labels(
        as_of=observation_date,
        window_days=window_days,
        dpd=label,
        borrower_ids=[int(i) for i in population.index],
    )
    frame = population.assign(bad=labels.reindex(population.index).fillna(0).astype(int))
    meta = {
        "description": f"{label}+ DPD within {window_days} days after {observation_date}",
        "source": "book",
        "observation_date": observation_date.isoformat(),
        "window_days": window_days,
        "label_dpd": label,
    }
    return frame, meta
