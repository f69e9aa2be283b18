#!/usr/bin/env python3
"""The write-path rule (STYLE §3, §12): only services change domain state.

Fails on `.save(`, `.update(`, `.create(`, `.delete(`, `bulk_create(` and `bulk_update(` outside
services.py, tests, migrations and the allow-list below, and anywhere on a bare
`select_related()` or `.count() > 0` (use explicit relations, and `.exists()`).

It reads the syntax tree rather than grepping, so that it can tell a queryset's `.update(**kw)`
from a dict's `.update({...})`: QuerySet.update takes keyword arguments only, so a call with a
positional argument is a dict (or set) update and is not a write. `super().save()` inside a
model's own save() is the write itself, not a caller of it, and is not counted either.

Usage: scripts/check_write_paths.py [PATH...]   (default: the repository). Exit 1 on findings.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRITES = {"save", "update", "create", "delete", "bulk_create", "bulk_update"}
SKIP_DIRS = {".venv", "var", "migrations", "node_modules", "__pycache__", ".git"}

# Files (relative to the root, prefix match on "/"-ended folders) allowed to write, each with why.
ALLOWED = {
    # Bulk-writes the demo book by design (COPY/bulk_create of a million rows); it runs the
    # lending money math itself and is only ever invoked by seed_demo and the benchmarks.
    "demo/": "the demo seeder bulk-writes by design",
    # The audit helper: called by every service inside that service's transaction.
    "accounts/audit.py": "audit() is the services' helper, run in their transaction",
    # rows_update: the services' helper writing the rows they changed, in their transaction.
    "core/bulk.py": "rows_update() is the services' helper, run in their transaction",
    # Benchmarks build a scratch database before timing the real API.
    "bench/": "benchmark set-up on a scratch database",
    "conftest.py": "test fixtures",
    "scripts/check_write_paths.py": "this file",
}


def _allowed(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    in_services = name == "services.py" or "/services/" in f"/{rel}"
    if in_services or name.startswith("test_") or "/tests/" in f"/{rel}":
        return True
    return any(rel == key or (key.endswith("/") and rel.startswith(key)) for key in ALLOWED)


def _is_super_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def check_file(path: Path, rel: str) -> list[str]:
    """The findings in one file, as "path:line: message"."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    writes_allowed = _allowed(rel)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr == "select_related" and not node.args and not node.keywords:
                found.append(f"{rel}:{node.lineno}: bare select_related(): name the relations")
            elif attr in WRITES and not writes_allowed:
                if attr == "update" and node.args:
                    continue  # a dict/set update: QuerySet.update() takes keywords only
                if attr in {"save", "delete"} and _is_super_call(node.func.value):
                    continue  # a model's own save()/delete() override calling Django's
                found.append(
                    f"{rel}:{node.lineno}: .{attr}() outside a service: call a service instead"
                )
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Call)
            and isinstance(node.left.func, ast.Attribute)
            and node.left.func.attr == "count"
            and not node.left.args
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.Gt)
            and isinstance(node.comparators[0], ast.Constant)
            and node.comparators[0].value == 0
        ):
            found.append(f"{rel}:{node.lineno}: .count() > 0: use .exists()")
    return found


def main(argv: list[str]) -> int:
    roots = [Path(a).resolve() for a in argv] or [ROOT]
    findings: list[str] = []
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in files:
            rel = path.relative_to(ROOT).as_posix()
            if SKIP_DIRS.intersection(rel.split("/")[:-1]):
                continue
            findings.extend(check_file(path, rel))
    for line in findings:
        print(line)
    if findings:
        print(f"{len(findings)} write-path violation(s); see CONTRIBUTING.md.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
