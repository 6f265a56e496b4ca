"""`apply_step` (activities/steps.py), the one write of every workflow step, on PostgreSQL."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.steps import StepActivities
from models.case import CaseType
from models.procedure import StepWrite, TaskClose, TaskOpen
from models.task import Task, TaskState
from tests.certification_helpers import seed_insured


async def test_a_task_opened_and_cancelled_in_the_same_step_ends_up_cancelled(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A case ended while its first tasks were being created (an update during an activity) opens and
    cancels them in one step: staff must not find them open in their inbox."""
    atena_no = await seed_insured(sessions, insured_no="0700000001")
    task_id = str(uuid.uuid4())
    step = StepWrite(
        case_id="certification-" + "0" * 32,
        case_type=CaseType.CERTIFICATION,
        subject_atena_no=atena_no,
        insured_no="0700000001",
        opened=[TaskOpen(task_id=task_id, kind="survey", candidate_role="surveyor", due_at=None)],
        closed=[TaskClose(task_id=task_id, state=TaskState.CANCELLED, actor="intake")],
    )
    activities = StepActivities(sessions, {})

    async def state() -> tuple[str, str | None, int]:
        async with sessions() as session:
            task = await session.get(Task, uuid.UUID(task_id))
        assert task is not None
        return task.state, task.closed_by, task.version

    await activities.apply_step(step)
    assert await state() == (TaskState.CANCELLED, "intake", 2)
    await activities.apply_step(step)  # a retry of the activity changes nothing
    assert await state() == (TaskState.CANCELLED, "intake", 2)
