"""CertificationWorkflow — 要介護認定 (介護保険法27–29条), one execution per application.

申請 → 認定調査 ∥ 主治医意見書 → 一次判定 (imported) → 介護認定審査会 → 決定・通知.

Beside the main line runs the 30-day clock (27条11項/12項): before the deadline staff give the 処理見込期間
and the 延期通知書 goes out, again whenever the estimate slips. 取下げ, death or loss of status end the case
at any point (`end_case` update).

Deterministic: time from workflow.now(), ids from workflow.uuid4(), every side effect in an activity,
every legal rule from rules/. Workflow ID: `certification-<application id>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

from workflows.human_tasks import (
    ACTIVITY_OPTIONS,
    CASE_CLOSED,
    CaseEnded,
    OpenTask,
    TaskBook,
    at_business_hour,
    business_today,
    invalid_payload,
)

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from kaigo import search_attributes as sa
    from models.alwaysj import PrimaryResultRecord
    from models.certification import STAGE_LABELS, ApplicationState, EndReason, Stage
    from models.physician_opinion import OpinionRequest, PhysicianOpinion
    from models.survey import SurveyRecord
    from models.task_kinds import (
        BoardClosePayload,
        BoardVotePayload,
        DelayEstimate,
        TaskKind,
    )
    from models.workflow_io import (
        AllocationRequest,
        ApplicationPatch,
        BoardSlot,
        CertificationInput,
        CertificationOutcome,
        CertificationRecord,
        CompleteTask,
        EndCase,
        IssueNoticeRequest,
        NoticeIssued,
        Recuse,
        TaskCompleted,
        VoteRecord,
    )
    from rules import board as board_rules
    from rules.certification import (
        ApplicationKind,
        DelayNotice,
        deadline_after,
        deemed_rejection_date,
        delay_notice_latest,
        delay_notice_may_be_omitted,
        effective_date,
        validate_validity_months,
        validity_period,
    )
    from rules.insured_status import InsuredCategory
    from rules.primary_determination import CareLevel, validate_primary_result
    from rules.simplified_review import SimplifiedReviewCase, simplified_review_eligibility
    from rules.specified_diseases import second_category_eligible


@workflow.defn
class CertificationWorkflow:
    @workflow.init
    def __init__(self, inp: CertificationInput) -> None:
        self.inp = inp
        self.case_id = f"certification-{inp.application_id}"
        self.ended: EndCase | None = None
        self.closed = False
        # Waits stop when the case is ended (取下げ etc.) or, for the 30-day clock, when it is closed.
        self.book = TaskBook(
            self.case_id, inp.atena_no, inp.insured_no, lambda: self.ended is not None or self.closed
        )
        self.survey: SurveyRecord | None = None
        self.surveyor: str | None = None
        self.opinion: PhysicianOpinion | None = None
        self.primary: PrimaryResultRecord | None = None
        self.slot: BoardSlot | None = None
        self.votes: dict[str, BoardVotePayload] = {}  # member → vote, for the current meeting
        self.recused: set[str] = set()
        self.delay_notices: list[DelayNotice] = []
        self.notice_ids: list[str] = []
        self.notice_seq = 0
        self.record: CertificationRecord | None = None
        self.deciding = False

    # ------------------------------------------------------------------------------------- updates

    @workflow.update
    async def complete_task(self, request: CompleteTask) -> TaskCompleted:
        pending = self.book.tasks[request.task_id]
        if pending.kind is TaskKind.BOARD_CLOSE and self._tally().decided:
            self.deciding = True  # set before any await: a 取下げ arriving from now on comes too late
        task = await self.book.complete(request)
        if task.kind is TaskKind.BOARD_VOTE and self.slot is not None:
            vote = task.result
            assert isinstance(vote, BoardVotePayload)
            await workflow.execute_activity(
                "record_board_vote",
                VoteRecord(
                    vote_key=task.task_id,
                    application_id=self.inp.application_id,
                    meeting_id=self.slot.meeting_id,
                    member=request.actor,
                    level=vote.level,
                    validity_months=vote.validity_months,
                    opinion=vote.opinion,
                ),
                **ACTIVITY_OPTIONS,
            )
            self.votes[request.actor] = vote
        return TaskCompleted(task_id=task.task_id, kind=task.kind)

    @complete_task.validator
    def _validate_completion(self, request: CompleteTask) -> None:
        self.book.check_completion(request, self._check_payload)

    def _check_payload(self, task: OpenTask, payload: BaseModel) -> None:
        """Checks that need the case's state (the payload's own shape is already validated)."""
        if isinstance(payload, PhysicianOpinion) and not second_category_eligible(
            self.inp.category, payload.specified_disease
        ):
            raise invalid_payload(
                [("specified_disease", "第2号被保険者の意見書には特定疾病の記載が必要です")]
            )
        if isinstance(payload, PrimaryResultRecord):
            self._check_primary(payload)
        elif isinstance(payload, BoardVotePayload) and payload.validity_months is not None:
            try:
                validate_validity_months(
                    self.inp.kind, payload.validity_months, self._level_unchanged(payload.level)
                )
            except ValueError as error:
                raise invalid_payload([("validity_months", str(error))]) from None
        elif isinstance(payload, BoardClosePayload):
            self._check_close(payload)
        elif isinstance(payload, DelayEstimate) and payload.expected_by <= max(
            self._deadline(), business_today()
        ):
            raise invalid_payload(
                [("expected_by", "処理見込期間は申請日から30日を超え、今日より後の日まで指定してください")]
            )

    def _check_primary(self, result: PrimaryResultRecord) -> None:
        assert self.survey is not None and self.opinion is not None  # the task opens after both
        problems = []
        if result.insured_no != self.inp.insured_no:
            problems.append(("insured_no", "被保険者番号がこの申請と一致しません"))
        problems += [
            ("level", message)
            for message in validate_primary_result(
                result.level,
                result.total_minutes,
                self.survey.dementia_independence,
                self.opinion.dementia_independence,
                result.stability,
                result.dementia_probability,
                result.category_times,
            )
        ]
        if problems:
            raise invalid_payload(problems)

    def _check_close(self, close: BoardClosePayload) -> None:
        assert self.slot is not None and self.primary is not None
        if self.slot.chair not in self.votes:
            raise invalid_payload([("votes", "合議体長の判定を先に入力してください")])
        if self.inp.category is InsuredCategory.SECOND and close.specified_disease_confirmed is None:
            message = "第2号被保険者は、原因が特定疾病によるかを確認してください"
            raise invalid_payload([("specified_disease_confirmed", message)])
        decision = self._tally()
        if decision.decided and decision.level != self.primary.level and not close.change_reason:
            raise invalid_payload([("change_reason", "一次判定を変更する場合は変更理由を記入してください")])

    @workflow.update
    async def end_case(self, request: EndCase) -> CertificationOutcome:
        self.ended = request
        await workflow.wait_condition(lambda: self.closed)
        return self._outcome()

    @end_case.validator
    def _validate_end(self, request: EndCase) -> None:
        # Once the board has decided, the decision stands and is notified: 取下げ is too late.
        if self.closed or self.ended is not None or self.record is not None or self.deciding:
            raise ApplicationError("このケースは既に終了しています", type=CASE_CLOSED, non_retryable=True)
        if request.reason not in set(EndReason):
            raise invalid_payload([("reason", "終了の理由が正しくありません")])

    @workflow.update
    async def recuse_member(self, request: Recuse) -> None:
        """A board member declared a conflict after the case was allocated: withdraw their vote task."""
        self.recused.add(request.member)
        self.votes.pop(request.member, None)
        for task in list(self.book.tasks.values()):
            if task.kind is TaskKind.BOARD_VOTE and task.assignee == request.member:
                await self.book.cancel(task, request.actor)

    @recuse_member.validator
    def _validate_recusal(self, request: Recuse) -> None:
        if self.slot is not None and request.member == self.slot.chair:
            raise invalid_payload([("login_id", "合議体長は回避できません。別の開催日に割り当ててください")])

    # ----------------------------------------------------------------------------------------- run

    @workflow.run
    async def run(self, inp: CertificationInput) -> CertificationOutcome:
        clock = asyncio.create_task(self._thirty_day_clock())
        try:
            await self.book.event("opened", "application.received", "system", {"kind": inp.kind})
            await self._stage(Stage.SURVEY_AND_OPINION, due=self._deadline())
            await self._in_parallel(self._survey(), self._physician_opinion())
            await self._stage(Stage.PRIMARY)
            self.primary = await self._primary()
            await self._stage(Stage.BOARD)
            decision, close = await self._board()
            await self._decide(decision, close)
        except CaseEnded:
            await self._end()
        self.closed = True
        await clock
        await self.book.cancel_pending()  # e.g. a delay estimate no longer needed
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._outcome()

    @staticmethod
    async def _in_parallel(*branches: Coroutine[Any, Any, None]) -> None:
        """Run branches together; when the case ends every branch stops, and CaseEnded is raised once."""
        outcomes = await asyncio.gather(*branches, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    # ------------------------------------------------------------------------------ survey, opinion

    async def _survey(self) -> None:
        due = deadline_after(self.inp.applied_on, self.inp.policy.survey_due_days)
        task = await self.book.create(TaskKind.SURVEY, due=due)
        survey = await self.book.wait(task)
        assert isinstance(survey, SurveyRecord)
        self.survey, self.surveyor = survey, task.actor
        await self._patch(survey=survey.model_dump(mode="json"), surveyor=task.actor)

    async def _physician_opinion(self) -> None:
        policy = self.inp.policy
        request_task = await self.book.create(
            TaskKind.OPINION_REQUEST, due=deadline_after(self.inp.applied_on, policy.opinion_request_due_days)
        )
        request = await self.book.wait(request_task)
        assert isinstance(request, OpinionRequest)
        await self._patch(opinion_request=request.model_dump(mode="json"))
        receipt = await self.book.create(TaskKind.OPINION_RECEIPT, due=request.due_on)
        # 督促: when the opinion is overdue, a reminder task; then again every reminder interval.
        next_check = at_business_hour(request.due_on + timedelta(days=1))
        reminder: OpenTask | None = None
        while (opinion := await self.book.wait(receipt, until=next_check)) is None:
            if reminder is None or reminder.result is not None:
                reminder = await self.book.create(
                    TaskKind.OPINION_REMINDER, due=business_today() + timedelta(days=2)
                )
            next_check = at_business_hour(
                business_today() + timedelta(days=policy.opinion_reminder_interval_days)
            )
        if reminder is not None:
            await self.book.cancel(reminder)
        assert isinstance(opinion, PhysicianOpinion)
        self.opinion = opinion
        await self._patch(opinion=opinion.model_dump(mode="json"))

    # --------------------------------------------------------------------------------- 一次判定

    async def _primary(self) -> PrimaryResultRecord:
        task = await self.book.create(
            TaskKind.PRIMARY_RESULT, due=business_today() + timedelta(days=self.inp.policy.primary_due_days)
        )
        result = await self.book.wait(task)
        assert isinstance(result, PrimaryResultRecord)
        await self._patch(primary_result=result.model_dump(mode="json"))
        return result

    # ------------------------------------------------------------------------------------ 審査会

    def _simplified(self) -> bool:
        assert self.primary is not None
        eligible, _ = simplified_review_eligibility(
            SimplifiedReviewCase(
                category=self.inp.category,
                application_kind=self.inp.kind,
                primary_level=self.primary.level,
                reference_minutes=self.primary.total_minutes,
                stability=self.primary.stability,
                previous_level=self.inp.previous_level,
                previous_validity_months=None,
            )
        )
        return eligible

    def _tally(self) -> board_rules.BoardDecision:
        assert self.slot is not None
        votes = [
            board_rules.Vote(member, vote.level, vote.validity_months)
            for member, vote in self.votes.items()
            if member not in self.recused
        ]
        return board_rules.decide(votes, self.slot.chair, self.slot.panel_size)

    def _level_unchanged(self, level: CareLevel) -> bool:
        return self.inp.previous_level is not None and level == self.inp.previous_level

    async def _board(self) -> tuple[board_rules.BoardDecision, BoardClosePayload]:
        not_before = business_today()
        simplified = self._simplified()
        while True:
            slot: BoardSlot | None = await workflow.execute_activity(
                "allocate_board_meeting",
                AllocationRequest(
                    application_id=self.inp.application_id,
                    not_before=not_before,
                    simplified=simplified,
                    surveyor=self.surveyor,
                    applicant_office=self.inp.applicant_office,
                ),
                result_type=BoardSlot | None,  # type: ignore[arg-type]
                **ACTIVITY_OPTIONS,
            )
            if slot is None:  # no meeting with room: the secretariat schedules one, then we try again
                await self.book.wait(await self.book.create(TaskKind.BOARD_SCHEDULING, due=business_today()))
                continue
            self.slot, self.votes = slot, {}
            self.recused |= set(slot.recused)
            allocated = {
                "meeting_id": slot.meeting_id,
                "held_on": slot.held_on.isoformat(),
                "simplified": simplified,
            }
            await self.book.event(f"allocated:{slot.meeting_id}", "board.allocated", "system", allocated)
            await self._stage(Stage.BOARD, due=slot.held_on, details=f"審査会 {slot.held_on:%m/%d} 予定")
            vote_tasks = [
                await self.book.create(TaskKind.BOARD_VOTE, due=slot.held_on, assignee=seat.login_id)
                for seat in slot.seats
            ]
            close_task = await self.book.create(TaskKind.BOARD_CLOSE, due=slot.held_on, assignee=slot.chair)
            close = await self.book.wait(close_task)
            assert isinstance(close, BoardClosePayload)
            if self.ended is not None:  # ended while the chair was closing: no decision
                raise CaseEnded
            decision = self._tally()
            for task in vote_tasks:  # members who did not vote were absent
                await self.book.cancel(task)
            tally = {"outcome": decision.outcome, "level": decision.level, "votes": len(self.votes)}
            await self.book.event(
                f"tally:{slot.meeting_id}", "board.tallied", close_task.actor or "system", tally
            )
            if decision.decided:
                return decision, close
            not_before = slot.held_on + timedelta(days=1)  # 定足数不足・過半数なし: next meeting

    # ------------------------------------------------------------------------------- decision

    async def _decide(self, decision: board_rules.BoardDecision, close: BoardClosePayload) -> None:
        assert decision.level is not None and self.primary is not None
        # 第2号: a state not caused by a 特定疾病 is not a 要介護状態 under 7条3項2号, whatever its degree.
        not_by_disease = (
            self.inp.category is InsuredCategory.SECOND and close.specified_disease_confirmed is False
        )
        level = CareLevel.NOT_APPLICABLE if not_by_disease else decision.level
        decided_on = business_today()
        valid_from = valid_to = None
        if level is not CareLevel.NOT_APPLICABLE:
            assert decision.validity_months is not None
            start = effective_date(self.inp.kind, self.inp.applied_on, self.inp.previous_valid_to)
            valid_from, valid_to = validity_period(
                self.inp.kind, start, decision.validity_months, level_unchanged=self._level_unchanged(level)
            )
        record = CertificationRecord(
            application_id=self.inp.application_id,
            atena_no=self.inp.atena_no,
            insured_no=self.inp.insured_no,
            level=level,
            valid_from=valid_from,
            valid_to=valid_to,
            board_opinion=close.board_opinion,
            service_types=close.service_types,
            decided_on=decided_on,
        )
        await workflow.execute_activity("save_certification", record, **ACTIVITY_OPTIONS)
        self.record = record
        await self._notice(*self._decision_notice(record, close))
        decision_json = record.model_dump(mode="json", exclude={"atena_no", "insured_no", "application_id"})
        await self._patch(
            state=ApplicationState.DECIDED, decision={**decision_json, "change_reason": close.change_reason}
        )
        await self.book.event("decided", "certification.decided", "system", {"level": level})
        await self._stage(Stage.DECIDED)  # last: readers that wait for this stage see the whole timeline

    def _decision_notice(
        self, record: CertificationRecord, close: BoardClosePayload
    ) -> tuple[str, dict[str, object]]:
        """Which notice, with what data (the recipient block is added from the registry by the activity)."""
        common = {"application_date": self.inp.applied_on, "decision_date": record.decided_on}
        if record.level is CareLevel.NOT_APPLICABLE:  # 27条9項: 非該当 with its reasons (行政手続法8条)
            reasons = [
                "介護認定審査会の審査及び判定の結果、要介護状態及び要支援状態のいずれにも該当しないと認められたため。"
            ]
            if close.specified_disease_confirmed is False:
                reasons = [
                    "要介護状態又は要支援状態の原因である身体上又は精神上の障害が、特定疾病によるものと認められないため。"
                ]
            if close.change_reason:
                reasons.append(close.change_reason)
            return "certification_denial", {
                **common, "application_kind": self.inp.kind, "ground": "not_eligible", "reasons": reasons,
            }  # fmt: skip
        period = {"valid_from": record.valid_from, "valid_to": record.valid_to}
        extras = {"board_opinion": close.board_opinion, "designated_services": close.service_types}
        previous = self.inp.previous_level
        if (
            self.inp.kind is ApplicationKind.CHANGE
            and previous is not None
            and previous.is_care == record.level.is_care
        ):
            return "category_change", {
                **common, **period, **extras, "basis": "application",
                "previous_level": previous, "new_level": record.level,
            }  # fmt: skip
        # A 区分変更 that crosses between 要介護 and 要支援 is decided as a new 認定 of the other kind
        # (35条), so it is notified with the result notice, not as a change of 区分.
        kind = ApplicationKind.NEW if self.inp.kind is ApplicationKind.CHANGE else self.inp.kind
        return "certification_result", {
            **common, **period, **extras, "application_kind": kind, "care_level": record.level,
        }  # fmt: skip

    async def _notice(self, kind: str, data: dict[str, object]) -> NoticeIssued:
        self.notice_seq += 1
        issued: NoticeIssued = await workflow.execute_activity(
            "issue_notice",
            IssueNoticeRequest(
                idempotency_key=f"{self.case_id}:{kind}:{self.notice_seq}",
                kind=kind,
                case_id=self.case_id,
                recipient_atena_no=self.inp.atena_no,
                issued_on=business_today(),
                data=data,
            ),
            result_type=NoticeIssued,
            start_to_close_timeout=timedelta(minutes=2),
        )
        self.notice_ids.append(issued.notice_id)
        detail = {"kind": kind, "document_no": issued.document_no}
        await self.book.event(f"notice:{issued.notice_id}", "notice.issued", "system", detail)
        return issued

    # ------------------------------------------------------------------------- 30-day clock

    def _deadline(self) -> date:
        return delay_notice_latest(self.inp.applied_on)

    async def _until(self, day: date, hour: int = 9) -> bool:
        """Sleep until `day` at `hour` JST; True if the case closed meanwhile."""
        timeout = max(at_business_hour(day, hour) - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(lambda: self.closed, timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def _thirty_day_clock(self) -> None:
        """27条11項: decide within 30 days, or send a 延期通知 by then; resend whenever the estimate slips."""
        deadline = self._deadline()
        if await self._until(deadline - timedelta(days=self.inp.policy.delay_check_lead_days)):
            return
        deemed_recorded = False
        while not self.closed:
            task = await self.book.create(
                TaskKind.DELAY_ESTIMATE, due=max(deadline, business_today()), priority=90
            )
            estimate: DelayEstimate | None = None
            while estimate is None and not self.closed:
                end_of_deadline = at_business_hour(deadline + timedelta(days=1), 0)
                until = end_of_deadline if not deemed_recorded and not self.delay_notices else None
                try:
                    result = await self.book.wait(task, until=until)
                except CaseEnded:
                    return
                if isinstance(result, DelayEstimate):
                    estimate = result
                elif not self.closed and not deemed_recorded:
                    deemed_recorded = True  # 27条12項: no decision and no notice within 30 days
                    await self._record_deemed_rejection()
            if estimate is None or self.closed or self.ended is not None:
                return  # a case that ended gets no further letters
            await self._send_delay_notice(estimate, within_deadline=business_today() <= deadline)
            if await self._until(estimate.expected_by + timedelta(days=1)):
                return

    async def _record_deemed_rejection(self) -> None:
        deemed = deemed_rejection_date(self.inp.applied_on, self.delay_notices)
        await self._patch(deemed_rejection_on=deemed)
        await self.book.event(
            "deemed-rejection", "deadline.deemed_rejection", "system", {"on": deemed.isoformat()}
        )

    async def _send_delay_notice(self, estimate: DelayEstimate, *, within_deadline: bool) -> None:
        current_expiry = self.inp.previous_valid_to
        if current_expiry is not None and delay_notice_may_be_omitted(
            self.inp.kind,
            consented=self.inp.renewal_delay_consent,
            expected_decision=estimate.expected_by,
            current_expiry=current_expiry,
        ):
            omitted = {
                "expected_by": estimate.expected_by.isoformat(),
                "basis": "更新・事前同意 (27条11項ただし書)",
            }
            await self.book.event(
                f"delay-omitted:{estimate.expected_by}", "delay_notice.omitted", "system", omitted
            )
            return
        sent_on = business_today()
        await self._notice(
            "postponement",
            {
                "application_kind": self.inp.kind,
                "application_date": self.inp.applied_on,
                "expected_by": estimate.expected_by,
                "reason": estimate.reason,
            },
        )
        if within_deadline:
            self.delay_notices.append(DelayNotice(sent_on=sent_on, expected_by=estimate.expected_by))
        await self._patch(deemed_rejection_on=deemed_rejection_date(self.inp.applied_on, self.delay_notices))
        self._set_search(None, estimate.expected_by)

    # ------------------------------------------------------------------------------------ ending

    async def _end(self) -> None:
        assert self.ended is not None
        await self.book.cancel_pending(self.ended.actor)
        await self._patch(state=ApplicationState.ENDED, end_reason=self.ended.reason)
        await self.book.event(
            "ended",
            "case.ended",
            self.ended.actor,
            {"reason": self.ended.reason, "on": self.ended.on.isoformat()},
        )
        await self._stage(Stage.ENDED)  # last, as for a decision

    def _outcome(self) -> CertificationOutcome:
        record = self.record
        return CertificationOutcome(
            application_id=self.inp.application_id,
            state=ApplicationState.DECIDED if record else ApplicationState.ENDED,
            level=record.level if record else None,
            valid_from=record.valid_from if record else None,
            valid_to=record.valid_to if record else None,
            end_reason=self.ended.reason if self.ended else None,
            notice_ids=list(self.notice_ids),
        )

    # ----------------------------------------------------------------------------------- helpers

    async def _patch(self, **changes: object) -> None:
        await workflow.execute_activity(
            "update_application",
            ApplicationPatch(application_id=self.inp.application_id, **changes),  # type: ignore[arg-type]
            **ACTIVITY_OPTIONS,
        )

    def _set_search(self, stage: Stage | None, due: date | None) -> None:
        updates = []
        if stage is not None:
            updates.append(sa.CASE_STAGE.value_set(stage.value))
        if due is not None:
            updates.append(sa.DUE_DATE.value_set(at_business_hour(due, 17)))
        workflow.upsert_search_attributes(updates)

    async def _stage(self, stage: Stage, *, due: date | None = None, details: str | None = None) -> None:
        self._set_search(stage, due)
        workflow.set_current_details(details or STAGE_LABELS[stage])
        await self._patch(stage=stage)


def search_attributes_at_start(inp: CertificationInput) -> TypedSearchAttributes:
    """Set by the API when it starts the workflow: visible in the Temporal UI from the first moment."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.CASE_TYPE, "certification"),
            SearchAttributePair(sa.CASE_STAGE, Stage.INTAKE.value),
            SearchAttributePair(sa.INSURED_NUMBER, inp.insured_no),
            SearchAttributePair(sa.DUE_DATE, at_business_hour(delay_notice_latest(inp.applied_on), 17)),
            SearchAttributePair(sa.OFFICE, inp.office),
        ]
    )
