"""The Temporal test harness itself: both servers, the pydantic converter, search attributes, the worker."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import InsuredStatus, RegistryActivities
from cli.seed import seed_demo_residents
from kaigo import search_attributes
from tests.workflows.probe_workflows import InsuredProbeWorkflow, WaitDaysWorkflow, WaitInput


def _queue() -> str:
    return f"harness-{uuid.uuid4().hex[:8]}"


async def test_time_skipping_server_passes_thirty_days_instantly(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    queue = _queue()
    async with Worker(time_skipping_env.client, task_queue=queue, workflows=[WaitDaysWorkflow]):
        result = await time_skipping_env.client.execute_workflow(
            WaitDaysWorkflow.run,
            WaitInput(insured_no="0100000001", wait_days=30),
            id=f"wait-{uuid.uuid4()}",
            task_queue=queue,
        )
    assert result.insured_no == "0100000001"
    assert isinstance(result.finished_on, date)
    assert result.finished_on - result.started_on >= timedelta(days=30)


async def test_dev_server_has_kaigo_search_attributes(dev_server_env: WorkflowEnvironment) -> None:
    assert await search_attributes.missing_search_attributes(dev_server_env.client, "default") == []


async def test_search_attributes_are_registered_where_missing(dev_server_env: WorkflowEnvironment) -> None:
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    await dev_server_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    assert len(await search_attributes.missing_search_attributes(dev_server_env.client, namespace)) == 5
    await search_attributes.ensure_search_attributes(dev_server_env.client, namespace)
    await search_attributes.ensure_search_attributes(dev_server_env.client, namespace)  # idempotent
    assert await search_attributes.missing_search_attributes(dev_server_env.client, namespace) == []


async def test_worker_activity_reads_registry_and_workflow_is_findable_by_insured_number(
    dev_server_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_demo_residents(sessions)
    client, queue = dev_server_env.client, _queue()
    registry = RegistryActivities(sessions)
    async with Worker(
        client, task_queue=queue, workflows=[InsuredProbeWorkflow], activities=[registry.get_insured_status]
    ):
        workflow_id = f"probe-{uuid.uuid4()}"
        status = await client.execute_workflow(
            InsuredProbeWorkflow.run, "0100000002", id=workflow_id, task_queue=queue
        )
        assert status == InsuredStatus(
            insured_no="0100000002",
            atena_no="100000000002",
            category="1",
            lost_on=None,
            person_removed_on=None,
        )
        assert status.active

        with pytest.raises(WorkflowFailureError) as failure:
            await client.execute_workflow(
                InsuredProbeWorkflow.run, "0000000000", id=f"probe-{uuid.uuid4()}", task_queue=queue
            )
        cause = failure.value.cause
        assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
        assert cause.cause.type == "InsuredNotFound"

    found = [
        wf.id
        async for wf in client.list_workflows(
            f"InsuredNumber = '0100000002' AND CaseStage = 'checked' AND WorkflowId = '{workflow_id}'"
        )
    ]
    assert found == [workflow_id]
