"""The apps' layering (ARCHITECTURE.md) holds: scripts/check_app_imports.py finds nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_app_imports.py"


def _checker():
    spec = importlib.util.spec_from_file_location("check_app_imports", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_app_imports_only_the_apps_below_it():
    assert _checker().check() == []


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    checker = _checker()
    (tmp_path / "lending").mkdir()
    (tmp_path / "lending" / "views.py").write_text("from decisions.models import Score\n")
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "models.py").write_text('borrower = FK("lending.Borrower")\n')
    (tmp_path / "monitoring").mkdir()
    (tmp_path / "monitoring" / "services.py").write_text("from monitoring.api import x\n")
    monkeypatch.setattr(checker, "ROOT", tmp_path)

    findings = checker.check()

    assert any("lending must not import decisions" in line for line in findings)
    assert any("accounts models refer to lending" in line for line in findings)
    assert any("a service imports the API layer" in line for line in findings)
