"""A task as one caller may see it: the kind's label, and the 被保険者番号 only for staff who may read the
registry (board members judge from anonymised material: they get the meeting's reference instead)."""

from __future__ import annotations

from datetime import datetime

from api.auth import Principal
from models.permissions import Permission
from models.task import Task, TaskPublic, TaskState
from procedures import TASK_KINDS


def task_view(task: Task, now: datetime, principal: Principal) -> TaskPublic:
    return TaskPublic(
        **task.model_dump(exclude={"subject_atena_no", "workflow_id", "state", "insured_no"}),
        label=TASK_KINDS[task.kind].label,
        state=TaskState(task.state),
        overdue=task.state == TaskState.OPEN and task.due_at is not None and task.due_at < now,
        insured_no=task.insured_no if principal.has(Permission.REGISTRY_READ) else None,
    )
