#!/usr/bin/env python3
"""The layering rule between apps (ARCHITECTURE.md): every app imports only the apps below it.

From the bottom up:

    core        the shared kernel: DomainError, the API error shape; imports no app
    accounts    people, roles, the audit log; knows no domain model (a borrower is an id)
    lending     the book; knows no policy, alert, bureau, dispute or demo data
    decisions   scores, limit policy, overrides; reads and changes the book through lending
    bureau      consent, inquiries, reports, furnishing; feeds decisions, never asks them
    monitoring  events, rules, alerts, cases; asks decisions for a flag or a proposal
    disputes    borrowers' disputes; corrections go back through bureau
    demo        the demo book for every app; no app imports it
    riskops     settings, URLs, Celery, the home page; no app imports it

Also: a `services` module never imports the API layer (`<app>.api`), so pages, API and tasks
share one service that knows nothing about HTTP.

It reads every import statement (and "app.Model" strings in models.py) outside tests and
migrations, and fails on an import that goes up or sideways, and so on any cycle.
Usage: scripts/check_app_imports.py   (exit 1 on findings)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each app may import (besides itself). Anything not listed is forbidden.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "accounts": {"core"},
    "lending": {"core", "accounts"},
    "decisions": {"core", "accounts", "lending"},
    "bureau": {"core", "accounts", "lending"},
    "monitoring": {"core", "accounts", "lending", "decisions", "bureau"},
    "disputes": {"core", "accounts", "lending", "bureau", "monitoring"},
    "demo": {"core", "accounts", "lending", "decisions", "bureau", "monitoring", "disputes"},
}
ALLOWED["riskops"] = set(ALLOWED) | {"demo"}
APPS = set(ALLOWED)


def _skipped(rel: Path) -> bool:
    parts = rel.parts
    return (
        "tests" in parts
        or "migrations" in parts
        or rel.name.startswith("test_")
        or rel.name == "conftest.py"
    )


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            # `from lending import services` names a submodule too.
            found.extend((f"{node.module}.{alias.name}", node.lineno) for alias in node.names)
    return found


def check() -> list[str]:
    findings: list[str] = []
    for app in sorted(APPS):
        folder = ROOT / app
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(ROOT)
            if _skipped(rel):
                continue
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(rel))
            is_service = rel.name == "services.py" or "services" in rel.parts
            for module, line in _imports(tree):
                target = module.split(".")[0]
                if target in APPS and target != app and target not in ALLOWED[app]:
                    findings.append(f"{rel}:{line}: {app} must not import {target} ({module})")
                if is_service and ".api" in f".{module}" and module.split(".")[1:2] == ["api"]:
                    api = ".".join(module.split(".")[:2])
                    findings.append(f"{rel}:{line}: a service imports the API layer ({api})")
            if rel.name == "models.py":
                for number, text in enumerate(source.splitlines(), start=1):
                    findings.extend(
                        f"{rel}:{number}: {app} models refer to {target}"
                        for target in sorted(APPS - {app} - ALLOWED[app])
                        if f'"{target}.' in text or f"'{target}." in text
                    )
    return findings


def main() -> int:
    findings = list(dict.fromkeys(check()))  # one line per finding, in order
    for line in findings:
        print(line)
    if findings:
        print(f"{len(findings)} import(s) against the layering; see ARCHITECTURE.md.")
        return 1
    print("app imports: every app imports only the apps below it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
