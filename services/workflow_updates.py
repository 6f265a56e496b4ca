"""Sending an update to a case's workflow and turning its refusals into staff-facing problems.

Updates are named by their handler (e.g. `ProcedureWorkflow.complete_task`), never by a string. Validators
reject with typed ApplicationErrors (workflows/errors.py); an update to a finished workflow is refused by the
server. Either way the caller gets problem+json, never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from kaigo import temporal_client
from kaigo.errors import ProblemError
from workflows.errors import CASE_CLOSED, INVALID_PAYLOAD, NOT_ASSIGNEE, TASK_CLOSED, TOO_EARLY

R = TypeVar("R")
A = TypeVar("A")

_CLOSED = "このケースは既に終了しています"


async def execute(
    client: Client,
    workflow_id: str,
    update: Callable[[Any, A], Awaitable[R]],
    arg: A,
    *,
    update_id: str | None = None,
) -> R:
    """`update_id`: for a write staff may retry after a 503 (see temporal_client.execute_update)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await temporal_client.execute_update(handle, update, arg, update_id=update_id)
    except WorkflowUpdateFailedError as exc:
        raise problem_for(exc.cause) from exc
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise ProblemError(409, "case-closed", _CLOSED) from exc
        raise


def payload_problem(fields: list[tuple[str, str]]) -> ProblemError:
    """422 for a task payload: one `errors[]` entry per field, with its path from `payload`."""
    return ProblemError(
        422,
        "invalid-payload",
        "; ".join(f"{field}: {message}" for field, message in fields),
        field=fields[0][0],
        fields=fields,
    )


def problem_for(cause: BaseException | None) -> ProblemError:
    if isinstance(cause, ApplicationError):
        if cause.type == INVALID_PAYLOAD:
            details = list(cause.details[0]) if cause.details else []
            fields = [(f"payload.{d['field']}", str(d["message"])) for d in details]
            return payload_problem(fields or [("payload", cause.message)])
        if cause.type == TASK_CLOSED:
            return ProblemError(409, "task-closed", cause.message)
        if cause.type == CASE_CLOSED:
            return ProblemError(409, "case-closed", cause.message)
        if cause.type == TOO_EARLY:
            return ProblemError(409, "too-early", cause.message)
        if cause.type == NOT_ASSIGNEE:
            return ProblemError(403, "not-assignee", cause.message)
    return ProblemError(409, "update-rejected", "ワークフローが更新を受け付けませんでした")
