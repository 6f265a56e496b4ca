"""`kaigo dev` end to end, as a newcomer runs it: all four parts come up, data survives a restart,
Ctrl-C (SIGINT) stops everything. Runs on free ports and a private data directory so it never collides with
a developer's own `make dev`. With TEST_DATABASE_URL it proves the external-database path instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from kaigo.seed import demo_password
from tests.factories import person_payload

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    env: dict[str, str]
    api: str
    ui: str
    log: Path

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "kaigo", "dev"], cwd=ROOT, env=self.env, stdout=out, stderr=out
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


@pytest.fixture
def stack(tmp_path: Path, create_database: Callable[[str], str]) -> Iterator[Stack]:
    api_port, temporal_port, ui_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        API_PORT=str(api_port),
        TEMPORAL_PORT=str(temporal_port),
        TEMPORAL_UI_PORT=str(ui_port),
        API_WORKERS="2",
    )
    if os.environ.get("TEST_DATABASE_URL"):
        env["DATABASE_URL"] = create_database("kaigo_devstack")
    yield Stack(env, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}", tmp_path / "dev.log")


def _login(stack: Stack, login_id: str) -> dict[str, str]:
    response = httpx.post(
        f"{stack.api}/auth/token", data={"username": login_id, "password": demo_password(login_id)}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _anchor_and_verify(stack: Stack) -> None:
    import asyncio

    from kaigo import temporal_client
    from kaigo.config import Settings
    from workflows.audit_anchor import anchor_schedule_id

    address = f"localhost:{stack.env['TEMPORAL_PORT']}"
    settings = Settings(_env_file=None, temporal_address=address)  # type: ignore[call-arg]

    async def trigger() -> None:
        client = await temporal_client.connect(settings)
        handle = client.get_schedule_handle(anchor_schedule_id(settings.temporal_task_queue))
        await handle.trigger()
        query = "WorkflowType = 'AuditAnchorWorkflow' AND ExecutionStatus = 'Completed'"
        for _ in range(100):
            if [w async for w in client.list_workflows(query)]:
                return
            await asyncio.sleep(0.2)
        raise AssertionError("no anchor run completed")

    asyncio.run(trigger())
    verify = subprocess.run(
        [sys.executable, "-m", "kaigo", "audit", "verify"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr
    assert "audit chain intact" in verify.stdout and "0 anchors checked" not in verify.stdout


def test_make_dev_runs_everything_and_keeps_data_across_a_restart(stack: Stack) -> None:
    process = stack.start()
    try:
        intake = _login(stack, "intake")  # demo staff are seeded and their credentials printed
        assert httpx.get(f"{stack.api}/readyz").json()["checks"] == {"postgresql": "ok", "temporal": "ok"}
        assert httpx.get(f"{stack.api}/docs").status_code == 200
        # The Temporal UI is served and its API lists kaigo's search attributes.
        attributes = httpx.get(f"{stack.ui}/api/v1/namespaces/default/search-attributes", timeout=10).json()
        assert {"CaseType", "CaseStage", "InsuredNumber", "DueDate", "Office"} <= set(
            attributes["customAttributes"]
        )
        # The UI decrypts payloads through the API's codec endpoint.
        ui_settings = httpx.get(f"{stack.ui}/api/v1/settings", timeout=10).json()
        assert ui_settings["Codec"]["Endpoint"] == f"{stack.api}/codec"
        # Demo residents were seeded.
        demo = httpx.get(f"{stack.api}/insured/0100000001", headers=intake)
        assert demo.status_code == 200 and demo.json()["name_kanji"] == "髙橋 ハナ"
        created = httpx.post(
            f"{stack.api}/persons", json=person_payload(name_kanji="再起動 確認"), headers=intake
        )
        assert created.status_code == 201
        # The API runs API_WORKERS processes; the worker made the audit anchor's schedule, and the chain
        # verifies against an anchor recorded in Temporal.
        api = next(p for p in psutil.Process(process.pid).children() if "api" in p.cmdline())
        assert len(api.children()) >= 2  # uvicorn workers (and its resource tracker)
        _anchor_and_verify(stack)
    finally:
        stack.stop(process)

    process = stack.start()
    try:
        intake = _login(stack, "intake")
        again = httpx.get(f"{stack.api}/persons/{created.json()['atena_no']}", headers=intake)
        assert again.status_code == 200 and again.json()["name_kanji"] == "再起動 確認"
        same_demo = httpx.get(
            f"{stack.api}/insured", params={"insured_no": "01000000"}, headers=intake
        ).json()
        assert same_demo["total"] == 5  # seeding is idempotent
    finally:
        stack.stop(process)
    log = stack.log.read_text()
    assert "kaigo-flow is ready" in log
    assert demo_password("supervisor") in log  # the demo credentials are printed
