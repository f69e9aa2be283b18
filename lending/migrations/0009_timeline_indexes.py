"""Each borrower's repayments, transfers out, devices and cards on a (borrower, time DESC,
id DESC) index: the timeline and the monitoring rules' histories read a borrower's newest
rows, or their rows from a time on, straight from it.

A database migrated before this had the same indexes under other names, created by a
monitoring migration as plain SQL (monitoring 0009, now empty); they are dropped first.
"""

from django.db import migrations, models


OLD_NAMES = [
    "timeline_repayment_borrower_at",
    "timeline_transfer_borrower_at",
    "timeline_device_borrower_at",
    "timeline_bankacct_borrower_at",
]


class Migration(migrations.Migration):
    dependencies = [
        ("lending", "0008_limit_change_backfill"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[f"DROP INDEX IF EXISTS {name}" for name in OLD_NAMES],
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="bankaccount",
            index=models.Index(
                fields=["borrower", "-first_seen_at", "-id"], name="bankaccount_borrower_at"
            ),
        ),
        migrations.AddIndex(
            model_name="device",
            index=models.Index(
                fields=["borrower", "-first_seen_at", "-id"], name="device_borrower_at"
            ),
        ),
        migrations.AddIndex(
            model_name="repayment",
            index=models.Index(
                fields=["borrower", "-paid_at", "-id"], name="repayment_borrower_at"
            ),
        ),
        migrations.AddIndex(
            model_name="transferout",
            index=models.Index(
                fields=["borrower", "-occurred_at", "-id"], name="transfer_borrower_at"
            ),
        ),
    ]
