"""RestrictionWorkflow — 給付制限 for unpaid premiums (介護保険法66–69条), one execution per case.

66・67条 (第1号, 保険料の滞納):
    予告通知 (行政手続法30条) → 弁明の機会 (記録 → 審査; 特別の事情 → 処分なし) → 支払方法変更 (償還払い)
    → 1年6か月: 一時差止 (差し止める給付は職員が入力) → 控除の予告 → 控除 → … → 解除
68条 (第2号): 医療保険者の差止依頼 → 予告 → 弁明 → 差止 → 医療保険者の通知で解除
69条: at a certification, the 給付額減額 computed from the time-barred periods, notified and recorded.

A payment at any stage is handled at once: the payment posting signals `ledger_changed`, the workflow
reads the ledger again (an activity) and drops the planned measure, lifts the restriction, or recomputes
the 1年6か月 date. 終了申請 (著しい減少・特別の事情) and the medical insurer's notice come in as
updates. Death or loss of status ends the case through the kernel's `end_case`.

Built on the procedure kernel (workflows/procedure.py). Deterministic: time from workflow.now(), every side
effect in an activity, every legal rule from rules/, the policy from the input.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow

from workflows.calendar import at_business_hour, business_today
from workflows.errors import CASE_CLOSED, TOO_EARLY, CaseEnded, invalid_payload, refusal
from workflows.procedure import ACTIVITY_OPTIONS, ProcedureWorkflow
from workflows.task_book import OpenTask

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.restriction import RestrictionActivities
    from models.restriction import (
        ArrearsLine,
        ArrearsQuery,
        ArrearsSnapshot,
        BenefitReductionIn,
        EndReason,
        ExplanationForm,
        InsurerNoticeRequest,
        LedgerChanged,
        LiftingAccepted,
        LiftingRequest,
        LiftReason,
        OffsetPosting,
        Outcome,
        ReductionFacts,
        ReductionQuery,
        RestrictionInput,
        RestrictionKind,
        RestrictionOutcome,
        ResumeState,
        Stage,
    )
    from models.restriction_tasks import (
        RESTRICTION,
        ExplanationRecord,
        ExplanationReview,
        LiftingReview,
        OffsetPlan,
        ReductionReview,
        RestrictionTask,
        SuspensionDecision,
    )
    from rules.calendar import resident_deadline_after
    from rules.restriction import (
        Instalment,
        first_of_next_month,
        payment_method_change_applies,
        reduced_benefit_rate,
        reduction_dates,
        suspension_due_on,
    )

T = RestrictionTask
# Phases in which the restriction is in force: a 終了申請 may be made, payments may lift it.
IN_FORCE = frozenset({Stage.RESTRICTED, Stage.SUSPENSION_DUE, Stage.SUSPENDED, Stage.OFFSET_NOTIFIED})
PAYMENT_METHOD_CHANGE_ADVANCE = "payment_method_change_advance"
CATEGORY2_ADVANCE = "category2_suspension_advance"


class _Woke:
    """Why a wait ended (besides the case ending, which raises CaseEnded)."""

    DONE = "done"  # the awaited task was completed
    LEDGER = "ledger"  # the premium ledger changed
    LIFTING = "lifting"  # a 終了申請 was reviewed
    INSURER = "insurer"  # 68条: the medical insurer's notice came in
    TIMEOUT = "timeout"


@workflow.defn
class RestrictionWorkflow(ProcedureWorkflow):
    MODEL = RESTRICTION
    END_REASONS = frozenset(EndReason)

    @workflow.init
    def __init__(self, inp: RestrictionInput) -> None:
        self.inp = inp
        self.init_case(inp.case_id, inp.atena_no, inp.insured_no)
        resume = inp.resume or ResumeState(stage=Stage.INTAKE)
        self._notice_seq = resume.notice_seq  # notice keys stay unique across continue-as-new
        self.phase = resume.stage
        self.advance_notice_on = resume.advance_notice_on
        self.measure_from = resume.payment_method_change_from
        self.suspension_from = resume.suspension_from
        self.offsets = resume.offsets
        self.withheld_total = resume.withheld_total
        self.offset_posted = resume.offset_posted
        self.snapshot: ArrearsSnapshot | None = None
        self.ledger_dirty = False
        self.lifting: LiftingRequest | None = None
        self.lifting_task: OpenTask | None = None
        self.insurer_notice: InsurerNoticeRequest | None = None
        self.lift_reason: str | None = None
        self._offset_task: OpenTask | None = None
        self._shown: tuple[Stage, date | None, str] | None = None

    # --------------------------------------------------------------------------- messages from outside

    @workflow.signal
    def ledger_changed(self, change: LedgerChanged) -> None:
        """A payment (API, 消込 file, 控除) or the daily reconciliation: read the ledger again at once."""
        if self.inp.kind is RestrictionKind.DELINQUENCY:  # 68条 follows the insurer, 69条 ignores payments
            self.ledger_dirty = True

    @workflow.update
    async def apply_for_lifting(self, request: LiftingRequest) -> LiftingAccepted:
        """終了申請 (66条3項): staff review it as a task; approved → 解除."""
        self.lifting = request
        due = business_today() + timedelta(days=self.inp.policy.review_due_days)
        task = self.book.create(T.LIFTING_REVIEW, due=due, priority=70, reference="終了申請の審査")
        self.lifting_task = task
        self.patch(lifting_applied_on=request.received_on)
        detail = {"reason": request.reason, "received_on": request.received_on.isoformat()}
        self.event(f"lifting-applied:{task.task_id}", "lifting.applied", request.actor, detail)
        await self.settle()
        return LiftingAccepted(task_id=task.task_id)

    @apply_for_lifting.validator
    def _validate_lifting(self, request: LiftingRequest) -> None:
        if self.stopped():
            raise refusal(CASE_CLOSED, "このケースは既に終了しています")
        if self.inp.kind is not RestrictionKind.DELINQUENCY or self.phase not in IN_FORCE:
            raise refusal(
                TOO_EARLY,
                "終了申請は支払方法変更の後に受け付けます (予告中の事情は弁明として記録してください)",
            )
        if self.lifting_task is not None and not self.lifting_task.closed:
            raise refusal(TOO_EARLY, "審査中の終了申請があります。その審査を先に完了してください")
        self._check_day("received_on", request.received_on, "申請の受付日")

    @workflow.update
    async def record_insurer_notice(self, request: InsurerNoticeRequest) -> None:
        """68条2項: the medical insurer reports the premiums paid; the 差止 (or the planned one) ends."""
        self.insurer_notice = request
        detail = {"received_on": request.received_on.isoformat()}
        self.event("insurer-notice", "insurer.notice_received", request.actor, detail)
        await self.settle()

    @record_insurer_notice.validator
    def _validate_insurer_notice(self, request: InsurerNoticeRequest) -> None:
        if self.stopped():
            raise refusal(CASE_CLOSED, "このケースは既に終了しています")
        if self.inp.kind is not RestrictionKind.CATEGORY2:
            raise refusal(TOO_EARLY, "医療保険者からの通知は第2号被保険者の差止 (68条) のケースで記録します")
        if self.insurer_notice is not None:
            raise refusal(TOO_EARLY, "医療保険者からの通知は記録済みです")
        self._check_day("received_on", request.received_on, "通知を受けた日")

    # ------------------------------------------------------------------------------- kernel hooks

    def check_payload(self, task: OpenTask, payload: BaseModel) -> None:
        if isinstance(payload, ExplanationRecord):
            self._check_day("received_on", payload.received_on, "弁明を受け付けた日")
        elif isinstance(payload, SuspensionDecision):
            for i, item in enumerate(payload.withheld):
                if item.service_month > business_today():
                    raise invalid_payload([(f"withheld.{i}.service_month", "未来のサービス提供月です")])
        elif isinstance(payload, OffsetPlan):
            self._check_offset(payload)

    def _check_day(self, field: str, day: date, what: str) -> None:
        since = self.advance_notice_on or self.inp.opened_on
        if day > business_today():
            raise invalid_payload([(field, f"{what}に未来の日付は指定できません")])
        if day < since:
            raise invalid_payload([(field, f"{what}が予告・開始の日 ({since}) より前です")])

    def _check_offset(self, plan: OffsetPlan) -> None:
        earliest = business_today() + timedelta(days=self.inp.policy.offset_notice_days)
        if plan.offset_on < earliest:
            days = self.inp.policy.offset_notice_days
            message = f"控除日は通知から{days}日以上後 ({earliest} 以降) にしてください (67条3項)"
            raise invalid_payload([("offset_on", message)])
        unpaid = {(line.fiscal_year, line.period): line.unpaid for line in self._lines()}
        for i, premium in enumerate(plan.premiums):
            owed = unpaid.get((premium.fiscal_year, premium.period), 0)
            if premium.amount > owed:
                message = f"{premium.fiscal_year}年度第{premium.period}期の滞納額 ({owed}円) を超えています"
                raise invalid_payload([(f"premiums.{i}.amount", message)])

    # ------------------------------------------------------------------------------------------- run

    @workflow.run
    async def run(self, inp: RestrictionInput) -> RestrictionOutcome:
        try:
            if inp.kind is RestrictionKind.REDUCTION:
                await self._reduction()
            elif inp.kind is RestrictionKind.CATEGORY2:
                await self._category2()
            else:
                await self._delinquency()
        except CaseEnded:
            self._end()
        await self.finish()
        return RestrictionOutcome(
            case_id=self.case_id,
            kind=inp.kind,
            outcome=self.outcome or "",
            lift_reason=self.lift_reason,
            end_reason=self.ended.reason if self.ended else None,
            notice_ids=list(self.notice_ids),
        )

    # ------------------------------------------------------------------------------ 66・67条

    async def _delinquency(self) -> None:
        if self.phase is Stage.INTAKE:
            self.event("opened", "restriction.opened", detail={"trigger": self.inp.trigger})
            await self._refresh()
            if not self._change_applies():
                self._close_without_measure(Outcome.NOT_APPLICABLE)
                return
            if not await self._advance_and_explanation(PAYMENT_METHOD_CHANGE_ADVANCE):
                return
            await self._refresh()
            if not self._change_applies():  # paid down below the threshold before the decision
                self._close_without_measure(Outcome.PAID_BEFORE_MEASURE)
                return
            await self._change_payment_method()
        else:
            await self._refresh()  # a continued case reads the ledger afresh
        await self._while_in_force()

    async def _change_payment_method(self) -> None:
        """66条1項: 支払方法変更通知書 with the 証's 提出期限; effective from the 1st of the next month."""
        today = business_today()
        effective = first_of_next_month(today)
        submit_by = resident_deadline_after(today, self.inp.policy.certificate_submit_days)
        snapshot = self._snapshot()
        await self.notice(
            "payment_method_change",
            {
                "arrears": [line.notice_row() for line in snapshot.lines],
                "arrears_as_of": snapshot.as_of,
                "effective_from": effective,
                "certificate_submit_by": submit_by,
            },
            "支払方法変更通知書",
        )
        self.measure_from = effective
        self.phase = Stage.RESTRICTED
        self.patch(payment_method_change_from=effective, certificate_submit_by=submit_by)
        self.event("payment-method-changed", "restriction.payment_method_changed", detail={
            "effective_from": effective.isoformat(),
        })  # fmt: skip

    async def _while_in_force(self) -> None:
        """支払方法変更 in force: payments, the 1年6か月 step, 控除 and 終了申請 until the 解除."""
        while True:
            snapshot = self._snapshot()
            if snapshot.total == 0:
                await self._lift(LiftReason.PAID_IN_FULL)
                return
            until: datetime | None = None
            offset_task: OpenTask | None = None
            if self.phase is Stage.RESTRICTED:
                suspension_on = self._suspension_on()
                assert suspension_on is not None  # arrears remain
                if suspension_on <= business_today():
                    if await self._suspend():
                        return
                    continue
                self._show(
                    Stage.RESTRICTED, suspension_on, f"償還払い中 (一時差止の判定 {suspension_on:%Y/%m/%d})"
                )
                until = at_business_hour(suspension_on)
                if self.history_is_long() and not self._open_tasks():
                    await self.continue_as_new(self._next_input())
            elif self.phase is Stage.SUSPENDED:
                offset_task = self._offset_task or self._open_offset_task()
            woke = await self._wait_for(offset_task, until=until)
            if woke == _Woke.LIFTING:
                if await self._review_lifting():
                    return
            elif woke == _Woke.DONE:
                assert offset_task is not None
                self._offset_task = None
                plan = offset_task.result
                assert isinstance(plan, OffsetPlan)
                if await self._offset(plan):
                    return
            else:
                await self._refresh()

    async def _suspend(self) -> bool:
        """67条1項: 1年6か月 → staff decide the 一時差止 (entering any benefits already withheld). True if the
        case closed meanwhile (paid in full, or a 終了申請 approved)."""
        self.phase = Stage.SUSPENSION_DUE
        today = business_today()
        self._show(Stage.SUSPENSION_DUE, today + timedelta(days=7), "1年6か月経過: 一時差止の決定")
        task = self.book.create(T.SUSPENSION, due=today + timedelta(days=7), priority=80)
        while True:
            woke = await self._wait_for(task)
            if woke == _Woke.DONE:
                break
            if woke == _Woke.LIFTING:
                if await self._review_lifting():
                    return True
                continue
            await self._refresh()
            suspension_on = self._suspension_on()
            if suspension_on is None:
                self.book.cancel(task)
                await self._lift(LiftReason.PAID_IN_FULL)
                return True
            if suspension_on > business_today():  # the oldest arrears were paid: not 1年6か月 any more
                self.book.cancel(task)
                self.phase = Stage.RESTRICTED
                self.event(f"suspension-not-due:{task.task_id}", "restriction.suspension_not_due")
                return False
        decision = task.result
        assert isinstance(decision, SuspensionDecision)
        await self._refresh()
        snapshot = self._snapshot()
        today = business_today()
        withheld = [item.model_dump(mode="json") for item in decision.withheld]
        await self.notice(
            "benefit_suspension",
            {
                "arrears": [line.notice_row() for line in snapshot.lines],
                "arrears_as_of": snapshot.as_of,
                "effective_from": today,
                "withheld": withheld,
            },
            "保険給付支払一時差止通知書",
        )
        self.suspension_from = today
        self.withheld_total = sum(item.amount for item in decision.withheld)
        self.phase = Stage.SUSPENDED
        self.patch(suspension_from=today, withheld_total=self.withheld_total)
        self.event("suspended", "restriction.suspended", task.actor or "system", {
            "from": today.isoformat(), "withheld_total": self.withheld_total,
        })  # fmt: skip
        self._open_offset_task()
        return False

    def _open_offset_task(self) -> OpenTask:
        due = business_today() + timedelta(days=self.inp.policy.offset_review_days)
        self._show(Stage.SUSPENDED, due, f"一時差止中 ({self.suspension_from:%Y/%m/%d}〜)")
        self._offset_task = self.book.create(T.OFFSET, due=due, priority=40)
        return self._offset_task

    async def _offset(self, plan: OffsetPlan) -> bool:
        """67条3項: notify the 控除 in advance, then post the deducted premiums as payments on the day.
        True if the case closed meanwhile."""
        withheld = [item.model_dump(mode="json") for item in plan.withheld]
        premiums = [p.model_dump() for p in plan.premiums]
        await self.notice(
            "premium_offset",
            {"offset_on": plan.offset_on, "withheld": withheld, "premiums": premiums},
            "滞納保険料控除通知書",
        )
        self.withheld_total = sum(item.amount for item in plan.withheld)
        total = sum(p.amount for p in plan.premiums)
        self.phase = Stage.OFFSET_NOTIFIED
        self.patch(offset_on=plan.offset_on, offset_total=total, withheld_total=self.withheld_total)
        self._show(Stage.OFFSET_NOTIFIED, plan.offset_on, f"控除予定 {plan.offset_on:%Y/%m/%d}")
        until = at_business_hour(plan.offset_on)
        while (woke := await self._wait_for(until=until)) != _Woke.TIMEOUT:
            if woke == _Woke.LIFTING:
                if await self._review_lifting():
                    return True
                continue
            await self._refresh()
            if self._snapshot().total == 0:  # paid before the 控除: nothing to deduct
                await self._lift(LiftReason.PAID_IN_FULL)
                return True
        self.offsets += 1
        posted: int = await workflow.execute_activity(
            RestrictionActivities.post_offset,
            OffsetPosting(
                case_id=self.case_id,
                insured_no=self.inp.insured_no,
                offset_on=plan.offset_on,
                sequence=self.offsets,
                premiums=premiums,
            ),
            **ACTIVITY_OPTIONS,
        )
        self.offset_posted += posted
        self.event(f"offset:{self.offsets}", "restriction.offset_posted", detail={"total": posted})
        self.phase = Stage.SUSPENDED
        await self._refresh()
        return False

    # ------------------------------------------------------------------------------------ 68条

    async def _category2(self) -> None:
        inp = self.inp
        assert inp.insurer_request_on is not None and inp.medical_insurer is not None
        self.event("opened", "restriction.insurer_request", detail={
            "received_on": inp.insurer_request_on.isoformat(),
        })  # fmt: skip
        if not await self._advance_and_explanation(CATEGORY2_ADVANCE):
            return
        today = business_today()
        effective = first_of_next_month(today)
        submit_by = resident_deadline_after(today, inp.policy.certificate_submit_days)
        await self.notice(
            "category2_suspension",
            {
                "arrears": [line.notice_row() for line in inp.insurer_arrears],
                "arrears_as_of": inp.insurer_request_on,
                "medical_insurer": inp.medical_insurer,
                "effective_from": effective,
                "certificate_submit_by": submit_by,
            },
            "保険給付差止通知書（第2号）",
        )
        self.suspension_from = effective
        self.phase = Stage.SUSPENDED
        self.patch(suspension_from=effective, certificate_submit_by=submit_by)
        self._show(Stage.SUSPENDED, None, f"差止中 ({effective:%Y/%m/%d}〜) 医療保険者の通知待ち")
        while await self._wait_for() != _Woke.INSURER:
            pass
        assert self.insurer_notice is not None
        today = business_today()
        await self.notice(
            "category2_suspension_lifted",
            {
                "medical_insurer": inp.medical_insurer,
                "insurer_notice_received_on": self.insurer_notice.received_on,
                "suspension_from": effective,
                "lifted_on": today,
            },
            "保険給付差止解除通知書（第2号）",
        )
        self.lift_reason = LiftReason.INSURER_NOTICE
        self.patch(
            insurer_notice_on=self.insurer_notice.received_on,
            lifted_on=today,
            lift_reason=LiftReason.INSURER_NOTICE,
        )
        self.event("lifted", "restriction.lifted", detail={"reason": LiftReason.INSURER_NOTICE})
        self._close(Stage.LIFTED, Outcome.LIFTED)

    # ------------------------------------------------------------------------------------ 69条

    async def _reduction(self) -> None:
        inp = self.inp
        assert inp.certified_on is not None and inp.certification_id is not None
        self.event("opened", "reduction.opened", detail={"certification_id": inp.certification_id})
        facts: ReductionFacts | None = await workflow.execute_activity(
            RestrictionActivities.reduction_facts,
            ReductionQuery(insured_no=inp.insured_no, certified_on=inp.certified_on),
            **ACTIVITY_OPTIONS,
        )
        if facts is None:
            self._close_without_measure(Outcome.NOT_APPLICABLE)
            return
        due = business_today() + timedelta(days=inp.policy.review_due_days)
        self._show(Stage.REDUCTION_REVIEW, due, f"給付額減額 {facts.months}か月: 負担割合の確認")
        review = await self.book.wait(self.book.create(T.REDUCTION, due=due))
        assert isinstance(review, ReductionReview)
        rate = reduced_benefit_rate(review.usual_copay_percent)
        start, end = reduction_dates(inp.certified_on, facts.months)
        await self.notice(
            "benefit_reduction",
            {
                "certification_date": inp.certified_on,
                "lookback_from": facts.lookback_from,
                "lookback_to": facts.lookback_to,
                "barred_years": facts.barred_years,
                "paid_years": facts.paid_years,
                "formula_value": facts.formula_value,
                "reduction_months": facts.months,
                "reduction_from": start,
                "reduction_to": end,
                "benefit_rate": rate,
            },
            "給付額減額通知書",
        )
        record = BenefitReductionIn(
            certification_id=inp.certification_id,
            insured_no=inp.insured_no,
            atena_no=inp.atena_no,
            certified_on=inp.certified_on,
            lookback_from=facts.lookback_from,
            lookback_to=facts.lookback_to,
            barred_years=facts.barred_years,
            paid_years=facts.paid_years,
            months=facts.months,
            benefit_rate=rate,
            reduction_from=start,
            reduction_to=end,
        )
        self.patch(reduction=record.model_dump(mode="json"))
        self.event("reduction-recorded", "reduction.recorded", detail={
            "months": facts.months, "from": start.isoformat(), "to": end.isoformat(), "rate": rate,
        })  # fmt: skip
        self._close(Stage.RECORDED, Outcome.REDUCTION_RECORDED)

    # ------------------------------------------------------------------------ 予告と弁明の機会

    async def _advance_and_explanation(self, advance_kind: str) -> bool:
        """行政手続法13条1項2号・30条: the 予告 (measure, basis, facts, where and by when to explain), the
        弁明 period, and the review. True when the measure goes ahead; False when the case closed."""
        inp, today = self.inp, business_today()
        due = resident_deadline_after(today, inp.policy.explanation_days)
        if advance_kind == CATEGORY2_ADVANCE:
            assert inp.insurer_request_on is not None
            lines, as_of = inp.insurer_arrears, inp.insurer_request_on
            extra: dict[str, Any] = {"medical_insurer": inp.medical_insurer}
            measure = "category2_suspension"
        else:
            snapshot = self._snapshot()
            lines, as_of, extra, measure = snapshot.lines, snapshot.as_of, {}, "payment_method_change"
        await self.notice(
            advance_kind,
            {
                "arrears": [line.notice_row() for line in lines],
                "arrears_as_of": as_of,
                "explanation_due": due,
                **extra,
            },
            "予告通知書",
        )
        self.advance_notice_on = today
        self.phase = Stage.EXPLANATION
        self.patch(advance_notice_on=today, explanation_due=due)
        self._show(Stage.EXPLANATION, due, f"弁明期限 {due:%Y/%m/%d}")
        record_task = self.book.create(T.EXPLANATION, due=due, reference=f"弁明期限 {due:%m/%d}")
        # The 弁明書 may be handed in until the end of the due day.
        woke = await self._wait_resolving(record_task, until=at_business_hour(due + timedelta(days=1), 0))
        if woke is None:
            return False
        if woke == _Woke.TIMEOUT:
            self.book.cancel(record_task)
            self.event("explanation-none", "explanation.none", detail={"due": due.isoformat()})
            return True
        record = record_task.result
        assert isinstance(record, ExplanationRecord)
        self.patch(explanation_received_on=record.received_on, explanation_form=record.form)
        if record.form is ExplanationForm.WAIVED:
            return True
        review_due = business_today() + timedelta(days=inp.policy.review_due_days)
        self.phase = Stage.REVIEW
        self._show(Stage.REVIEW, review_due, "弁明の審査")
        review_task = self.book.create(T.EXPLANATION_REVIEW, due=review_due)
        if await self._wait_resolving(review_task) is None:
            return False
        review = review_task.result
        assert isinstance(review, ExplanationReview)
        await self.notice(
            "explanation_review_result",
            {
                "measure": measure,
                "advance_notice_date": self.advance_notice_on,
                "explanation_received_on": record.received_on,
                "accepted": review.accepted,
                "reasons": review.reasons,
            },
            "弁明書審査結果通知書",
        )
        self.patch(explanation_accepted=review.accepted)
        if review.accepted:  # 特別の事情: the measure is not taken
            self._close_without_measure(Outcome.EXPLANATION_ACCEPTED)
            return False
        return True

    async def _wait_resolving(self, task: OpenTask, until: datetime | None = None) -> str | None:
        """Wait for `task` before any measure is taken; a payment (66条) or the insurer's notice (68条) that
        removes the ground for it closes the case (None)."""
        while True:
            woke = await self._wait_for(task, until=until)
            if woke in (_Woke.DONE, _Woke.TIMEOUT):
                return woke
            if woke == _Woke.INSURER:
                self.lift_reason = LiftReason.INSURER_NOTICE
                self._close_without_measure(Outcome.PAID_BEFORE_MEASURE)
                return None
            await self._refresh()
            if not self._change_applies():
                self._close_without_measure(Outcome.PAID_BEFORE_MEASURE)
                return None

    # -------------------------------------------------------------------------------- 解除 and ending

    async def _review_lifting(self) -> bool:
        """A reviewed 終了申請: approved → 解除 (True); refused → recorded, the restriction stays."""
        task, request = self.lifting_task, self.lifting
        assert task is not None and request is not None
        review = task.result
        assert isinstance(review, LiftingReview)
        self.lifting_task = None
        if review.approved:
            await self._refresh()
            await self._lift(LiftReason(request.reason))
            return True
        self.event(f"lifting-refused:{task.task_id}", "lifting.refused", task.actor or "system", {
            "reason": request.reason,
        })  # fmt: skip
        return False

    async def _lift(self, reason: LiftReason) -> None:
        """66条3項 (and 67条): 給付制限解除通知書; the 支払方法変更 and any 一時差止 end today."""
        assert self.measure_from is not None
        snapshot, today = self._snapshot(), business_today()
        measures = ["payment_method_change"]
        release = 0
        if self.suspension_from is not None:
            measures.append("benefit_suspension")
            release = max(self.withheld_total - self.offset_posted, 0)
        await self.notice(
            "restriction_lifted",
            {
                "lifted_measures": measures,
                "measure_from": self.measure_from,
                "lifted_on": today,
                "reason": reason,
                "arrears_as_of": snapshot.as_of,
                "remaining_unpaid": snapshot.total,
                "withheld_release_total": release,
            },
            "給付制限解除通知書",
        )
        self.lift_reason = reason
        self.patch(lifted_on=today, lift_reason=reason)
        self.event("lifted", "restriction.lifted", detail={"reason": reason, "remaining": snapshot.total})
        self._close(Stage.LIFTED, Outcome.LIFTED)

    def _close(self, stage: Stage, outcome: Outcome) -> None:
        """The kernel's close, with the business date the case closed in the read model."""
        self.patch(closed_on=business_today())
        self.close(stage, outcome)

    def _close_without_measure(self, outcome: Outcome) -> None:
        self.event(f"closed:{outcome}", f"restriction.{outcome}")
        self._close(Stage.NOT_RESTRICTED, outcome)

    def _end(self) -> None:
        assert self.ended is not None
        self.patch(end_reason=self.ended.reason)
        self.event("ended", "case.ended", self.ended.actor, {
            "reason": self.ended.reason, "on": self.ended.on.isoformat(),
        })  # fmt: skip
        self._close(Stage.ENDED, Outcome.ENDED)

    # --------------------------------------------------------------------------------------- helpers

    async def _wait_for(self, task: OpenTask | None = None, *, until: datetime | None = None) -> str:
        """Wait for `task`, a ledger change, a reviewed 終了申請, the insurer's notice, or `until`.
        CaseEnded when the case was ended meanwhile."""

        def lifting_reviewed() -> bool:
            return self.lifting_task is not None and self.lifting_task.result is not None

        def ready() -> bool:
            return (
                (task is not None and task.result is not None)
                or self.ended is not None
                or self.ledger_dirty
                or lifting_reviewed()
                or self.insurer_notice is not None
            )

        timeout = None if until is None else max(until - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(ready, timeout=timeout)
        except TimeoutError:
            return _Woke.TIMEOUT
        if self.ended is not None:
            raise CaseEnded
        if task is not None and task.result is not None:
            return _Woke.DONE
        if lifting_reviewed():
            return _Woke.LIFTING
        if self.insurer_notice is not None:
            return _Woke.INSURER
        return _Woke.LEDGER

    async def _refresh(self) -> ArrearsSnapshot:
        """Read the person's arrears as of today (an activity) and show them on the case."""
        self.ledger_dirty = False  # a payment posted while the activity runs sets it again
        snapshot: ArrearsSnapshot = await workflow.execute_activity(
            RestrictionActivities.arrears_snapshot,
            ArrearsQuery(case_id=self.case_id, insured_no=self.inp.insured_no, as_of=business_today()),
            **ACTIVITY_OPTIONS,
        )
        previous = self.snapshot
        self.snapshot = snapshot
        if previous is None or previous.lines != snapshot.lines:
            self.patch(
                arrears=[line.model_dump(mode="json") for line in snapshot.lines],
                arrears_total=snapshot.total,
                arrears_checked=True,
            )
        return snapshot

    def _snapshot(self) -> ArrearsSnapshot:
        assert self.snapshot is not None  # read at the start of every 66・67条 run
        return self.snapshot

    def _lines(self) -> list[ArrearsLine]:
        return self.snapshot.lines if self.snapshot else []

    def _instalments(self) -> list[Instalment]:
        return [
            Instalment(line.fiscal_year, line.period, line.due_on, line.assessed, line.assessed - line.unpaid)
            for line in self._lines()
        ]

    def _change_applies(self) -> bool:
        months = self.inp.policy.payment_method_change_months
        return payment_method_change_applies(self._instalments(), business_today(), months)

    def _suspension_on(self) -> date | None:
        return suspension_due_on(self._instalments(), business_today(), self.inp.policy.suspension_months)

    def _show(self, stage: Stage, due: date | None, details: str) -> None:
        """Stage, due date and current details, written only when they change (keeps the history small)."""
        if self._shown == (stage, due, details):
            return
        self._shown = (stage, due, details)
        self.stage(stage, due=due, clear_due=due is None, details=details)

    def _open_tasks(self) -> bool:
        return any(not task.closed for task in self.book.tasks.values())

    def _next_input(self) -> RestrictionInput:
        return self.inp.model_copy(
            update={
                "resume": ResumeState(
                    stage=self.phase,
                    advance_notice_on=self.advance_notice_on,
                    payment_method_change_from=self.measure_from,
                    suspension_from=self.suspension_from,
                    notice_seq=self._notice_seq,
                    offsets=self.offsets,
                    withheld_total=self.withheld_total,
                    offset_posted=self.offset_posted,
                )
            }
        )
