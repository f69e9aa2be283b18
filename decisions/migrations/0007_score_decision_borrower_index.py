"""Scores and limit decisions lose their single-column borrower index: the (borrower, time)
index (score_borrower_at, decision_borrower_at) serves every look-up by borrower, and a
whole-book run writes one index entry fewer per row. Only the index is dropped: the foreign
key stays as it is (no re-validation of a large table)."""

import django.db.models.deletion
from django.db import migrations, models

DROP = [
    "DROP INDEX IF EXISTS decisions_score_borrower_id_5b492344",
    "DROP INDEX IF EXISTS decisions_limitdecision_borrower_id_f920ca82",
]
CREATE = [
    "CREATE INDEX IF NOT EXISTS decisions_score_borrower_id_5b492344 "
    "ON decisions_score (borrower_id)",
    "CREATE INDEX IF NOT EXISTS decisions_limitdecision_borrower_id_f920ca82 "
    "ON decisions_limitdecision (borrower_id)",
]


def _field() -> models.ForeignKey:
    return models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="lending.borrower",
        verbose_name="borrower",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0006_override_seed"),
        ("lending", "0003_pii_access_truncate_guard"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(DROP, reverse_sql=CREATE)],
            state_operations=[
                migrations.AlterField(model_name="limitdecision", name="borrower", field=_field()),
                migrations.AlterField(model_name="score", name="borrower", field=_field()),
            ],
        )
    ]
