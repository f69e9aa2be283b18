"""What the demo seeder knows and no page shows: the latent risk it drew for each demo borrower.

Kept beside the borrower so that a model can be judged against the truth in tests and
benchmarks (does the scorecard rank borrowers as their hidden risk does?). No selector,
page or API reads this table.
"""

from __future__ import annotations

from django.db import models


class DemoBorrowerProfile(models.Model):
    """The hidden truth behind one demo borrower."""

    borrower = models.OneToOneField(
        "lending.Borrower", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    # The probability-like propensity to default the seeder drew (0-1); it drives behaviour.
    latent_risk = models.FloatField()
    # The behaviour pattern the seeder planted ("steady", "multi_lender", "ring", "fraud", ...).
    archetype = models.CharField(max_length=24, db_index=True)

    def __str__(self) -> str:
        return f"{self.borrower_id}: {self.latent_risk:.3f} {self.archetype}"
