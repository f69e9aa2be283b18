"""The shipped rules, each with a first active version at its default thresholds, and the
managed lists with an empty active first version; and an index for fund-flow paths.

Idempotent like monitoring.services.rules_ensure_defaults (which tests and the demo call
after a flush): a rule or list that exists is left alone. The index on the lending table's
counterparty account serves the fund-flow rule's lookup of transfers into a borrower's
cards (monitoring.rules.history); lending's model declares none, and the lookup is
monitoring's alone.
"""

from __future__ import annotations

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    from monitoring.choices import ListKind
    from monitoring.rules.registry import REGISTRY

    Rule = apps.get_model("monitoring", "Rule")
    RuleVersion = apps.get_model("monitoring", "RuleVersion")
    ManagedList = apps.get_model("monitoring", "ManagedList")
    ListVersion = apps.get_model("monitoring", "ListVersion")
    now = timezone.now()
    existing = set(Rule.objects.values_list("kind", flat=True))
    for kind, spec in REGISTRY.items():
        if kind in existing:
            continue
        rule = Rule.objects.create(kind=kind, category=spec.category)
        RuleVersion.objects.create(
            rule=rule,
            version=1,
            params=spec.defaults(),
            severity=spec.severity,
            enabled=True,
            status="active",
            note="Shipped defaults.",
            created_at=now,
            activated_at=now,
        )
    lists = set(ManagedList.objects.values_list("kind", flat=True))
    for kind in ListKind.values:
        if kind not in lists:
            managed = ManagedList.objects.create(kind=kind)
            ListVersion.objects.create(
                managed_list=managed,
                version=1,
                entries=[],
                status="active",
                created_at=now,
                activated_at=now,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0004_rules_lists"),
        ("lending", "0003_pii_access_truncate_guard"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS monitoring_transferout_counterparty "
            "ON lending_transferout (counterparty_account);",
            "DROP INDEX IF EXISTS monitoring_transferout_counterparty;",
        ),
    ]
