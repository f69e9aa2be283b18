"""`make run` as a user meets it, in a scratch folder on a free port: the banner, a mistyped
address and the stylesheet on the running demo; then stopped the ways a person or a process
manager stops it, after which no server process of it may be left.

Each start migrates a fresh SQLite file and seeds 50 borrowers (RISKOPS_SEED_BORROWERS); later
starts reuse them. Linux only: the processes are read from /proc.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
READY_SECONDS = 300  # a cold start (migrate, seed, collectstatic, worker check) takes ~30 s
STOP_SECONDS = 60  # the script allows a warm shutdown 20 s before it kills what is left

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(state, parent pid, start time) of a process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], int(fields[1]), fields[19]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass(frozen=True)
class Proc:
    pid: int
    started: str  # /proc start time: a reused pid is another process
    cmdline: str

    def running(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and stat[2] == self.started and stat[0] != "Z"


def _descendants(root: int) -> list[Proc]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            children.setdefault(stat[1], []).append(int(entry.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        stat = _stat(pid)
        if stat is not None:
            found.append(Proc(pid, stat[2], _cmdline(pid)))
            todo.extend(children.get(pid, []))
    return found


def _still_running(procs: list[Proc], seconds: float) -> list[Proc]:
    """Those of `procs` still running once `seconds` have passed (or none is left)."""
    deadline = time.monotonic() + seconds
    while (left := [p for p in procs if p.running()]) and time.monotonic() < deadline:
        time.sleep(0.25)
    return left


def _env(var_dir: Path, port: int, borrowers: int = 50) -> dict[str, str]:
    # The embedded profile whatever the CI job's profile; no make jobserver from an outer make.
    drop = {"SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    drop |= {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKOPS_") and k not in drop}
    env.update(
        RISKOPS_PROFILE="embedded",
        RISKOPS_VAR_DIR=str(var_dir),
        RISKOPS_PORT=str(port),
        RISKOPS_HOST="127.0.0.1",
        RISKOPS_SEED_BORROWERS=str(borrowers),
    )
    return env


@dataclass
class Demo:
    """`make run` in its own session (as a terminal or a process manager holds it)."""

    var_dir: Path
    borrowers: int = 50
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    seen: list[Proc] = field(default_factory=list)  # killed at the end if still running

    def children(self) -> list[Proc]:
        """Every process make run has started and still holds (and remember them)."""
        found = _descendants(self.proc.pid) if self.proc else []
        self.seen.extend(found)
        return found

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, until: str = "Press Ctrl-C to stop") -> None:
        """Start make run and wait for `until` in its output (default: the banner's last line)."""
        self.log = self.var_dir / f"make-run-{time.monotonic_ns()}.out"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(  # noqa: S603 (fixed arguments)
                ["make", "--no-print-directory", "run"],  # noqa: S607 (make from PATH, as a user runs it)
                cwd=BASE_DIR,
                env=_env(self.var_dir, self.port, self.borrowers),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_SECONDS
        while until not in self.output():
            if not self.running() or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"make run did not start:\n{self.output()[-4000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Whatever happened in the test: nothing of this run is left behind."""
        if self.proc is None:
            return
        self.children()
        if self.running():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        for proc in self.seen:
            if proc.running():  # a regression: the test has failed already; clean up anyway
                os.kill(proc.pid, signal.SIGKILL)
        self.seen.clear()
        self.proc = None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    run = Demo(var_dir=tmp_path_factory.mktemp("make-run"))
    yield run
    run.stop()


@pytest.fixture
def running(demo: Demo) -> Demo:
    """The demo, started again if an earlier test stopped it (the database stays)."""
    if not demo.running():
        demo.start()
    return demo


def _get(url: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (http://127.0.0.1 only)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def test_the_banner_lists_the_demo_logins_once(running):
    out = running.output()

    assert out.count("Demo logins") == 1
    assert out.count("    borrower   borrower portal") == 1
    assert out.count("API token of the service account lending-core") == 1
    assert "Seeded 50 borrowers" in out or "Borrowers exist already" in out


@pytest.mark.parametrize(
    ("language", "title"), [("en", "<h1>Not found</h1>"), ("zh-hans", "<h1>未找到</h1>")]
)
def test_a_mistyped_address_shows_the_friendly_404_without_the_url_list(running, language, title):
    status, html, _ = _get(f"{running.url}/borrowerz/", **{"Accept-Language": language})

    assert status == 404
    assert title in html
    assert "URLconf" not in html  # Django's debug page: every URL pattern of the site
    assert "api/schema/" not in html


def test_static_files_are_served_with_debug_off(running):
    status, css, headers = _get(f"{running.url}/static/css/app.css")

    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert ".topbar" in css


def test_the_access_log_keeps_no_search_terms(running):
    _get(f"{running.url}/borrowers/?q=%E5%BC%A0%E6%B5%A9%E6%B5%A9&after=41")
    _get(f"{running.url}/static/css/app.css", Referer=f"{running.url}/borrowers/?q=wxyz")

    log = (running.var_dir / "logs" / "web.log").read_text()
    assert "GET /borrowers/ HTTP" in log  # the request is logged, by its path
    # (A term with letters no hex digit has: the log's request ids are hex, and one held
    # "1234" once.)
    assert "q=" not in log and "%E5%BC%A0" not in log and "wxyz" not in log


@pytest.mark.parametrize(
    "how",
    [
        "SIGTERM to make (a process manager stopping its process)",
        "SIGTERM to the process group (a process manager stopping the group)",
        "SIGHUP to the process group (the terminal closed)",
        "SIGKILL to the process group (a process manager's last resort after its timeout)",
    ],
)
def test_stopping_make_run_leaves_no_server_process(running, how):
    make = running.proc
    assert make is not None
    servers = [p for p in running.children() if "gunicorn" in p.cmdline or "celery" in p.cmdline]
    # gunicorn's master and 2 workers; Celery's main process, its pool of 2 and beat:
    assert sum("gunicorn" in p.cmdline for p in servers) >= 3
    assert sum("celery" in p.cmdline for p in servers) >= 4
    signum = getattr(signal, how.split()[0])

    if "group" in how:
        os.killpg(make.pid, signum)
    else:
        os.kill(make.pid, signum)
    make.wait(STOP_SECONDS)

    # After SIGKILL the servers learn it from the kernel (parent-death signal), not the trap:
    assert _still_running(servers, STOP_SECONDS if signum == signal.SIGKILL else 0) == []
    if signum != signal.SIGKILL:
        assert "Stopped" in running.output()
    with socket.socket() as s:  # the port is free for the next run (as gunicorn binds it)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", running.port))


def test_sigterm_while_seeding_stops_the_seeding_too(tmp_path):
    # A book big enough that seeding is still running when the signal comes.
    demo = Demo(var_dir=tmp_path, borrowers=20_000)
    demo.start(until="Seeding demo data")
    try:
        assert demo.proc is not None
        seeding: list[Proc] = []
        deadline = time.monotonic() + 60
        while not seeding and time.monotonic() < deadline:
            seeding = [p for p in demo.children() if "seed_demo" in p.cmdline]
            time.sleep(0.2)
        assert seeding, demo.output()
        started = time.monotonic()

        os.kill(demo.proc.pid, signal.SIGTERM)
        demo.proc.wait(STOP_SECONDS)

        assert _still_running(seeding, 5) == []  # not left writing to the database
        assert time.monotonic() - started < 20  # at once, not after the seeding
    finally:
        demo.stop()


def _debug(tmp_path: Path, **env: str) -> str:
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    result = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**_env(tmp_path, 0), "DJANGO_SETTINGS_MODULE": "riskops.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_the_demo_runs_with_debug_off_unless_chosen(tmp_path):
    assert _debug(tmp_path) == "False"
    assert _debug(tmp_path, RISKOPS_DEBUG="1") == "True"
