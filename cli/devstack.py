"""`kaigo dev`: the whole system on one machine, one command, Ctrl-C stops it.

Starts what is not configured externally (embedded PostgreSQL unless DATABASE_URL, the Temporal dev server
unless TEMPORAL_ADDRESS), migrates and seeds, then runs the worker and the API as child processes and
supervises them: if one dies, everything stops, so a broken part is never silently missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kaigo import embedded, migrate
from kaigo.config import Settings

_PR_SET_PDEATHSIG = 1
PROXIED_UI_PATH = "/temporal"  # api/routes/temporal_ui.py PREFIX
_STOP_TIMEOUT_S = 35.0  # a little more than the worker's graceful shutdown
_MAX_RESTARTS, _CRASH_WINDOW_S = 3, 60.0  # more crashes than this within the window stop `make dev`


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor is killed outright (Linux); never orphaned servers."""
    with contextlib.suppress(OSError):  # not Linux: best effort only
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    command: list[str]
    env: dict[str, str]
    quiet: bool = False
    restartable: bool = False
    restarts: list[float] = field(default_factory=list)  # monotonic times of recent restarts


@dataclass
class DevStack:
    settings: Settings
    root: Path
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    def spawn(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        *,
        quiet: bool = False,
        restartable: bool = False,
    ) -> None:
        child = Child(name, self._popen(command, env, quiet), command, env, quiet, restartable)
        self.children.append(child)

    def _popen(self, command: list[str], env: dict[str, str], quiet: bool) -> subprocess.Popen[bytes]:
        # Own session: a terminal Ctrl-C reaches only the supervisor, which then stops children in order.
        return subprocess.Popen(
            command,
            cwd=self.root,
            env=env,
            stdout=subprocess.DEVNULL if quiet else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def restart(self, child: Child) -> bool:
        """Start a crashed worker or API again, as a container's restart policy would: Temporal hands its
        unfinished work to the new process. False when it keeps crashing (a bug, not an accident)."""
        now = time.monotonic()
        child.restarts = [t for t in child.restarts if now - t < _CRASH_WINDOW_S]
        if not child.restartable or len(child.restarts) >= _MAX_RESTARTS:
            return False
        child.restarts.append(now)
        child.process = self._popen(child.command, child.env, child.quiet)
        return True

    def stop(self) -> None:
        # API first (no new work accepted), then the worker (finishes activities), then Temporal.
        for child in reversed(self.children):
            if child.process.poll() is None:
                print(f"  stopping {child.name} …", flush=True)
                child.process.send_signal(signal.SIGTERM)
                try:
                    child.process.wait(timeout=_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()

    def first_dead_child(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)


def _wait_ready(url: str, stack: DevStack, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = stack.first_dead_child()
        if dead is not None:
            raise RuntimeError(f"{dead.name} exited with status {dead.process.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} was not ready within {timeout:.0f} s")


# Every address we print names this host, so a browser's cookies and a curl line never disagree.
PRINTED_HOST = "localhost"
_LOCAL_BINDS = {"127.0.0.1", "0.0.0.0", "::", "::1", "localhost"}


def api_url(settings: Settings) -> str:
    host = PRINTED_HOST if settings.api_host in _LOCAL_BINDS else settings.api_host
    return f"http://{host}:{settings.api_port}"


def _banner(settings: Settings, started: float, embedded_db: bool, embedded_temporal: bool) -> str:
    api = api_url(settings)
    lines = [
        f"kaigo-flow is ready ({time.monotonic() - started:.1f} s)",
        f"  API          {api}",
        f"  API docs     {api}/docs",
        f"  readiness    {api}/readyz",
        f"  Web console  {api}/console/",
    ]
    if embedded_temporal or settings.temporal_ui_upstream:
        lines.append(f"  Temporal UI  {api}/temporal/")
    lines.append(f"  UI login     {api}/ui/login (one login for the console and the Temporal UI)")
    if embedded_temporal:
        lines.append(
            f"  Temporal     {PRINTED_HOST}:{settings.temporal_port}"
            f" (dev server, data in {settings.data_dir / 'temporal.db'})"
        )
    else:
        lines.append(f"  Temporal     {settings.temporal_address} (external)")
    lines.append(
        "  PostgreSQL   "
        + (f"embedded, data in {settings.data_dir / 'pg'}" if embedded_db else "DATABASE_URL (external)")
    )
    lines.append("Ctrl-C stops everything.")
    width = max(len(line) for line in lines) + 2
    rule = "=" * width
    return "\n".join([rule, *lines, rule])


def run(settings: Settings, root: Path) -> int:
    started = time.monotonic()
    data_dir = (root / settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)

    database_url = settings.database_url
    if database_url is None:
        server = embedded.start_postgres(data_dir / "pg")
        database_url = embedded.socket_url(server, "kaigo")
        embedded.ensure_database(database_url)
        env["DATABASE_URL"] = database_url
    print("  migrating database …", flush=True)
    migrate.upgrade_to_head(database_url)

    from cli.seed import demo_credentials_table, seed_all  # after migrations: it imports the models' tables

    added = asyncio.run(seed_all(database_url, with_staff=settings.is_dev))
    if added:
        print(f"  seeded demo data: {added}", flush=True)

    stack = DevStack(settings, root)
    stop_requested = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    try:
        if settings.temporal_address is None:
            stack.spawn(
                "temporal",
                embedded.temporal_dev_server_command(
                    db_file=data_dir / "temporal.db",
                    port=settings.temporal_port,
                    ui_port=settings.temporal_ui_port,
                    # The API serves this UI under /temporal/ (api/routes/temporal_ui.py), so its codec,
                    # /codec on the same origin, gets the browser's session cookie (audited decodes).
                    ui_public_path=PROXIED_UI_PATH,
                    codec_endpoint="/codec",
                ),
                env,
                quiet=True,  # its own banner names the UI's direct port; ours names the one to use
            )
            embedded.wait_for_port("127.0.0.1", settings.temporal_port)
            env["TEMPORAL_ADDRESS"] = f"{PRINTED_HOST}:{settings.temporal_port}"
        stack.spawn("worker", [sys.executable, "-m", "worker"], env, restartable=True)
        stack.spawn("notice-worker", [sys.executable, "-m", "notice_worker"], env, restartable=True)
        stack.spawn("api", [sys.executable, "-m", "cli", "api", "--no-migrate"], env, restartable=True)
        _wait_ready(f"{api_url(settings)}/readyz", stack)
        print(
            _banner(settings, started, settings.database_url is None, settings.temporal_address is None),
            flush=True,
        )
        if settings.is_dev:
            print(demo_credentials_table(), flush=True)
        while not stop_requested:
            dead = stack.first_dead_child()
            if dead is not None:
                status = dead.process.returncode
                if not stack.restart(dead):
                    print(f"{dead.name} exited with status {status}; stopping", flush=True)
                    return 1
                print(f"{dead.name} exited with status {status}; started it again", flush=True)
            time.sleep(0.5)
        return 0
    finally:
        print("kaigo-flow: stopping …", flush=True)
        stack.stop()
        print("kaigo-flow: stopped", flush=True)
