"""審査会 members judge from anonymised material: every field a board member can read, listed.

The README promises it (Roles: "board material is anonymised"); this walks everything a member gets — their
task list, a task, the case file — and compares the complete set of field paths with the allowed one, so a
field added later fails here until someone decides it is safe for the board.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client as TemporalClient

from api.deps import Resources
from models.certification import ApplicationCreate
from models.certification_tasks import CertificationTask
from services import certification
from tests.certification_helpers import CaseDriver, primary_payload, seed_board, seed_insured
from workflows.calendar import JST

Client = Callable[[str], httpx.AsyncClient]

# Every field path a board member can read (a list contributes its items' paths).
TASK_FIELDS = {
    "id", "case_id", "kind", "label", "reference", "candidate_role", "assignee", "state", "priority",
    "due_at", "overdue", "insured_no", "version", "created_at", "closed_at", "closed_by", "office",
}  # fmt: skip
CASE_FILE_FIELDS = {
    "application_id", "meeting_held_on", "agenda_no", "application_kind", "age_group", "previous_level",
    "primary_result", "primary_result.level", "primary_result.total_minutes", "primary_result.meal_minutes",
    "primary_result.excretion_minutes", "primary_result.transfer_minutes", "primary_result.hygiene_minutes",
    "primary_result.indirect_minutes", "primary_result.bpsd_minutes", "primary_result.rehabilitation_minutes",
    "primary_result.medical_minutes", "primary_result.group1_score", "primary_result.group2_score",
    "primary_result.group3_score", "primary_result.group4_score", "primary_result.group5_score",
    "primary_result.stability", "primary_result.dementia_probability", "survey_answers",
    "survey_answers.schema_version", "survey_answers.answers", "survey_answers.physical_independence",
    "survey_answers.dementia_independence", "opinion", "opinion.physical_independence",
    "opinion.dementia_independence", "opinion.stability", "opinion.short_term_memory",
    "opinion.decision_making", "opinion.communication", "opinion.eating", "opinion.specified_disease",
    # What the secretariat checked for names and marked for the board; the seats (staff, not residents).
    "marked_notes", "opinion_points", "panel", "seats", "seats.login_id", "seats.chair", "seats.status",
    "seats.level", "seats.validity_months", "tally",
}  # fmt: skip


def _paths(value: Any, prefix: str = "") -> set[str]:
    """Field paths of a JSON document; the survey's answers map (item number → code) counts as one field."""
    if isinstance(value, dict) and prefix != "survey_answers.answers":
        found = {prefix} if prefix else set()
        for key, item in value.items():
            found |= _paths(item, f"{prefix}.{key}" if prefix else key)
        return found
    if isinstance(value, list):
        return set().union(*(_paths(item, prefix) for item in value)) if value else {prefix}
    return {prefix}


def _values(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_values(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_values(v) for v in value)) if value else set()
    return {str(value)}


async def test_a_board_member_reads_no_name_address_or_number_of_the_person(
    as_staff: Client,
    running_worker: None,
    resources: Resources,
    sessions: async_sessionmaker[AsyncSession],
    temporal: TemporalClient,
) -> None:
    today = datetime.now(JST).date()
    atena_no = await seed_insured(sessions)
    await seed_board(sessions, [today])
    application, _ = await certification.receive(
        sessions=sessions,
        temporal=temporal,
        settings=resources.settings,
        data=ApplicationCreate(
            insured_no="0300000001",
            kind="new",
            applied_on=today,
            applicant_kind="self",  # type: ignore[arg-type]
        ),
        actor="intake",
    )
    case = CaseDriver(temporal, sessions, application.id)
    await case.evidence(today)
    await case.complete(CertificationTask.PRIMARY_RESULT, primary_payload("0300000001", today))
    await case.open_task(CertificationTask.BOARD_VOTE, assignee="board-b")

    member = as_staff("board-b")
    inbox = await member.post("/tasks/search", json={"assignee": "me"})
    (task,) = inbox.json()["items"]
    single = await member.get(f"/tasks/{task['id']}")
    material = await member.get(f"/board/cases/{application.id}")
    assert inbox.status_code == single.status_code == material.status_code == 200

    assert _paths(task) == TASK_FIELDS and _paths(single.json()) == TASK_FIELDS
    assert _paths(material.json()) == CASE_FILE_FIELDS
    assert task["insured_no"] is None and task["reference"] == f"審査会 {today:%m/%d} 第1号"
    assert material.json()["agenda_no"] == 1
    seen = _values(task) | _values(single.json()) | _values(material.json())
    for identifying in (
        "0300000001",
        atena_no,
        "髙橋 ハナ",
        "タカハシ ハナ",
        "北海道旭川市一条通8丁目",
        "0700031",
    ):
        assert not any(identifying in value for value in seen), identifying
    assert date(1940, 4, 3).isoformat() not in seen  # the birth date
    # Registry routes stay closed to board members.
    assert (await member.get(f"/persons/{atena_no}")).status_code == 403
    assert (await member.get("/insured/0300000001")).status_code == 403
    # The supervisor, who may read the registry, sees the number on the same task.
    supervisor_view = await as_staff("supervisor").get(f"/tasks/{task['id']}")
    assert supervisor_view.json()["insured_no"] == "0300000001"
