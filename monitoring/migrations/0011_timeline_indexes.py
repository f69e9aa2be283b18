"""The case's (borrower, opened DESC, id DESC) index on its model (it was plain SQL in 0009,
now empty; a database migrated before this had it under another name, dropped first)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lending", "0009_timeline_indexes"),
        ("monitoring", "0010_open_case_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(
            sql="DROP INDEX IF EXISTS timeline_case_borrower_at", reverse_sql=migrations.RunSQL.noop
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(fields=["borrower", "-opened_at", "-id"], name="case_borrower_at"),
        ),
    ]
