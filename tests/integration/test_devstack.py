"""`kaigo dev` end to end, as a newcomer runs it: all four parts come up, data survives a restart,
Ctrl-C (SIGINT) stops everything. Runs on free ports and a private data directory so it never collides with
a developer's own `make dev`. With TEST_DATABASE_URL it proves the external-database path instead.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psutil
import pytest

from cli.seed import demo_password
from tests.dev_stack import ROOT, Stack, new_stack
from tests.factories import person_payload


@pytest.fixture
def stack(tmp_path: Path, create_database: Callable[[str], str]) -> Iterator[Stack]:
    stack = new_stack(tmp_path, create_database)
    stack.env["API_WORKERS"] = "2"  # more than one API process, as on a server
    yield stack


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
        query = "WorkflowType = 'AuditAnchorWorkflow' AND ExecutionStatus = 'Completed'"
        done = len([w async for w in client.list_workflows(query)])
        await handle.trigger()
        for _ in range(100):
            if len([w async for w in client.list_workflows(query)]) > done:
                return
            await asyncio.sleep(0.2)
        raise AssertionError("no anchor run completed")

    # The chainer links new rows about every half second: an anchor taken before it has linked any records
    # an empty head, which verify does not count. Anchor again until one holds a chained head.
    for _ in range(10):
        asyncio.run(trigger())
        verify = subprocess.run(
            [sys.executable, "-m", "cli", "audit", "verify"],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stderr
        if "0 anchors checked" not in verify.stdout:
            break
        time.sleep(1)
    assert "audit chain intact" in verify.stdout and "0 anchors checked" not in verify.stdout


def test_make_dev_runs_everything_and_keeps_data_across_a_restart(stack: Stack) -> None:
    process = stack.start()
    try:
        intake = stack.login("intake")  # demo staff are seeded and their credentials printed
        assert httpx.get(f"{stack.api}/readyz").json()["checks"] == {"postgresql": "ok", "temporal": "ok"}
        assert httpx.get(f"{stack.api}/docs").status_code == 200
        # The dev server's UI runs under /temporal and knows kaigo's search attributes.
        attributes = httpx.get(f"{stack.ui}/temporal/api/v1/namespaces/default/search-attributes", timeout=10)
        assert {"CaseType", "CaseStage", "InsuredNumber", "DueDate", "Office"} <= set(
            attributes.json()["customAttributes"]
        )
        assert httpx.get(f"{stack.ui}/temporal/api/v1/settings").json()["Codec"]["Endpoint"] == "/codec"
        # The API serves that UI (same origin as its codec), behind the browser login.
        page = httpx.get(f"{stack.api}/temporal/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
        assert "ログイン" in httpx.get(f"{stack.api}/ui/login").text
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
        _a_killed_worker_is_started_again_and_takes_up_the_work(stack, process, intake)
    finally:
        stack.stop(process)

    process = stack.start()
    try:
        intake = stack.login("intake")
        again = httpx.get(f"{stack.api}/persons/{created.json()['atena_no']}", headers=intake)
        assert again.status_code == 200 and again.json()["name_kanji"] == "再起動 確認"
        same_demo = httpx.get(
            f"{stack.api}/insured", params={"insured_no": "01000000"}, headers=intake
        ).json()
        assert same_demo["total"] == 5  # seeding is idempotent
    finally:
        stack.stop(process)
    log = stack.log.read_text()
    assert demo_password("supervisor") in log  # the demo credentials are printed
    banner = log.split("kaigo-flow is ready", 1)[1].split("Ctrl-C stops everything", 1)[0]
    assert f"Temporal UI  {stack.api}/temporal/\n" in banner
    assert f"UI login     {stack.api}/ui/login (one login for the console and the Temporal UI)\n" in banner
    assert f"Web console  {stack.api}/console/\n" in banner
    # Every address printed names one host, and the dev server's own UI port is never offered.
    assert set(re.findall(r"https?://([^:/\s]+)", log)) == {"localhost"}
    assert stack.ui.rsplit(":", 1)[1] not in banner


def _a_killed_worker_is_started_again_and_takes_up_the_work(
    stack: Stack, process: subprocess.Popen[bytes], intake: dict[str, str]
) -> None:
    """kill -9 of the worker: `make dev` starts it again (as a container's restart policy would) and a case
    filed meanwhile gets its first tasks from the new process."""

    def worker() -> psutil.Process | None:
        children = psutil.Process(process.pid).children()
        return next((p for p in children if p.cmdline()[-2:] == ["-m", "worker"]), None)

    killed = worker()
    assert killed is not None
    killed.kill()
    killed.wait(timeout=10)
    application = httpx.post(
        f"{stack.api}/certification-applications",
        json={
            "insured_no": "0100000001",
            "kind": "new",
            "applied_on": datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat(),
            "applicant_kind": "self",
        },
        headers=intake,
        timeout=30,
    )
    assert application.status_code == 201, application.text
    case_id = application.json()["workflow_id"]
    for _ in range(120):
        tasks = httpx.post(f"{stack.api}/tasks/search", json={"case_id": case_id}, headers=intake).json()
        if tasks["total"]:
            break
        time.sleep(0.5)
    assert tasks["total"] > 0, "no task from the restarted worker"
    restarted = worker()
    assert restarted is not None and restarted.pid != killed.pid
    assert "worker exited with status -9; started it again" in stack.log.read_text()
