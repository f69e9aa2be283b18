"""The two profiles, checked in fresh interpreters: settings are read once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
# Variables the settings read; a test starts from none of them, then sets its own.
_SETTINGS_ENV = (
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
)

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "transport": settings.CELERY_BROKER_TRANSPORT_OPTIONS if settings.PROFILE == "embedded" else {},
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "time_zone": settings.TIME_ZONE,
    "use_tz": settings.USE_TZ,
    "debug": settings.DEBUG,
    "session_age": settings.SESSION_COOKIE_AGE,
    "demo_feed": settings.RISKOPS_DEMO_FEED,
}))
"""


def _run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RISKOPS_") and k not in _SETTINGS_ENV
    }
    clean.update({"DJANGO_SETTINGS_MODULE": "riskops.settings", "RISKOPS_VAR_DIR": str(tmp_path)})
    clean.update(env)
    return subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION = {
    "RISKOPS_PROFILE": "production",
    # Long and varied: the production profile refuses short or published keys.
    "SECRET_KEY": "test-secret-4f9c2a7e1b8d3f6a0c5e9b2d7f1a4c8e",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/riskops_unused",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_a_required_variable(tmp_path, missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = _run("import django; django.setup()", tmp_path, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set in the production profile." in result.stderr


def test_production_refuses_a_blank_secret_key(tmp_path):
    result = _run("import django; django.setup()", tmp_path, **{**PRODUCTION, "SECRET_KEY": "  "})

    assert "SECRET_KEY must be set" in result.stderr


def test_production_reads_the_secret_key_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file-7d3e9a1c5b8f2e6d0a4c9b3f7e1d5a8c\n", encoding="utf-8")
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}

    result = _run(
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY)",
        tmp_path,
        SECRET_KEY_FILE=str(secret),
        **env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("from-a-file-7d3e9a1c5b8f2e6d0a4c9b3f7e1d5a8c")


def test_an_unknown_profile_is_refused(tmp_path):
    result = _run("import django; django.setup()", tmp_path, RISKOPS_PROFILE="staging")

    assert "RISKOPS_PROFILE must be 'embedded' or 'production'" in result.stderr


def test_production_uses_postgresql_and_redis_and_no_demo_feed(tmp_path):
    result = _run(PRINT_SETTINGS, tmp_path, RISKOPS_DEMO_FEED="1", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["db_name"] == "riskops_unused"
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["broker"] == "redis://127.0.0.1:6379/15"
    assert values["debug"] is False
    assert values["demo_feed"] is False


def test_the_embedded_profile_needs_nothing_installed(tmp_path):
    result = _run(PRINT_SETTINGS, tmp_path, RISKOPS_DEMO_FEED="1")

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["db_name"] == str(tmp_path / "riskops.sqlite3")
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["broker"] == "filesystem://"
    assert values["transport"]["data_folder_in"] == str(tmp_path / "broker" / "queue")
    assert (tmp_path / "broker" / "queue").is_dir()
    assert values["eager"] is False  # a real worker runs the tasks outside tests
    assert values["time_zone"] == "Asia/Shanghai"
    assert values["use_tz"] is True
    assert values["session_age"] == 8 * 60 * 60
    assert values["demo_feed"] is True


def test_tests_run_tasks_eagerly_in_this_process(settings):
    assert settings.TESTING is True
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
