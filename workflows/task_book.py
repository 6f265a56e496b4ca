"""The human-task protocol inside a workflow (DESIGN.md): a workflow opens tasks, waits for their completion
update, and closes them. Opening and closing are not activities of their own: they are written with the rest
of the workflow's step (`StepBuffer` → one `apply_step` activity, workflows/procedure.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import workflow

from workflows.calendar import end_of_business_day
from workflows.errors import (
    CASE_CLOSED,
    NOT_ASSIGNEE,
    TASK_CLOSED,
    CaseEnded,
    invalid_payload,
    pydantic_problems,
    refusal,
)

with workflow.unsafe.imports_passed_through():
    from models.procedure import (
        CaseEventIn,
        CaseUpdate,
        CompleteTask,
        ProcedureModel,
        TaskClose,
        TaskOpen,
    )


@dataclass
class OpenTask:
    task_id: str
    kind: str
    assignee: str | None
    result: BaseModel | None = None
    actor: str | None = None
    closed: bool = False  # completed or cancelled (in this workflow's state)
    written: bool = False  # its closing is committed to the read model


@dataclass
class StepBuffer:
    """What the current workflow step has changed and not yet written."""

    opened: list[TaskOpen] = field(default_factory=list)
    closed: list[TaskClose] = field(default_factory=list)
    events: list[CaseEventIn] = field(default_factory=list)
    case: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.opened or self.closed or self.events or self.case or self.record)

    def update_case(self, update: CaseUpdate) -> None:
        self.case.update(update.model_dump(exclude_unset=True))

    def patch(self, changes: dict[str, Any]) -> None:
        """Merge a read-model patch: lists (e.g. votes) accumulate, other values replace."""
        for key, value in changes.items():
            if isinstance(value, list) and isinstance(self.record.get(key), list):
                self.record[key] = [*self.record[key], *value]
            else:
                self.record[key] = value


@dataclass
class TaskBook:
    model: ProcedureModel
    step: Callable[[], StepBuffer]  # the buffer of the step in progress
    is_stopped: Callable[[], bool]  # the case ended or closed: waits stop, completions are refused
    tasks: dict[str, OpenTask] = field(default_factory=dict)

    def create(
        self,
        kind: str,
        *,
        due: date | None,
        assignee: str | None = None,
        priority: int = 50,
        delegable: bool = True,
        reference: str | None = None,
    ) -> OpenTask:
        task = OpenTask(str(workflow.uuid4()), kind, assignee)
        self.tasks[task.task_id] = task
        self.step().opened.append(
            TaskOpen(
                task_id=task.task_id,
                kind=kind,
                candidate_role=self.model.role_for(kind),
                assignee=assignee,
                due_at=end_of_business_day(due) if due else None,
                priority=priority,
                delegable=delegable,
                reference=reference,
            )
        )
        return task

    def parse(self, request: CompleteTask) -> tuple[OpenTask, BaseModel]:
        """Update validator: refuse (nothing in history) a closed task, a stopped case, another person's task
        or a payload invalid for the task's kind."""
        task = self.tasks.get(request.task_id)
        if task is None or task.closed:
            raise refusal(TASK_CLOSED, "このタスクは既に終了しています")
        if self.is_stopped():
            raise refusal(CASE_CLOSED, "このケースは既に終了しています")
        if task.assignee is not None and request.actor != task.assignee:
            raise refusal(NOT_ASSIGNEE, "このタスクの担当者ではありません")
        try:
            payload = self.model.task_kind(task.kind).payload.model_validate(request.payload)
        except ValidationError as error:
            raise invalid_payload(pydantic_problems(error)) from None
        return task, payload

    def complete(self, request: CompleteTask) -> OpenTask:
        """Record a validated completion; it is written with the step the workflow takes next."""
        task, payload = self.parse(request)  # again: a second completion may have come in the same activation
        task.result, task.actor, task.closed = payload, request.actor, True
        step = self.step()
        step.closed.append(TaskClose(task_id=task.task_id, state="completed", actor=request.actor))
        step.events.append(
            CaseEventIn(
                event_key=f"task:{task.task_id}",
                step=f"{task.kind}.completed",
                actor=request.actor,
                detail={"task_id": task.task_id},
            )
        )
        return task

    def cancel(self, task: OpenTask, actor: str = "system") -> None:
        if not task.closed:
            task.closed = True
            self.step().closed.append(TaskClose(task_id=task.task_id, state="cancelled", actor=actor))

    def cancel_open(self, actor: str = "system") -> None:
        for task in self.tasks.values():
            self.cancel(task, actor)

    def written(self, closes: list[TaskClose]) -> None:
        for close in closes:
            self.tasks[close.task_id].written = True

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
