"""The human-task protocol inside a workflow (DESIGN.md): open a task through an activity, wait for its
completion update, close it through an activity. Shared by every procedure's workflow.

A workflow holds one `TaskBook`. Its `complete_task` update validator calls `TaskBook.check_completion`,
so a closed task or an invalid payload is rejected before anything is written to history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.task_kinds import TASK_KINDS, TaskKind, parse_payload
    from models.workflow_io import CaseEventIn, CompleteTask, TaskClose, TaskOpen

# Japan has no daylight saving time, so a fixed offset is exact (and safe inside the workflow sandbox).
JST = timezone(timedelta(hours=9), "JST")
ACTIVITY_OPTIONS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1)),
}

# Error types the API maps to HTTP statuses (api/routes/tasks.py).
TASK_CLOSED = "TaskClosed"  # → 409
INVALID_PAYLOAD = "InvalidPayload"  # → 422, details = [{"field", "message"}]
CASE_CLOSED = "CaseClosed"  # → 409
NOT_ASSIGNEE = "NotAssignee"  # → 403 (a task the workflow gave to one person, e.g. a board member's vote)


class CaseEnded(Exception):
    """Raised inside the workflow when the case was withdrawn or ended while it waited."""


def invalid_payload(problems: list[tuple[str, str]]) -> ApplicationError:
    details = [{"field": f, "message": m} for f, m in problems]
    return ApplicationError(
        "; ".join(m for _, m in problems), details, type=INVALID_PAYLOAD, non_retryable=True
    )


def pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for e in error.errors():
        ctx = e.get("ctx") or {}
        message = str(ctx["error"]) if e["type"] == "value_error" and "error" in ctx else e["msg"]
        problems.append((".".join(str(p) for p in e["loc"]), message))
    return problems


def business_today() -> date:
    return workflow.now().astimezone(JST).date()


def at_business_hour(day: date, hour: int = 9) -> datetime:
    """Timers wake at office hours (JST), not at midnight."""
    return datetime.combine(day, time(hour), JST)


@dataclass
class OpenTask:
    task_id: str
    kind: TaskKind
    assignee: str | None
    result: BaseModel | None = None
    actor: str | None = None
    closing: bool = False


@dataclass
class TaskBook:
    case_id: str
    subject_atena_no: str
    insured_no: str
    is_stopped: Callable[[], bool]  # the case ended or closed: waits stop, completions are refused
    tasks: dict[str, OpenTask] = field(default_factory=dict)

    async def create(
        self, kind: TaskKind, *, due: date | None, assignee: str | None = None, priority: int = 50
    ) -> OpenTask:
        task = OpenTask(str(workflow.uuid4()), kind, assignee)
        self.tasks[task.task_id] = task
        await workflow.execute_activity(
            "open_task",
            TaskOpen(
                task_id=task.task_id,
                case_id=self.case_id,
                workflow_id=workflow.info().workflow_id,
                kind=kind,
                candidate_role=TASK_KINDS[kind].candidate_role,
                assignee=assignee,
                subject_atena_no=self.subject_atena_no,
                insured_no=self.insured_no,
                due_at=at_business_hour(due, 17) if due else None,
                priority=priority,
            ),
            **ACTIVITY_OPTIONS,
        )
        return task

    def check_completion(self, request: CompleteTask, extra: Callable[[OpenTask, BaseModel], None]) -> None:
        """Update validator: reject (nothing in history) a closed task or a payload invalid for its kind."""
        task = self.tasks.get(request.task_id)
        if task is None or task.result is not None or task.closing:
            raise ApplicationError("このタスクは既に終了しています", type=TASK_CLOSED, non_retryable=True)
        if self.is_stopped():
            raise ApplicationError("このケースは既に終了しています", type=CASE_CLOSED, non_retryable=True)
        if task.assignee is not None and request.actor != task.assignee:
            raise ApplicationError("このタスクの担当者ではありません", type=NOT_ASSIGNEE, non_retryable=True)
        try:
            payload = parse_payload(task.kind, request.payload)
        except ValidationError as error:
            raise invalid_payload(pydantic_problems(error)) from None
        extra(task, payload)

    async def complete(self, request: CompleteTask) -> OpenTask:
        task = self.tasks[request.task_id]
        if task.result is not None or task.closing:  # a second completion accepted in the same activation
            raise ApplicationError("このタスクは既に終了しています", type=TASK_CLOSED, non_retryable=True)
        task.closing = True
        payload = parse_payload(task.kind, request.payload)
        await workflow.execute_activity(
            "close_task",
            TaskClose(task_id=task.task_id, state="completed", actor=request.actor),
            **ACTIVITY_OPTIONS,
        )
        await self.event(
            f"task:{task.task_id}", f"{task.kind}.completed", request.actor, {"task_id": task.task_id}
        )
        task.result, task.actor = payload, request.actor
        return task

    async def cancel(self, task: OpenTask, actor: str = "system") -> None:
        if task.result is None and not task.closing:
            task.closing = True
            await workflow.execute_activity(
                "close_task",
                TaskClose(task_id=task.task_id, state="cancelled", actor=actor),
                **ACTIVITY_OPTIONS,
            )

    async def cancel_pending(self, actor: str = "system") -> None:
        for task in list(self.tasks.values()):
            await self.cancel(task, actor)

    async def wait(self, task: OpenTask, *, until: datetime | None = None) -> BaseModel | None:
        """The task's payload once completed; None if `until` passed first; CaseEnded if the case stopped."""
        timeout = None if until is None else max(until - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(
                lambda: task.result is not None or self.is_stopped(), timeout=timeout
            )
        except TimeoutError:
            return None
        if task.result is None:
            raise CaseEnded
        return task.result

    async def event(self, key: str, step: str, actor: str, detail: dict[str, Any] | None = None) -> None:
        await workflow.execute_activity(
            "record_case_event",
            CaseEventIn(
                case_id=self.case_id,
                event_key=key,
                subject_atena_no=self.subject_atena_no,
                step=step,
                actor=actor,
                detail=detail or {},
            ),
            **ACTIVITY_OPTIONS,
        )
