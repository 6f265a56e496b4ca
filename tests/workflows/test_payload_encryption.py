"""Temporal holds only ciphertext of personal data; the UI's codec endpoint decrypts for permitted staff.

Runs on the dev server with kaigo's real data converter; the history is then read raw, without the codec,
as anyone with access to the Temporal server or its database would read it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable

import httpx
import pytest
from google.protobuf import json_format
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.common.v1 import Payloads
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kaigo import search_attributes, temporal_client
from kaigo.config import Settings
from models.security import AuditEvent
from tests.workflows.probe_workflows import ResidentLetter, ResidentLetterWorkflow

NAME = "髙橋 ハナ"
NUMBER = "123456789018"


@pytest.fixture
async def kaigo_client(dev_server_env: WorkflowEnvironment, settings: Settings) -> Client:
    """A client as the worker and API build it (encrypting converter)."""
    return await temporal_client.connect(settings)


@pytest.fixture
async def raw_client(dev_server_env: WorkflowEnvironment, settings: Settings) -> Client:
    """A client with no codec: what the Temporal server itself stores."""
    return await Client.connect(settings.require_temporal_address())


async def _run(client: Client, queue: str, letter: ResidentLetter) -> str:
    workflow_id = f"letter-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[ResidentLetterWorkflow]):
        with contextlib.suppress(WorkflowFailureError):  # the failing letter is part of the test
            await client.execute_workflow(
                ResidentLetterWorkflow.run, letter, id=workflow_id, task_queue=queue
            )
    return workflow_id


async def test_history_holds_no_plaintext_personal_data(kaigo_client: Client, raw_client: Client) -> None:
    queue = f"pii-{uuid.uuid4().hex[:8]}"
    ok = await _run(kaigo_client, queue, ResidentLetter(insured_no="0100000001", name=NAME, my_number=NUMBER))
    failed = await _run(
        kaigo_client, queue, ResidentLetter(insured_no="0100000001", name=NAME, my_number=NUMBER, fail=True)
    )
    for workflow_id in (ok, failed):
        history = await raw_client.get_workflow_handle(workflow_id).fetch_history()
        as_json = history.to_json()
        as_bytes = b"".join(event.SerializeToString() for event in history.events)
        for secret in (NAME, NUMBER, "ハナ", "通知に失敗"):
            assert secret not in as_json
            assert secret.encode() not in as_bytes

    # The encrypting client still reads everything back.
    result = await kaigo_client.get_workflow_handle(ok, result_type=ResidentLetter).result()
    assert (result.name, result.my_number) == (NAME, NUMBER)


async def test_search_attributes_hold_only_the_allowed_keys(kaigo_client: Client, raw_client: Client) -> None:
    workflow_id = await _run(
        kaigo_client,
        f"sa-{uuid.uuid4().hex[:8]}",
        ResidentLetter(insured_no="0100000002", name=NAME, my_number=NUMBER),
    )
    description = await raw_client.get_workflow_handle(workflow_id).describe()
    system = (
        await raw_client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
    ).system_attributes
    custom = {pair.key.name for pair in description.typed_search_attributes} - set(system)
    assert custom == {"CaseType", "InsuredNumber"}
    assert custom <= {key.name for key in search_attributes.ALL_KEYS}
    values = " ".join(str(pair.value) for pair in description.typed_search_attributes)
    assert NAME not in values and NUMBER not in values
    assert await description.memo() == {}


async def _raw_input_payloads(raw_client: Client, workflow_id: str) -> dict[str, object]:
    history = await raw_client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    return json_format.MessageToDict(Payloads(payloads=list(started.input.payloads)))


async def test_codec_endpoint_decrypts_for_permitted_staff_and_audits(
    kaigo_client: Client,
    raw_client: Client,
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workflow_id = await _run(
        kaigo_client,
        f"codec-{uuid.uuid4().hex[:8]}",
        ResidentLetter(insured_no="0100000003", name=NAME, my_number=NUMBER),
    )
    body = await _raw_input_payloads(raw_client, workflow_id)
    headers = {"X-Namespace": "default", "X-Request-ID": f"codec-{workflow_id[-12:]}"}

    decoded = await as_staff("supervisor").post("/codec/decode", json=body, headers=headers)
    assert decoded.status_code == 200
    payload = json_format.ParseDict(decoded.json(), Payloads()).payloads[0]
    assert NAME in payload.data.decode()
    async with sessions() as session:
        rows = (
            await session.exec(select(AuditEvent).where(AuditEvent.request_id == headers["X-Request-ID"]))
        ).all()
    assert [(r.actor, r.action, r.detail["payloads"]) for r in rows] == [("supervisor", "codec.decode", 1)]

    assert (await as_staff("intake").post("/codec/decode", json=body)).status_code == 403

    # Round trip through /encode as the UI does when it sends data.
    encoded = await as_staff("supervisor").post("/codec/encode", json=decoded.json())
    assert NAME.encode() not in str(encoded.json()).encode()
    again = await as_staff("supervisor").post("/codec/decode", json=encoded.json())
    assert again.json() == decoded.json()
