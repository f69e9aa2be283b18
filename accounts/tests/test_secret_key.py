"""The production profile refuses a weak SECRET_KEY (settings are read once per process, so each
case starts a fresh interpreter)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
STRONG = secrets.token_urlsafe(50)


def _start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RISKOPS_")
        and k not in {"SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "REDIS_URL"}
    }
    clean.update(
        DJANGO_SETTINGS_MODULE="riskops.settings",
        RISKOPS_VAR_DIR=str(tmp_path),
        RISKOPS_PROFILE="production",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/riskops_unused",
        REDIS_URL="redis://127.0.0.1:6379/15",
        **env,
    )
    return subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "key",
    [
        "ci",
        "change-me",
        "secret",
        "CHANGE-ME",
        "short-but-random-Zq9",  # under 32 characters
        "x" * 64,  # long, but four distinct characters at most
        "abababababababababababababababab",
        "django-insecure-0123456789abcdefghijklmnopqrstuvwxyz",
    ],
)
def test_production_refuses_a_weak_secret_key(tmp_path, key):
    result = _start(tmp_path, SECRET_KEY=key)

    assert result.returncode != 0
    assert "SECRET_KEY is too weak for the production profile" in result.stderr
    if len(key) >= 10:  # (short ones are words the message itself uses)
        assert key not in result.stderr  # the refusal never prints the key


def test_production_refuses_a_weak_secret_key_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("change-me\n", encoding="utf-8")

    result = _start(tmp_path, SECRET_KEY_FILE=str(secret))

    assert "SECRET_KEY is too weak" in result.stderr


def test_production_starts_with_a_long_random_secret_key(tmp_path):
    result = _start(tmp_path, SECRET_KEY=STRONG)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("started")
