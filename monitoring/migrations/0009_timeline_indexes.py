"""Every timeline source on a (borrower, time) index: the timeline's key query takes each
source's newest rows after a cursor straight from an index, for a borrower with ten rows or
ten thousand (monitoring.selectors.timeline).

Drawdowns, scores, limit decisions, alerts, events, drawdown checks and the audit log have
theirs already; these are the rest. The lending tables' indexes are created here, beside the
timeline that needs them, as plain SQL (IF NOT EXISTS: harmless if lending adds its own);
the case's goes on its model's table the same way so the two apps' model states are left as
they are.
"""

from django.db import migrations

INDEXES = [
    ("timeline_repayment_borrower_at", "lending_repayment", "paid_at"),
    ("timeline_transfer_borrower_at", "lending_transferout", "occurred_at"),
    ("timeline_device_borrower_at", "lending_device", "first_seen_at"),
    ("timeline_bankacct_borrower_at", "lending_bankaccount", "first_seen_at"),
    ("timeline_case_borrower_at", "monitoring_case", "opened_at"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("lending", "0006_borrower_list_sort_indexes"),
        ("monitoring", "0008_case_sla_pause_documents_notice"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"(borrower_id, {column} DESC, id DESC)",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, table, column in INDEXES
    ]
