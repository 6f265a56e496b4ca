"""The notice worker on a real Temporal server: a workflow sends issue_notice to the notice task queue, the
worker issues it (rendering in its process pool) and a repeated request names the same notice; input that
can never print fails the activity at once (not retried) with a type the workflow can act on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.notices import NOTICE_UNPRINTABLE
from kaigo.config import Settings
from models.notice import NoticePdf, NoticeRecord
from models.procedure import IssueNoticeRequest
from notice_worker import build_worker
from notices.pool import RenderPool
from tests.api.test_notices_api import EXPIRY_DATA, register_person, with_legacy_name
from tests.notices.probe_workflows import IssueNoticeProbeWorkflow, IssueTwice, Outcome


@pytest.fixture
async def notice_worker(
    dev_server_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[RenderPool]:
    pool = RenderPool(1)
    try:
        async with build_worker(dev_server_env.client, settings, sessions, pool):
            yield pool
    finally:
        pool.close()


async def _probe(env: WorkflowEnvironment, settings: Settings, request: IssueNoticeRequest) -> Outcome:
    workflow_queue = f"probe-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=workflow_queue, workflows=[IssueNoticeProbeWorkflow]):
        return await env.client.execute_workflow(
            IssueNoticeProbeWorkflow.run,
            IssueTwice(task_queue=settings.notice_task_queue, request=request),
            id=f"notice-probe-{uuid.uuid4().hex}",
            task_queue=workflow_queue,
            result_type=Outcome,
        )


def _request(atena_no: str) -> IssueNoticeRequest:
    return IssueNoticeRequest(
        idempotency_key=f"probe:{uuid.uuid4().hex}",
        kind="expiry_reminder",
        case_id=f"renewal-{uuid.uuid4().hex}",
        recipient_atena_no=atena_no,
        issued_on=date(2026, 12, 1),
        data=EXPIRY_DATA,
    )


async def test_a_workflow_issues_through_the_notice_queue_once_per_key(
    notice_worker: RenderPool,
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    as_staff: Callable[[str], httpx.AsyncClient],
) -> None:
    assert settings.notice_task_queue == f"{settings.temporal_task_queue}-notices"
    atena_no = await register_person(as_staff("intake"))
    outcome = await _probe(dev_server_env, settings, _request(atena_no))
    first, again = outcome.issued
    assert first == again and first.document_no == "令和8年度 介更第1号"
    async with sessions() as session:
        rows = (
            await session.exec(select(NoticeRecord).where(NoticeRecord.recipient_atena_no == atena_no))
        ).all()
        stored = await session.get(NoticePdf, first.notice_id)
    assert [r.id for r in rows] == [first.notice_id]
    assert stored is not None and stored.sha256 == first.sha256 and stored.pdf.startswith(b"%PDF")


async def test_unprintable_input_fails_the_activity_without_retries_or_a_number(
    notice_worker: RenderPool,
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    as_staff: Callable[[str], httpx.AsyncClient],
) -> None:
    atena_no = await with_legacy_name(sessions, await register_person(as_staff("intake")), "山田 \ue000子")
    outcome = await _probe(dev_server_env, settings, _request(atena_no))
    assert (outcome.issued, outcome.error_type) == ([], NOTICE_UNPRINTABLE)
    assert outcome.error_message is not None and "U+E000" in outcome.error_message
    assert "文書番号は使っていません" in outcome.error_message
    async with sessions() as session:
        assert (await session.exec(select(NoticeRecord))).all() == []
