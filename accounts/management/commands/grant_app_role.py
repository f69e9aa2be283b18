"""Create or update the restricted PostgreSQL role the application runs as (accounts.db_roles).

Run it as the tables' owner (the role that migrates), after every `migrate`:

    manage.py grant_app_role riskops_app              # password from RISKOPS_APP_DB_PASSWORD
    manage.py grant_app_role riskops_app --sql        # print the SQL for a DBA instead

then point the application's DATABASE_URL at riskops_app. The password is read from an
environment variable, never from the command line (other users can read process arguments).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from accounts.db_roles import BadRoleName, app_role_problems, app_role_statements


class Command(BaseCommand):
    help = (
        "Create or update the restricted PostgreSQL role for the application: normal rights on "
        "the book, only SELECT and INSERT on the audit and access logs. Run as the owner."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the application's role, e.g. riskops_app")
        parser.add_argument(
            "--password-env",
            default="RISKOPS_APP_DB_PASSWORD",
            help="environment variable holding the role's password (unset: left as it is)",
        )
        parser.add_argument("--sql", action="store_true", help="print the SQL, change nothing")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, role: str, password_env: str, sql: bool, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are a PostgreSQL matter; this is not PostgreSQL.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database()")
            owner, database = cursor.fetchone()
        try:
            statements = app_role_statements(role=role, owner=owner, database=database)
        except BadRoleName as exc:
            raise CommandError(str(exc)) from exc
        if sql:
            self.stdout.write(";\n".join(statements) + ";")
            return
        password = os.environ.get(password_env, "")
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            if password:
                # Client-side parameter binding: the driver quotes the literal.
                cursor.execute(f"ALTER ROLE {role} PASSWORD %s", [password])
            problems = app_role_problems(cursor, role=role, owner=owner)
        if problems:
            raise CommandError(f"Role {role} can still: {', '.join(problems)}.")
        self.stdout.write(
            f"Role {role}: reads and writes {database}, only SELECT and INSERT on the append-only "
            f"logs; not owner, not superuser.{' Password set.' if password else ''}"
        )
