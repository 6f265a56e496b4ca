"""`kaigo dev` as a newcomer runs it, on free ports and a private data directory (never colliding with a
developer's own `make dev`): used by tests/integration/test_devstack.py and tests/browser/."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from cli.seed import demo_password

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    env: dict[str, str]
    api: str  # as the banner prints it (http://localhost:<port>)
    ui: str  # the dev server's own UI port, for checks behind the API's back
    log: Path

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "cli", "dev"], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"kaigo dev exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.api}/readyz", timeout=2).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        process.kill()
        pytest.fail(f"kaigo dev was not ready in 120 s:\n{self.log.read_text()[-3000:]}")

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        children = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=90) == 0, self.log.read_text()[-3000:]
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"left running after Ctrl-C: {[p.cmdline() for p in alive]}"

    def login(self, login_id: str) -> dict[str, str]:
        response = httpx.post(
            f"{self.api}/auth/token", data={"username": login_id, "password": demo_password(login_id)}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def new_stack(data_dir: Path, create_database: Callable[[str], str] | None = None) -> Stack:
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    env.update(
        DATA_DIR=str(data_dir / "data"),
        API_PORT=str(api_port),
        TEMPORAL_PORT=str(temporal_port),
        TEMPORAL_UI_PORT=str(ui_port),
    )
    if create_database is not None and os.environ.get("TEST_DATABASE_URL"):
        env["DATABASE_URL"] = create_database("kaigo_devstack")
    return Stack(env, f"http://localhost:{api_port}", f"http://127.0.0.1:{ui_port}", data_dir / "dev.log")
