"""Train a points scorecard from a CSV file and store it as a draft version.

    manage.py train_scorecard --csv FILE --target COL [--bad-value V] [--name NAME]
        [--base-score 600 --base-odds 50 --pdo 20] [--test-size 0.3 --seed 42] [--dry-run]

The target column is 1 for bad and 0 for good, or any two values with --bad-value naming the
bad one. Text columns are treated as categorical. It prints the held-out AUC, KS and Gini, and
the information value of each feature; without --dry-run it stores the model (draft).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit import audit_context
from accounts.choices import AuditSource
from decisions.scorecard import (
    DEFAULT_BASE_ODDS,
    DEFAULT_BASE_SCORE,
    DEFAULT_PDO,
    scorecard_train,
)
from decisions.services import scorecard_store


class Command(BaseCommand):
    help = "Train a points scorecard (optbinning) from a CSV file and store it as a draft."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", required=True, type=Path, help="the training data")
        parser.add_argument("--target", required=True, help="the column saying bad (1) or good")
        parser.add_argument("--bad-value", help="the target's value meaning bad (default 1)")
        parser.add_argument("--name", default="csv", help="the scorecard's name (versions)")
        parser.add_argument("--base-score", type=int, default=DEFAULT_BASE_SCORE)
        parser.add_argument("--base-odds", type=int, default=DEFAULT_BASE_ODDS)
        parser.add_argument("--pdo", type=int, default=DEFAULT_PDO)
        parser.add_argument("--test-size", type=float, default=0.3)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--dry-run", action="store_true", help="print, store nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        import pandas as pd

        path: Path = options["csv"]
        if not path.is_file():
            raise CommandError(f"no file {path}")
        frame = pd.read_csv(path)
        target = options["target"]
        if target not in frame.columns:
            raise CommandError(f"no column {target!r} in {path.name}")
        if options["bad_value"] is not None:
            frame[target] = (frame[target].astype(str) == options["bad_value"]).astype(int)
        categorical = [
            c for c in frame.columns if c != target and not pd.api.types.is_numeric_dtype(frame[c])
        ]
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
                name=options["name"],
                result=result,
                target=f"{target} (csv {path.name})",
                training={
                    "source": "csv",
                    "file": path.name,
                    "target": target,
                    "bad_value": options["bad_value"] or "1",
                    "test_size": options["test_size"],
                    "seed": options["seed"],
                },
            )
        out.write(self.style.SUCCESS(f"stored {model} (draft)"))
