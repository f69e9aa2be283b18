"""The PostgreSQL role the application should run as: it may read and write the book, and only
INSERT and SELECT the append-only logs.

Why: the triggers (accounts.append_only) refuse UPDATE, DELETE and TRUNCATE of the audit and
access logs, but the tables' owner can switch triggers off (ALTER TABLE ... DISABLE TRIGGER) and
a superuser can skip them (SET session_replication_role = replica) or drop them. An
application that connects as the owner, as the demo does, can therefore erase its own audit
log. Run it as this role instead and it cannot:

- not a superuser, cannot create roles or databases, not a member of the owner;
- SELECT, INSERT, UPDATE, DELETE on every table, and the id sequences, except:
- SELECT and INSERT only on APPEND_ONLY_TABLES (no UPDATE, DELETE, TRUNCATE, TRIGGER) and on
  django_migrations SELECT only (it never migrates; the owner does);
- default privileges, so tables a later migration creates are usable at once (run the grant
  again after migrating anyway: it re-applies the append-only restrictions to new tables).

`manage.py grant_app_role` runs these statements as the owner (or prints them, --sql).
"""

from __future__ import annotations

import re
from typing import Any

from accounts.append_only import APPEND_ONLY_TABLES

# A plain lower-case identifier: no quoting needed, so nothing can be smuggled in.
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Readable by the application, never rewritten by it.
READ_ONLY_TABLES = ("django_migrations",)


class BadRoleName(ValueError):
    pass


def _identifier(name: str) -> str:
    if not ROLE_NAME.fullmatch(name):
        raise BadRoleName(f"{name!r}: use lower-case letters, digits and _ (at most 63).")
    return name


def app_role_statements(*, role: str, owner: str, database: str) -> list[str]:
    """The SQL, in order, that creates (if missing) and grants the restricted `role`.

    `owner` is the role that owns the tables and runs the migrations; `database` the database.
    The password is set separately (grant_app_role), never written into this SQL.
    """
    role = _identifier(role)
    owner = _identifier(owner)
    database = _identifier(database)
    if role == owner:
        raise BadRoleName("The application role must not be the owner of the tables.")
    append_only = ", ".join(APPEND_ONLY_TABLES)
    read_only = ", ".join(READ_ONLY_TABLES)
    return [
        # 1. The role: a login with no special power.
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
        f"THEN CREATE ROLE {role} LOGIN; END IF; END $$",
        # (Only when needed: changing these attributes at all may need a superuser.)
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}' AND (rolsuper "
        "OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR NOT rolcanlogin)) "
        f"THEN ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        "NOBYPASSRLS; END IF; END $$",
        f"REVOKE {owner} FROM {role}",
        # 2. Into the database and its schema, without creating objects there.
        f"GRANT CONNECT ON DATABASE {database} TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"REVOKE CREATE ON SCHEMA public FROM {role}",
        # 3. The book: read and write every table and sequence (setval: the demo seeder).
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE TRUNCATE, TRIGGER, REFERENCES ON ALL TABLES IN SCHEMA public FROM {role}",
        # 4. The append-only logs: read and append, nothing else.
        f"REVOKE ALL ON {append_only} FROM {role}",
        f"GRANT SELECT, INSERT ON {append_only} TO {role}",
        f"REVOKE ALL ON {read_only} FROM {role}",
        f"GRANT SELECT ON {read_only} TO {role}",
        # 5. Tables and sequences the owner creates later (migrations).
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
    ]


def app_role_problems(cursor: Any, *, role: str, owner: str) -> list[str]:
    """What still lets `role` change the append-only logs (empty when it is as restricted as
    app_role_statements makes it). `cursor` is a database cursor, any role may run this."""
    role = _identifier(role)
    cursor.execute(
        "SELECT rolsuper, rolcreaterole, rolbypassrls, pg_has_role(%s, %s, 'MEMBER') "
        "FROM pg_roles WHERE rolname = %s",
        [role, owner, role],
    )
    row = cursor.fetchone()
    if row is None:
        return [f"role {role} does not exist"]
    problems = [
        name
        for name, present in zip(
            ("superuser", "createrole", "bypassrls", f"member of {owner}"), row, strict=True
        )
        if present
    ]
    for table in APPEND_ONLY_TABLES:
        for privilege in ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"):
            cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege])
            if cursor.fetchone()[0]:
                problems.append(f"{privilege} on {table}")
        cursor.execute(
            "SELECT pg_has_role(%s, tableowner, 'MEMBER') FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename = %s",
            [role, table],
        )
        owned = cursor.fetchone()
        if owned is not None and owned[0]:
            problems.append(f"owner of {table}")
    return problems
