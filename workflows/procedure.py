"""The procedure kernel: what every procedure workflow shares (DESIGN.md "Procedures on one kernel").

A procedure workflow subclasses `ProcedureWorkflow` and gets:
- the human-task protocol: `self.book` opens tasks and waits for them; the `complete_task` update (with its
  validator: nothing reaches history when it refuses) and the `end_case` update (取下げ, death, loss of
  status …);
- the case header and timeline: `stage()` sets the Temporal UI's CaseStage / DueDate / current details and the
  read model's case row together; `event()` adds a timeline entry; `patch()` changes the procedure's own read
  model; `close()` ends the case;
- notices: `notice()` issues one, idempotently, on the notice workers' task queue; a notice that can never be
  rendered (bad data) becomes a task for staff instead of an endless retry;
- time: `until()` sleeps to a business date and hour unless the case closes first.

One step, one activity. Nothing above writes to the database by itself: the writes of a step are buffered
and a writer coroutine sends them as ONE `apply_step` activity (one transaction) once every coroutine of the
workflow has gone as far as it can. A task completion therefore costs one update and one activity, which
closes the task, records the event, patches the read model and opens the next tasks together — and the
update returns only when that step is committed, so the caller reads the new state.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.calendar import at_business_hour, business_today, end_of_business_day
from workflows.errors import CASE_CLOSED, invalid_payload, refusal
from workflows.task_book import OpenTask, StepBuffer, TaskBook

with workflow.unsafe.imports_passed_through():
    from activities.steps import StepActivities
    from kaigo import search_attributes as sa
    from models.procedure import (
        NOTICE_REPAIR,
        CaseClosed,
        CaseEventIn,
        CaseUpdate,
        CompleteTask,
        EndCase,
        IssueNoticeRequest,
        NoticeIssued,
        ProcedureModel,
        StepWrite,
        TaskCompleted,
        notice_task_queue,
    )

ACTIVITY_OPTIONS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1)),
}
NOTICE_TIMEOUT = timedelta(minutes=2)
ISSUE_NOTICE = "issue_notice"  # served by the notice workers (activities/notices.py)


class ProcedureWorkflow:
    """Base of every procedure workflow; subclasses call `init_case` in their `@workflow.init`."""

    MODEL: ClassVar[ProcedureModel]
    END_REASONS: ClassVar[frozenset[str]]

    def init_case(self, case_id: str, atena_no: str, insured_no: str) -> None:
        self.case_id, self.atena_no, self.insured_no = case_id, atena_no, insured_no
        self.ended: EndCase | None = None
        self.closed = False
        self.outcome: str | None = None
        self.notice_ids: list[str] = []
        self._notice_seq = 0
        self._step = StepBuffer()
        self._writing = False
        self._writer: asyncio.Task[None] | None = None
        self.book = TaskBook(self.MODEL, self._buffer, self.stopped)

    def stopped(self) -> bool:
        return self.ended is not None or self.closed

    # --------------------------------------------------------------------------- hooks for procedures

    def check_payload(self, task: OpenTask, payload: BaseModel) -> None:
        """Validator checks that need the case's state (the payload's own shape is already valid)."""

    def on_completed(self, task: OpenTask) -> None:
        """Called in the update handler right after a completion is accepted (before any await)."""

    def end_refused(self) -> str | None:
        """Why `end_case` must be refused now (e.g. a decision already taken), or None."""
        return None

    # ---------------------------------------------------------------------------------------- updates

    @workflow.update
    async def complete_task(self, request: CompleteTask) -> TaskCompleted:
        task = self.book.complete(request)
        self.on_completed(task)
        self._ensure_writer()
        await workflow.wait_condition(lambda: task.written)  # the step it started is in the read model
        return TaskCompleted(task_id=task.task_id, kind=task.kind)

    @complete_task.validator
    def _validate_completion(self, request: CompleteTask) -> None:
        task, payload = self.book.parse(request)
        self.check_payload(task, payload)

    @workflow.update
    async def end_case(self, request: EndCase) -> CaseClosed:
        self.ended = request
        await workflow.wait_condition(lambda: self.closed and not self._writing and self._step.is_empty())
        return CaseClosed(case_id=self.case_id, outcome=self.outcome or "", notice_ids=list(self.notice_ids))

    @end_case.validator
    def _validate_end(self, request: EndCase) -> None:
        if self.stopped():
            raise refusal(CASE_CLOSED, "このケースは既に終了しています")
        reason = self.end_refused()
        if reason:
            raise refusal(CASE_CLOSED, reason)
        if request.reason not in self.END_REASONS:
            raise invalid_payload([("reason", "終了の理由が正しくありません")])

    # ---------------------------------------------------------------------------- case and timeline

    def stage(
        self, stage: str, *, due: date | None = None, clear_due: bool = False, details: str | None = None
    ) -> None:
        """Move the case to `stage`: Temporal UI (CaseStage, DueDate, current details) and read model."""
        label = details or self.MODEL.stages[stage]
        updates = [sa.CASE_STAGE.value_set(stage)]
        if due is not None:
            updates.append(sa.DUE_DATE.value_set(end_of_business_day(due)))
        elif clear_due:
            updates.append(sa.DUE_DATE.value_unset())
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(label)
        update = CaseUpdate(stage=stage, details=label)
        if due is not None:
            update.due_on = due
        elif clear_due:
            update.clear_due = True
        self._buffer().update_case(update)

    def due(self, day: date) -> None:
        """A new next deadline without a change of stage."""
        workflow.upsert_search_attributes([sa.DUE_DATE.value_set(end_of_business_day(day))])
        self._buffer().update_case(CaseUpdate(due_on=day))

    def event(self, key: str, step: str, actor: str = "system", detail: dict[str, Any] | None = None) -> None:
        self._buffer().events.append(CaseEventIn(event_key=key, step=step, actor=actor, detail=detail or {}))

    def patch(self, **changes: Any) -> None:
        """Change the procedure's own read model (its ReadModel in activities/ applies the patch)."""
        self._buffer().patch(changes)

    def close(self, stage: str, outcome: str) -> None:
        """The case is over: stage, no more due date, state closed; open tasks are cancelled."""
        self.book.cancel_open(self.ended.actor if self.ended else "system")
        self.stage(stage, clear_due=True)
        self._buffer().update_case(CaseUpdate(closed_outcome=outcome))
        self.outcome = outcome
        self.closed = True

    # ---------------------------------------------------------------------------------- the writer

    def _buffer(self) -> StepBuffer:
        """The step in progress; whoever writes to it makes sure the writer runs."""
        self._ensure_writer()
        return self._step

    def _ensure_writer(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_steps())

    async def _write_steps(self) -> None:
        while True:
            await workflow.wait_condition(lambda: not self._step.is_empty())
            # Conditions are checked only when no coroutine can run: waiting once more lets every coroutine
            # woken together with this one finish its step first, so they share one write.
            await workflow.wait_condition(lambda: True)
            buffer, self._step = self._step, StepBuffer()
            self._writing = True
            await workflow.execute_activity(
                StepActivities.apply_step, self._step_write(buffer), **ACTIVITY_OPTIONS
            )
            self._writing = False
            self.book.written(buffer.closed)

    def _step_write(self, buffer: StepBuffer) -> StepWrite:
        return StepWrite(
            case_id=self.case_id,
            case_type=self.MODEL.case_type,
            subject_atena_no=self.atena_no,
            insured_no=self.insured_no,
            opened=buffer.opened,
            closed=buffer.closed,
            events=buffer.events,
            case=CaseUpdate(**buffer.case) if buffer.case else None,
            record=buffer.record or None,
        )

    async def settle(self) -> None:
        """Wait until everything the workflow has changed so far is written."""
        self._ensure_writer()
        await workflow.wait_condition(lambda: self._step.is_empty() and not self._writing)

    async def finish(self) -> None:
        """End of run: write the last step and let running update handlers return."""
        await self.settle()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.settle()

    # --------------------------------------------------------------------------------------- notices

    async def notice(self, kind: str, data: dict[str, Any], label: str) -> NoticeIssued:
        """Issue a notice (idempotent by case, kind and sequence). If it cannot be rendered — data no retry
        can fix, such as a character the typeface lacks — staff get a task to fix it; then it is retried."""
        self._notice_seq += 1
        request = IssueNoticeRequest(
            idempotency_key=f"{self.case_id}:{kind}:{self._notice_seq}",
            kind=kind,
            case_id=self.case_id,
            recipient_atena_no=self.atena_no,
            issued_on=business_today(),
            data=data,
        )
        attempt = 0
        while True:
            try:
                issued: NoticeIssued = await workflow.execute_activity(
                    ISSUE_NOTICE,
                    request,
                    result_type=NoticeIssued,
                    task_queue=notice_task_queue(workflow.info().task_queue),
                    start_to_close_timeout=NOTICE_TIMEOUT,
                    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                )
                break
            except ActivityError as error:
                cause = error.cause
                if not isinstance(cause, ApplicationError) or not cause.non_retryable:
                    raise
                attempt += 1
                await self._repair_notice(kind, label, cause.message, attempt)
        self.notice_ids.append(issued.notice_id)
        self.event(
            f"notice:{issued.notice_id}",
            "notice.issued",
            detail={"kind": kind, "document_no": issued.document_no},
        )
        return issued

    async def _repair_notice(self, kind: str, label: str, error: str, attempt: int) -> None:
        self.event(f"notice-failed:{kind}:{self._notice_seq}:{attempt}", "notice.failed", detail={
            "kind": kind, "error": error,
        })  # fmt: skip
        task = self.book.create(
            NOTICE_REPAIR, due=business_today(), priority=95, reference=f"{label}: {error}"[:80]
        )
        await self.book.wait(task)

    # ------------------------------------------------------------------------------- long-lived cases

    def history_is_long(self) -> bool:
        """Temporal suggests starting afresh (continue-as-new) once the history grows large."""
        return workflow.info().is_continue_as_new_suggested()

    async def continue_as_new(self, next_input: Any) -> None:
        """Start the same case afresh with `next_input`, which must carry everything the case still needs
        (open tasks are not carried: call this between tasks). Everything written so far is committed and
        every update handler has returned first."""
        if any(not task.closed for task in self.book.tasks.values()):
            raise RuntimeError("continue-as-new with open tasks would lose them")
        await self.finish()
        workflow.continue_as_new(next_input)

    # ------------------------------------------------------------------------------------------ time

    async def until(self, day: date, hour: int = 9) -> bool:
        """Sleep until `day` at `hour` JST; True if the case closed meanwhile."""
        timeout = max(at_business_hour(day, hour) - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(lambda: self.closed, timeout=timeout)
        except TimeoutError:
            return False
        return True


def search_attributes_at_start(
    model: ProcedureModel, insured_no: str, office: str, due: date | None
) -> TypedSearchAttributes:
    """Set by the API when it starts the workflow: visible in the Temporal UI from the first moment."""
    pairs = [
        SearchAttributePair(sa.CASE_TYPE, model.case_type.value),
        SearchAttributePair(sa.CASE_STAGE, model.open_stage),
        SearchAttributePair(sa.INSURED_NUMBER, insured_no),
        SearchAttributePair(sa.OFFICE, office),
    ]
    if due is not None:
        pairs.append(SearchAttributePair(sa.DUE_DATE, end_of_business_day(due)))
    return TypedSearchAttributes(pairs)
