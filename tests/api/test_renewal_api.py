"""A renewal term and its follow-up task through the generic routes: /cases/{id} shows the term's record and
timeline, /tasks finds the follow-up call, the 認定係 claims and completes it, the term records the result."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client as TemporalClient
from temporalio.service import RPCError

from kaigo.config import Settings
from models.certification import Certification
from models.renewal import RenewalPolicy, Stage
from models.renewal_tasks import RenewalTask
from rules.calendar import add_months, month_end
from services import renewal
from tests.factories import insured_payload, person_payload
from workflows.calendar import JST

Client = Callable[[str], httpx.AsyncClient]


async def _eventually(probe: Callable[[], Any]) -> Any:
    for _ in range(300):
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("not reached")


async def test_a_term_and_its_follow_up_through_the_case_and_task_routes(
    as_staff: Client, running_worker: None, temporal: TemporalClient, settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:  # fmt: skip
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    insured_no = (await intake.post("/insured", json=insured_payload(atena))).json()["insured_no"]
    today = datetime.now(JST).date()
    valid_to = month_end(today + timedelta(days=20))
    year, month = add_months(valid_to.year, valid_to.month, -11)
    certification_id = "e" * 22 + insured_no
    async with sessions() as session, session.begin():
        session.add(
            Certification(
                id=certification_id,
                atena_no=atena,
                insured_no=insured_no,
                level="要支援2",
                valid_from=date(year, month, 1),
                valid_to=valid_to,
                decided_on=date(year, month, 1) - timedelta(days=20),
            )
        )
    # Both reminder days are past (the window is open and the second-notice day is policy 59 days before):
    # one reminder goes out at once and the staff follow-up opens.
    started = await renewal.start_term(
        sessions=sessions,
        temporal=temporal,
        certification_id=certification_id,
        policy=RenewalPolicy(second_notice_days_before_expiry=59),
        office=settings.office_code,
        task_queue=settings.temporal_task_queue,
    )
    assert started.case_id == f"renewal-{certification_id}"
    try:

        async def follow_up() -> dict[str, Any] | None:
            body = {"case_id": started.case_id, "kind": RenewalTask.FOLLOW_UP}
            items = (await intake.post("/tasks/search", json=body)).json()["items"]
            return items[0] if items else None

        task = await _eventually(follow_up)
        detail = (await intake.get(f"/cases/{started.case_id}")).json()
        assert detail["case"]["case_type"] == "renewal"
        assert detail["case"]["stage"] == Stage.NOTIFIED and detail["stage_label"] == "更新案内を送付済み"
        assert detail["record"]["certification_id"] == certification_id
        assert detail["record"]["first_notice_no"]
        assert "renewal.opened" in [event["step"] for event in detail["timeline"]]

        claimed = await intake.post(
            f"/tasks/{task['id']}/claim", headers={"If-Match": f'"{task["version"]}"'}
        )
        assert claimed.status_code == 200, claimed.text
        bad = await intake.post(
            f"/tasks/{task['id']}/completion",
            json={"payload": {"contacted": "neighbour", "outcome": "reached"}},
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "payload.contacted"
        done = await intake.post(
            f"/tasks/{task['id']}/completion",
            json={"payload": {"contacted": "care_manager", "outcome": "will_apply", "note": "来週代行申請"}},
        )
        assert done.status_code == 200 and done.json()["state"] == "completed"

        async def recorded() -> bool:
            record = (await intake.get(f"/cases/{started.case_id}")).json()["record"]
            return bool(record["follow_up_outcome"] == "will_apply")

        await _eventually(recorded)
    finally:
        with contextlib.suppress(RPCError):
            await temporal.get_workflow_handle(started.case_id).terminate("test finished")
