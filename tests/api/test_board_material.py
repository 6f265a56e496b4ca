"""審査会資料: the secretariat marks 特記事項 for the board after taking names out; members read only what was
marked; each member's state is shown and only the chair sees the votes and the tally (quorum, majority)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client as TemporalClient

from api.deps import Resources
from models.certification import ApplicationCreate
from models.certification_tasks import CertificationTask
from rules.primary_determination import CareLevel
from services import certification
from tests.certification_helpers import CaseDriver, primary_payload, seed_board, seed_insured
from workflows.calendar import JST

Client = Callable[[str], httpx.AsyncClient]


async def test_the_board_reads_only_what_the_secretariat_marked_and_the_chair_sees_the_tally(
    as_staff: Client,
    running_worker: None,
    resources: Resources,
    sessions: async_sessionmaker[AsyncSession],
    temporal: TemporalClient,
) -> None:
    today = datetime.now(JST).date()
    await seed_insured(sessions, insured_no="0300000007")
    await seed_board(sessions, [today])
    application, _ = await certification.receive(
        sessions=sessions,
        temporal=temporal,
        settings=resources.settings,
        data=ApplicationCreate(
            insured_no="0300000007",
            kind="new",
            applied_on=today,
            applicant_kind="self",  # type: ignore[arg-type]
        ),
        actor="intake",
    )
    secretariat = as_staff("intake")
    material_url = f"/board/materials/{application.id}"
    early = await secretariat.put(material_url, json={"marked_notes": {}})
    assert early.status_code == 409 and early.json()["type"].endswith("survey-missing")

    case = CaseDriver(temporal, sessions, application.id)
    await case.evidence(today)
    source = (await secretariat.get(material_url)).json()
    assert source["survey_notes"] == {
        "1-1": "右手指に軽いしびれ。日常生活に支障なし。"
    }  # as the surveyor wrote it
    unknown = await secretariat.put(material_url, json={"marked_notes": {"9-9": "x"}})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "marked_notes"
    marked = await secretariat.put(
        material_url, json={"marked_notes": {"1-1": "右手指に軽いしびれ。"}, "opinion_points": "膝痛あり"}
    )
    assert marked.status_code == 200 and marked.json()["prepared_by"] == "intake"
    assert (await as_staff("board-b").put(material_url, json={})).status_code == 403

    await case.complete(CertificationTask.PRIMARY_RESULT, primary_payload("0300000007", today))
    await case.open_task(CertificationTask.BOARD_CLOSE, assignee="board-chair")
    await case.vote("board-b", CareLevel.CARE_2, 12)
    recusal = {"application_id": application.id, "reason": "親族のため"}
    assert (await as_staff("board-d").post("/board/recusals", json=recusal)).status_code == 201
    member = (await as_staff("board-b").get(f"/board/cases/{application.id}")).json()
    assert (
        member["marked_notes"] == {"1-1": "右手指に軽いしびれ。"} and member["opinion_points"] == "膝痛あり"
    )
    seats = {s["login_id"]: s for s in member["seats"]}
    assert seats["board-b"]["status"] == "voted" and seats["board-chair"]["status"] == "pending"
    assert seats["board-d"]["status"] == "recused" and seats["board-e"]["status"] == "pending"
    assert member["tally"] is None and all(s["level"] is None for s in member["seats"])  # not the chair

    chair_view = (await as_staff("board-chair").get(f"/board/cases/{application.id}")).json()
    assert chair_view["tally"]["outcome"] == "no_quorum"  # the chair has not voted yet
    await case.vote("board-chair", CareLevel.CARE_3, 12)
    await case.vote("board-c", CareLevel.CARE_3, 12)
    chair_view = (await as_staff("board-chair").get(f"/board/cases/{application.id}")).json()
    assert chair_view["tally"] == {
        "outcome": "decided",
        "level": "要介護3",
        "validity_months": 12,
        "reason": "",
        "primary_level": "要介護2",  # a change from the 一次判定: the close form asks for the reason
    }
    assert {s["login_id"]: s["level"] for s in chair_view["seats"] if s["level"]} == {
        "board-chair": "要介護3", "board-b": "要介護2", "board-c": "要介護3",
    }  # fmt: skip
