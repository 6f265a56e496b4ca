"""A workflow that issues notices through the notice worker's task queue, as the case workflows will.

It lives in an importable module because the workflow sandbox re-imports workflow code.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.procedure import IssueNoticeRequest, NoticeIssued


class IssueTwice(BaseModel):
    task_queue: str
    request: IssueNoticeRequest


class Outcome(BaseModel):
    issued: list[NoticeIssued] = []
    error_type: str | None = None
    error_message: str | None = None


@workflow.defn
class IssueNoticeProbeWorkflow:
    """Issues the same request twice (a retry after a lost reply): both must name one notice."""

    @workflow.run
    async def run(self, probe: IssueTwice) -> Outcome:
        outcome = Outcome()
        for _ in range(2):
            try:
                issued: NoticeIssued = await workflow.execute_activity(
                    "issue_notice",
                    probe.request,
                    task_queue=probe.task_queue,
                    result_type=NoticeIssued,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
            except ActivityError as error:
                cause = error.cause
                if not isinstance(cause, ApplicationError):
                    raise
                return Outcome(issued=outcome.issued, error_type=cause.type, error_message=cause.message)
            outcome.issued.append(issued)
        return outcome
