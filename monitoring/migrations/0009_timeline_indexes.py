"""Empty. It once created the timeline's (borrower, time) indexes on four lending tables and
on the case table as plain SQL; those indexes now belong to their models' Meta and are made by
lending 0009 and monitoring 0011, which drop the old ones where this had made them."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("lending", "0006_borrower_list_sort_indexes"),
        ("monitoring", "0008_case_sla_pause_documents_notice"),
    ]

    operations: list[migrations.operations.base.Operation] = []
