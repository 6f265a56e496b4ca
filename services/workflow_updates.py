"""Sending an update to a case's workflow and turning its refusals into staff-facing problems.

Validators reject with typed ApplicationErrors (workflows/human_tasks.py); an update to a workflow that has
already finished is refused by the server. Either way the caller gets problem+json, never a 500.
"""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from kaigo import temporal_client
from kaigo.errors import ProblemError
from workflows.human_tasks import CASE_CLOSED, INVALID_PAYLOAD, NOT_ASSIGNEE, TASK_CLOSED

R = TypeVar("R")

_CLOSED = "このケースは既に終了しています"


async def execute(client: Client, workflow_id: str, update: str, arg: Any, result_type: type[R]) -> R:
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await temporal_client.execute_update(handle, update, arg, result_type)
    except WorkflowUpdateFailedError as exc:
        raise problem_for(exc.cause) from exc
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise ProblemError(409, "case-closed", _CLOSED) from exc
        raise


def problem_for(cause: BaseException | None) -> ProblemError:
    if isinstance(cause, ApplicationError):
        if cause.type == INVALID_PAYLOAD:
            details = list(cause.details[0]) if cause.details else []
            first = details[0] if details else {"field": "payload", "message": cause.message}
            return ProblemError(
                422,
                "invalid-payload",
                cause.message,
                field=f"payload.{first['field']}",
                extra={"problems": details},
            )
        if cause.type == TASK_CLOSED:
            return ProblemError(409, "task-closed", cause.message)
        if cause.type == CASE_CLOSED:
            return ProblemError(409, "case-closed", cause.message)
        if cause.type == NOT_ASSIGNEE:
            return ProblemError(403, "not-assignee", cause.message)
    return ProblemError(409, "update-rejected", "ワークフローが更新を受け付けませんでした")
