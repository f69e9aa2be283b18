"""A real Celery worker on the filesystem transport, as `make run` starts it (no broker server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60  # a cold worker starts in a few seconds; this only bounds a broken one


def _embedded_env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RISKOPS_")
        and k not in {"SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "riskops.settings",
            "RISKOPS_PROFILE": "embedded",
            "RISKOPS_VAR_DIR": str(var_dir),
            "RISKOPS_CELERY_EAGER": "0",
        }
    )
    return env


def test_a_real_worker_runs_a_task_sent_with_delay(tmp_path):
    env = _embedded_env(tmp_path)
    token = uuid.uuid4().hex
    worker = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "riskops",
            "worker",
            "-c",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--include",
            "riskops.tasks",
            "--loglevel",
            "INFO",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        sent = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from riskops.tasks import ping_task; "
                f"ping_task.delay({token!r})",
            ],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sent.returncode == 0, sent.stderr
        # The message sits in the queue folder until the worker takes it.
        pong = tmp_path / "pings" / token
        deadline = time.monotonic() + WAIT_SECONDS
        while not pong.exists() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
        assert pong.exists(), "the worker did not run the task in time"
        assert pong.read_text(encoding="utf-8") == "pong"
        # Everything the transport writes stays under RISKOPS_VAR_DIR (nothing in the cwd).
        assert (tmp_path / "broker" / "control" / "celery.exchange").exists()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            output, _ = worker.communicate()
    assert "riskops.tasks.ping_task" in output
    assert "succeeded" in output
