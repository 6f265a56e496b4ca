"""The one way kaigo processes talk to Temporal: same namespace, same data converter everywhere."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError, RPCStatusCode

from kaigo.config import Settings
from kaigo.security.keys import Keyring
from kaigo.security.payload_codec import EncryptionCodec

R = TypeVar("R")


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads, AES-GCM encrypted; failure messages and stack traces are encrypted too."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(Keyring.parse(settings.payload_keys, name="PAYLOAD_KEYS")),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect to TEMPORAL_ADDRESS. `lazy` defers the first RPC (the API starts even if Temporal is down)."""
    return await Client.connect(
        settings.require_temporal_address(),
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        lazy=lazy,
    )


# ------------------------------------------------------------------------------- bounded calls from the API
# A paused or unreachable Temporal server must not hold a clerk's request: unbounded, a call waited for the
# SDK's first connect (30 s) or for gRPC keep-alive to notice (15-36 s), then failed as a 500.
CALL_TIMEOUT = timedelta(seconds=5)  # start a workflow; have an update accepted (validated) by the worker
UPDATE_RESULT_TIMEOUT = timedelta(seconds=30)  # an accepted update's handler may run activities first


class TemporalUnavailable(Exception):
    """Temporal did not answer in time. `accepted`: an update was accepted and may still complete."""

    def __init__(self, *, accepted: bool = False) -> None:
        super().__init__("Temporal did not answer in time")
        self.accepted = accepted


@asynccontextmanager
async def bounded(timeout: timedelta = CALL_TIMEOUT, *, accepted: bool = False) -> AsyncIterator[None]:
    """Temporal calls in this block give up after `timeout` (connecting included) as TemporalUnavailable."""
    try:
        async with asyncio.timeout(timeout.total_seconds()):
            yield
    except TimeoutError as exc:
        raise TemporalUnavailable(accepted=accepted) from exc


async def execute_update(
    handle: WorkflowHandle[Any, Any],
    update: Callable[..., Awaitable[R]],
    arg: Any,
    *,
    update_id: str | None = None,
) -> R:
    """`handle.execute_update`, bounded: admission within CALL_TIMEOUT (a paused server or a stopped worker
    answers 503 in seconds), then the handler's result within UPDATE_RESULT_TIMEOUT.

    `update_id` makes a retry safe: a request that timed out may still reach the workflow once the server
    answers again; the retry with the same id is given that update's outcome instead of running it twice
    (the server keeps it, even after the workflow has closed)."""
    async with bounded():
        started = await handle.start_update(
            update,
            arg,
            id=update_id,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            rpc_timeout=CALL_TIMEOUT,
        )
    async with bounded(UPDATE_RESULT_TIMEOUT, accepted=True):
        return await started.result(rpc_timeout=UPDATE_RESULT_TIMEOUT)


_UNAVAILABLE = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)


def unavailable(exc: BaseException) -> TemporalUnavailable | None:
    """The outage `exc` stands for, or None when it is not one (a bug, a refusal: not a 503)."""
    if isinstance(exc, TemporalUnavailable):
        return exc
    if isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError):
        return TemporalUnavailable()
    if isinstance(exc, RPCError) and exc.status in _UNAVAILABLE:
        return TemporalUnavailable()
    # The SDK reports a failed (lazy) first connection as a bare RuntimeError.
    if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):
        return TemporalUnavailable()
    return None
