"""CertificationWorkflow — 要介護認定 (介護保険法27–29条), one execution per application.

申請 → 認定調査 ∥ 主治医意見書 → 一次判定 (imported) → 介護認定審査会 → 決定・通知.

Beside the main line runs the 30-day clock (27条11項/12項): before the deadline staff give the 処理見込期間
and the 延期通知書 goes out, again whenever the estimate slips. 取下げ, death or loss of status end the case
at any point (the kernel's `end_case` update).

Built on the procedure kernel (workflows/procedure.py): tasks, timeline, stage and read-model changes are
buffered and written once per step. Deterministic: time from workflow.now(), ids from workflow.uuid4(), every
side effect in an activity, every legal rule from rules/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import date, timedelta
from typing import Any

from temporalio import workflow

from workflows.calendar import at_business_hour, business_today
from workflows.errors import TOO_EARLY, CaseEnded, invalid_payload, refusal
from workflows.procedure import ACTIVITY_OPTIONS, ProcedureWorkflow
from workflows.task_book import OpenTask

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.certification import CertificationActivities
    from activities.certification_events import CertificationEventActivities
    from models.alwaysj import PrimaryResultRecord
    from models.certification import (
        AllocationRequest,
        ApplicationState,
        BoardSlot,
        CertificationEvent,
        CertificationEventKind,
        CertificationInput,
        CertificationOutcome,
        CertificationRecord,
        EndReason,
        Recuse,
        Stage,
        VoteRecord,
    )
    from models.certification_tasks import (
        CERTIFICATION,
        BoardClosePayload,
        BoardVotePayload,
        CertificationTask,
        DelayEstimate,
        OpinionReminder,
    )
    from models.physician_opinion import OpinionRequest, PhysicianOpinion
    from models.survey import SurveyRecord
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

T = CertificationTask


@workflow.defn
class CertificationWorkflow(ProcedureWorkflow):
    MODEL = CERTIFICATION
    END_REASONS = frozenset(EndReason)

    @workflow.init
    def __init__(self, inp: CertificationInput) -> None:
        self.inp = inp
        self.init_case(f"certification-{inp.application_id}", inp.atena_no, inp.insured_no)
        self.survey: SurveyRecord | None = None
        self.surveyor: str | None = None
        self.opinion: PhysicianOpinion | None = None
        self.primary: PrimaryResultRecord | None = None
        self.slot: BoardSlot | None = None
        self.votes: dict[str, BoardVotePayload] = {}  # member → vote, for the current meeting
        self.recused: set[str] = set()
        self.delay_notices: list[DelayNotice] = []
        self.record: CertificationRecord | None = None
        self.deciding = False

    # ------------------------------------------------------------------------------- kernel hooks

    def on_completed(self, task: OpenTask) -> None:
        if task.kind == T.BOARD_CLOSE and self._tally().decided:
            self.deciding = True  # from now on a 取下げ comes too late: the decision stands and is notified
        if task.kind == T.BOARD_VOTE and self.slot is not None:
            vote = task.result
            assert isinstance(vote, BoardVotePayload) and task.actor is not None
            self.votes[task.actor] = vote
            record = VoteRecord(
                vote_key=task.task_id,
                application_id=self.inp.application_id,
                meeting_id=self.slot.meeting_id,
                member=task.actor,
                level=vote.level,
                validity_months=vote.validity_months,
                opinion=vote.opinion,
            )
            self.patch(votes=[record.model_dump(mode="json")])

    def end_refused(self) -> str | None:
        if self.record is not None or self.deciding:
            return "審査会の判定が終わっているため、この申請は終了できません (決定を通知します)"
        return None

    def check_payload(self, task: OpenTask, payload: BaseModel) -> None:
        """Checks that need the case's state: dates against the application, the 2号 disease, the 一次判定
        against the evidence, votes against the meeting and the validity rules."""
        if task.kind in (T.BOARD_VOTE, T.BOARD_CLOSE):
            self._check_meeting_held()
        if isinstance(payload, SurveyRecord):
            self._check_day("overview.conducted_on", payload.overview.conducted_on, "調査の実施日")
        elif isinstance(payload, OpinionRequest):
            self._check_day("requested_on", payload.requested_on, "意見書の依頼日")
        elif isinstance(payload, PhysicianOpinion):
            self._check_day("received_on", payload.received_on, "意見書の受領日")
            if not second_category_eligible(self.inp.category, payload.specified_disease):
                raise invalid_payload(
                    [("specified_disease", "第2号被保険者の意見書には特定疾病の記載が必要です")]
                )
        elif isinstance(payload, OpinionReminder):
            self._check_day("reminded_on", payload.reminded_on, "督促した日")
        elif isinstance(payload, PrimaryResultRecord):
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

    def _check_day(self, field: str, day: date, what: str) -> None:
        if day < self.inp.applied_on:
            raise invalid_payload([(field, f"{what}が申請日 ({self.inp.applied_on}) より前です")])
        if day > business_today():
            raise invalid_payload([(field, f"{what}に未来の日付は指定できません")])

    def _check_meeting_held(self) -> None:
        assert self.slot is not None  # board tasks exist only once the case is on a meeting
        if business_today() < self.slot.held_on:
            raise refusal(TOO_EARLY, f"審査会は {self.slot.held_on} 開催です。開催日より前には判定できません")

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

    # ----------------------------------------------------------------------------------- updates

    @workflow.update
    async def recuse_member(self, request: Recuse) -> None:
        """A board member declared a conflict after the case was allocated: withdraw their vote task."""
        self.recused.add(request.member)
        self.votes.pop(request.member, None)
        for task in list(self.book.tasks.values()):
            if task.kind == T.BOARD_VOTE and task.assignee == request.member:
                self.book.cancel(task, request.actor)
        await self.settle()

    @recuse_member.validator
    def _validate_recusal(self, request: Recuse) -> None:
        if self.slot is not None and request.member == self.slot.chair:
            raise invalid_payload([("login_id", "合議体長は回避できません。別の開催日に割り当ててください")])

    # ----------------------------------------------------------------------------------------- run

    @workflow.run
    async def run(self, inp: CertificationInput) -> CertificationOutcome:
        clock = asyncio.create_task(self._thirty_day_clock())
        try:
            self.event("opened", "application.received", detail={"kind": inp.kind})
            self.stage(Stage.SURVEY_AND_OPINION, due=self._deadline())
            await self._announce(CertificationEventKind.RECEIVED)
            await self._in_parallel(self._survey(), self._physician_opinion())
            self.stage(Stage.PRIMARY)
            self.primary = await self._primary()
            self.stage(Stage.BOARD)
            decision, close = await self._board()
            await self._decide(decision, close)
        except CaseEnded:
            self._end()
        await clock
        await self.settle()  # listeners read the decided certification
        await self._announce_outcome()
        await self.finish()
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
        # 28条5項: a 新規 survey is the city's own; renewals and changes may go to a contractor.
        task = self.book.create(T.SURVEY, due=due, delegable=self.inp.kind is not ApplicationKind.NEW)
        survey = await self.book.wait(task)
        assert isinstance(survey, SurveyRecord)
        self.survey, self.surveyor = survey, task.actor
        self.patch(survey=survey.model_dump(mode="json"), surveyor=task.actor)

    async def _physician_opinion(self) -> None:
        policy = self.inp.policy
        request_task = self.book.create(
            T.OPINION_REQUEST, due=deadline_after(self.inp.applied_on, policy.opinion_request_due_days)
        )
        request = await self.book.wait(request_task)
        assert isinstance(request, OpinionRequest)
        # The case's own policy gives the due date the request did not name (no legal deadline exists).
        due_on = request.due_on or request.requested_on + timedelta(days=policy.opinion_due_days)
        self.patch(opinion_request={**request.model_dump(mode="json"), "due_on": due_on.isoformat()})
        receipt = self.book.create(T.OPINION_RECEIPT, due=due_on)
        # 督促: when the opinion is overdue, a reminder task; then again every reminder interval.
        next_check = at_business_hour(due_on + timedelta(days=1))
        reminder: OpenTask | None = None
        while (opinion := await self.book.wait(receipt, until=next_check)) is None:
            if reminder is None or reminder.result is not None:
                reminder = self.book.create(T.OPINION_REMINDER, due=business_today() + timedelta(days=2))
            next_check = at_business_hour(
                business_today() + timedelta(days=policy.opinion_reminder_interval_days)
            )
        if reminder is not None:
            self.book.cancel(reminder)
        assert isinstance(opinion, PhysicianOpinion)
        self.opinion = opinion
        self.patch(opinion=opinion.model_dump(mode="json"))

    # --------------------------------------------------------------------------------- 一次判定

    async def _primary(self) -> PrimaryResultRecord:
        task = self.book.create(
            T.PRIMARY_RESULT, due=business_today() + timedelta(days=self.inp.policy.primary_due_days)
        )
        result = await self.book.wait(task)
        assert isinstance(result, PrimaryResultRecord)
        self.patch(primary_result=result.model_dump(mode="json"))
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
                previous_validity_months=self.inp.previous_validity_months,
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
                CertificationActivities.allocate_board_meeting,
                AllocationRequest(
                    application_id=self.inp.application_id,
                    not_before=not_before,
                    simplified=simplified,
                    surveyor=self.surveyor,
                    applicant_office=self.inp.applicant_office,
                ),
                **ACTIVITY_OPTIONS,
            )
            if slot is None:  # no meeting with room: the secretariat schedules one, then we try again
                await self.book.wait(self.book.create(T.BOARD_SCHEDULING, due=business_today()))
                continue
            self.slot, self.votes = slot, {}
            self.recused |= set(slot.recused)
            allocated = {
                "meeting_id": slot.meeting_id,
                "held_on": slot.held_on.isoformat(),
                "agenda_no": slot.agenda_no,
                "simplified": simplified,
            }
            self.event(f"allocated:{slot.meeting_id}", "board.allocated", detail=allocated)
            self.stage(Stage.BOARD, due=slot.held_on, details=f"審査会 {slot.held_on:%m/%d} 予定")
            # Board members see this reference, never a name or a number that identifies the person.
            reference = f"審査会 {slot.held_on:%m/%d} 第{slot.agenda_no}号"
            vote_tasks = [
                self.book.create(T.BOARD_VOTE, due=slot.held_on, assignee=seat.login_id, reference=reference)
                for seat in slot.seats
            ]
            close_task = self.book.create(
                T.BOARD_CLOSE, due=slot.held_on, assignee=slot.chair, reference=reference
            )
            close = await self.book.wait(close_task)
            assert isinstance(close, BoardClosePayload)
            if self.ended is not None:  # ended while the chair was closing: no decision
                raise CaseEnded
            decision = self._tally()
            for task in vote_tasks:  # members who did not vote were absent
                self.book.cancel(task)
            tally = {"outcome": decision.outcome, "level": decision.level, "votes": len(self.votes)}
            self.event(f"tally:{slot.meeting_id}", "board.tallied", close_task.actor or "system", tally)
            if decision.decided:
                return decision, close
            not_before = slot.held_on + timedelta(days=1)  # 定足数不足・過半数なし: next meeting

    # ------------------------------------------------------------------------------- decision

    async def _decide(self, decision: board_rules.BoardDecision, close: BoardClosePayload) -> None:
        assert decision.level is not None and self.primary is not None and self.slot is not None
        # 第2号: a state not caused by a 特定疾病 is not a 要介護状態 under 7条3項2号, whatever its degree.
        not_by_disease = (
            self.inp.category is InsuredCategory.SECOND and close.specified_disease_confirmed is False
        )
        level = CareLevel.NOT_APPLICABLE if not_by_disease else decision.level
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
            decided_on=self.slot.held_on,  # decided at the meeting (二次判定), whenever the chair closed it
        )
        self.record = record
        kind, data, label = self._decision_notice(record, close)
        await self.notice(kind, data, label)
        decision_json = record.model_dump(mode="json", exclude={"atena_no", "insured_no", "application_id"})
        self.patch(
            certification=record.model_dump(mode="json"),
            decision={**decision_json, "change_reason": close.change_reason},
        )
        self.event("decided", "certification.decided", detail={"level": level})
        self.close(Stage.DECIDED, ApplicationState.DECIDED)

    def _decision_notice(
        self, record: CertificationRecord, close: BoardClosePayload
    ) -> tuple[str, dict[str, object], str]:
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
            }, "却下通知書"  # fmt: skip
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
            }, "区分変更通知書"  # fmt: skip
        # A 区分変更 that crosses between 要介護 and 要支援 is decided as a new 認定 of the other kind
        # (35条), so it is notified with the result notice, not as a change of 区分.
        kind = ApplicationKind.NEW if self.inp.kind is ApplicationKind.CHANGE else self.inp.kind
        return "certification_result", {
            **common, **period, **extras, "application_kind": kind, "care_level": record.level,
        }, "認定結果通知書"  # fmt: skip

    # ------------------------------------------------------------------------- 30-day clock

    def _deadline(self) -> date:
        return delay_notice_latest(self.inp.applied_on)

    async def _thirty_day_clock(self) -> None:
        """27条11項: decide within 30 days, or send a 延期通知 by then; resend whenever the estimate slips."""
        deadline = self._deadline()
        if await self.until(deadline - timedelta(days=self.inp.policy.delay_check_lead_days)):
            return
        deemed_recorded = False
        while not self.closed:
            task = self.book.create(T.DELAY_ESTIMATE, due=max(deadline, business_today()), priority=90)
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
                    self._record_deemed_rejection()
            if estimate is None or self.stopped():
                return  # a case that ended gets no further letters
            try:
                await self._send_delay_notice(estimate, within_deadline=business_today() <= deadline)
            except CaseEnded:  # ended while staff were repairing the notice: nothing more is sent
                return
            if await self.until(estimate.expected_by + timedelta(days=1)):
                return

    def _record_deemed_rejection(self) -> None:
        deemed = deemed_rejection_date(self.inp.applied_on, self.delay_notices)
        self.patch(deemed_rejection_on=deemed.isoformat())
        self.event("deemed-rejection", "deadline.deemed_rejection", detail={"on": deemed.isoformat()})

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
            self.event(f"delay-omitted:{estimate.expected_by}", "delay_notice.omitted", detail=omitted)
            return
        sent_on = business_today()
        await self.notice(
            "postponement",
            {
                "application_kind": self.inp.kind,
                "application_date": self.inp.applied_on,
                "expected_by": estimate.expected_by,
                "reason": estimate.reason,
            },
            "延期通知書",
        )
        if within_deadline:
            self.delay_notices.append(DelayNotice(sent_on=sent_on, expected_by=estimate.expected_by))
        deemed = deemed_rejection_date(self.inp.applied_on, self.delay_notices)
        self.patch(deemed_rejection_on=deemed.isoformat())
        if not self.closed:
            self.due(estimate.expected_by)

    # ------------------------------------------------------------------------------- announcements

    async def _announce(self, kind: CertificationEventKind) -> None:
        """Tell the other procedures (renewal reminders, the arrears check) what happened to this case."""
        if not workflow.patched("certification-events"):  # cases recorded before procedures listened
            return
        certification = self.record if kind is CertificationEventKind.CERTIFIED else None
        event = CertificationEvent(
            kind=kind,
            case_id=self.case_id,
            application_id=self.inp.application_id,
            application_kind=self.inp.kind,
            atena_no=self.inp.atena_no,
            insured_no=self.inp.insured_no,
            category=self.inp.category,
            on=business_today(),
            certification=certification,
            end_reason=self.ended.reason if self.ended else None,
        )
        await workflow.execute_activity(
            CertificationEventActivities.announce_certification_event, event, **ACTIVITY_OPTIONS
        )

    async def _announce_outcome(self) -> None:
        decided = self.outcome == ApplicationState.DECIDED and self.record is not None
        if decided and self.record is not None and self.record.level is not CareLevel.NOT_APPLICABLE:
            await self._announce(CertificationEventKind.CERTIFIED)
        else:
            await self._announce(CertificationEventKind.CLOSED_WITHOUT_CERTIFICATION)

    # ------------------------------------------------------------------------------------ ending

    def _end(self) -> None:
        assert self.ended is not None
        self.patch(end_reason=self.ended.reason)
        self.event(
            "ended",
            "case.ended",
            self.ended.actor,
            {"reason": self.ended.reason, "on": self.ended.on.isoformat()},
        )
        self.close(Stage.ENDED, ApplicationState.ENDED)

    def _outcome(self) -> CertificationOutcome:
        record = self.record if self.outcome == ApplicationState.DECIDED else None
        return CertificationOutcome(
            application_id=self.inp.application_id,
            state=ApplicationState.DECIDED if record else ApplicationState.ENDED,
            level=record.level if record else None,
            valid_from=record.valid_from if record else None,
            valid_to=record.valid_to if record else None,
            end_reason=self.ended.reason if self.ended else None,
            notice_ids=list(self.notice_ids),
        )
