"""CertificationTermWorkflow — 更新案内 (seed 3(7)): one execution per certification, from its decision (or
reconciliation) until it is renewed, replaced, lapses or the person's case ends.

    sleep until the first-notice day → 「要介護認定・要支援認定有効期間終了のお知らせ」
    → no 更新/区分変更 application by the second-notice day → the same notice marked 2回目 + a follow-up task
    → the last filing day (the expiry rolled past city holidays, 地方自治法4条の2第4項) passed with no
      application → lapsed.

An application received (更新 or 区分変更, `application_filed`) stops the reminders; withdrawn or refused
(`application_closed`) they resume, and a reminder whose day passed meanwhile is issued once. A new
certification (`replaced`) ends the term (renewed or replaced); death or loss of status ends it through the
kernel's `end_case`. With the policy "only service users" and a person who used none, no notice is sent but
the term still marks the lapse.

Built on the procedure kernel (workflows/procedure.py). Deterministic: time from workflow.now(), every side
effect in an activity, the dates from rules/renewal.py, the policy from the input.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta

from temporalio import workflow

from workflows.calendar import at_business_hour, business_today
from workflows.errors import CaseEnded
from workflows.procedure import ProcedureWorkflow
from workflows.task_book import OpenTask

with workflow.unsafe.imports_passed_through():
    from models.procedure import CaseEventIn
    from models.renewal import (
        ApplicationClosed,
        ApplicationFiled,
        EndReason,
        Outcome,
        PolicyChanged,
        RenewalPolicy,
        Replaced,
        Stage,
        TermInput,
        TermOutcome,
        TermResume,
        TermView,
    )
    from models.renewal_tasks import RENEWAL, FollowUpRecord, RenewalTask
    from rules.certification import ApplicationKind
    from rules.renewal import first_notice_day, last_filing_day, second_notice_day

# The Temporal Schedule that starts terms for certifications without one (procedures.py registers it; the
# certification import triggers it after an import).
RECONCILE_SCHEDULE_ID = "renewal-reconciliation"
NOTICE_KIND = "expiry_reminder"
NOTICE_LABEL = "要介護認定・要支援認定有効期間終了のお知らせ"
POLICY_CHANGE_PATCH = "renewal-policy-change"


def _md(day: date) -> str:
    return f"{day.month}/{day.day}"


# The term's plan, pure functions of its input: the workflow follows them, and the starter writes a new
# term's opening view with its rows (services/renewal.py), so a term's first run only sets its timer.


def reminds(inp: TermInput, policy: RenewalPolicy) -> bool:
    """Whether this person gets reminders under the policy (only service users, or everyone)."""
    return inp.service_use_last_year or not policy.only_service_users


def first_day(inp: TermInput, policy: RenewalPolicy) -> date:
    return first_notice_day(inp.valid_to, policy.first_notice_offset_days)


def second_day(inp: TermInput, policy: RenewalPolicy) -> date | None:
    if not policy.second_notice:
        return None
    return second_notice_day(inp.valid_to, policy.second_notice_days_before_expiry)


def next_step(
    inp: TermInput, policy: RenewalPolicy, *, first_sent: bool, second_sent: bool
) -> tuple[date, date, str]:
    """(wake on, DueDate, current details) of what the term does next."""
    if reminds(inp, policy) and not first_sent:
        first = first_day(inp, policy)
        return first, first, f"更新案内 {_md(first)} 送付予定"
    second = second_day(inp, policy)
    if reminds(inp, policy) and second is not None and not second_sent:
        return second, second, f"再度の更新案内 {_md(second)} 送付予定"
    last_day = last_filing_day(inp.valid_to)
    return last_day + timedelta(days=1), last_day, f"更新申請の期限 {_md(last_day)}"


def opening_view(inp: TermInput) -> TermView:
    """What a new term shows until its first reminder is due."""
    _, due, details = next_step(inp, inp.policy, first_sent=False, second_sent=False)
    return TermView(stage=Stage.WAITING, due=due, details=details)


def opened_event(inp: TermInput) -> CaseEventIn:
    return CaseEventIn(event_key="opened", step="renewal.opened", actor="system", detail={
        "certification_id": inp.certification_id, "expiry": inp.valid_to.isoformat(),
        "reminded": reminds(inp, inp.policy),
    })  # fmt: skip


@workflow.defn
class CertificationTermWorkflow(ProcedureWorkflow):
    MODEL = RENEWAL
    END_REASONS = frozenset(EndReason)

    @workflow.init
    def __init__(self, inp: TermInput) -> None:
        self.inp = inp
        self.policy = inp.policy
        self.init_case(inp.case_id, inp.atena_no, inp.insured_no)
        resume = inp.resume or TermResume(stage=Stage.WAITING)
        self._notice_seq = resume.notice_seq  # notice keys stay unique across continue-as-new
        self.phase = resume.stage
        self.first_sent = resume.first_sent
        self.second_sent = resume.second_sent
        self.last_day = last_filing_day(inp.valid_to)
        self.pending: str | None = None  # the 更新/区分変更 application being decided
        self.replacement: Replaced | None = None
        self.follow_up: OpenTask | None = None
        self.woken = False  # a message arrived: look again
        # What the case already shows (written only when it changes): a new term's starter wrote its opening.
        opening = inp.opening if inp.resume is None else None
        self._shown: tuple[Stage, date | None, str] | None = (
            (opening.stage, opening.due, opening.details) if opening else None
        )

    # --------------------------------------------------------------------------- messages from outside

    @workflow.signal
    def application_filed(self, filed: ApplicationFiled) -> None:
        """A 更新 or 区分変更 application of this person: stop reminding while it is decided."""
        if self.stopped() or self.pending == filed.application_id:
            return  # repeated announcement
        self.pending = filed.application_id
        self.woken = True
        if self.follow_up is not None and not self.follow_up.closed:
            self.book.cancel(self.follow_up)  # nobody needs to be called any more
        self.patch(application_id=filed.application_id)
        self.event(f"application-filed:{filed.application_id}", "renewal.application_filed", detail={
            "application_id": filed.application_id, "kind": filed.kind, "on": filed.on.isoformat(),
        })  # fmt: skip

    @workflow.signal
    def application_closed(self, closed: ApplicationClosed) -> None:
        """That application was withdrawn or refused: reminding resumes."""
        if self.stopped() or self.pending != closed.application_id:
            return  # another application, or already heard
        self.pending = None
        self.woken = True
        self.patch(application_id=None)
        self.event(f"application-closed:{closed.application_id}", "renewal.application_closed", detail={
            "application_id": closed.application_id, "on": closed.on.isoformat(),
        })  # fmt: skip

    @workflow.signal
    def replaced(self, replacement: Replaced) -> None:
        """A new certification of the person was decided: this term ends."""
        if self.stopped() or replacement.certification_id == self.inp.certification_id:
            return
        if self.replacement is None:
            self.replacement = replacement
            self.woken = True

    @workflow.signal
    def policy_changed(self, change: PolicyChanged) -> None:
        """The city's policy changed: from the next reminder on, this term follows it. Terms recorded
        before the signal existed replay without it (patched)."""
        if workflow.patched(POLICY_CHANGE_PATCH):
            self.policy = change.policy
            self.woken = True

    # ------------------------------------------------------------------------------- kernel hooks

    def on_completed(self, task: OpenTask) -> None:
        if isinstance(task.result, FollowUpRecord):
            self.patch(follow_up_outcome=task.result.outcome)

    # ------------------------------------------------------------------------------------------- run

    @workflow.run
    async def run(self, inp: TermInput) -> TermOutcome:
        try:
            await self._follow()
        except CaseEnded:
            self._end()
        await self.finish()
        return TermOutcome(
            case_id=self.case_id,
            outcome=self.outcome or "",
            end_reason=self.ended.reason if self.ended else None,
            successor_certification_id=self.replacement.certification_id if self.replacement else None,
            notice_ids=list(self.notice_ids),
        )

    async def _follow(self) -> None:
        if self.inp.resume is None and self.inp.opening is None:  # not written by its starter
            opened = opened_event(self.inp)
            self.event(opened.event_key, opened.step, opened.actor, opened.detail)
        while True:
            if self.replacement is not None:
                self._replace(self.replacement)
                return
            if self.pending is not None:
                self._show(Stage.APPLICATION_PENDING, None, "更新・区分変更の申請を審査中")
                await self._wait(None)
                if self.pending is None and self.replacement is None:
                    await self._resume_afresh()
                continue
            today = business_today()
            if today > self.last_day:
                self._lapse()
                return
            if await self._send_due_reminders(today):
                continue
            wake, due, details = self._next_step()
            self._show(self.phase, due, details)
            if self.history_is_long() and not self._open_tasks():
                await self.continue_as_new(self._next_input())
            await self._wait(at_business_hour(wake, self.policy.wake_hour))

    # ------------------------------------------------------------------------------------ reminders

    def _reminded(self) -> bool:
        return reminds(self.inp, self.policy)

    def _next_step(self) -> tuple[date, date, str]:
        return next_step(self.inp, self.policy, first_sent=self.first_sent, second_sent=self.second_sent)

    async def _send_due_reminders(self, today: date) -> bool:
        """Issue the reminder that is due, once. A first reminder issued late (an application withdrawn
        after the second-notice day, a term started late) stands for both. True if one was due."""
        if not self._reminded():
            return False
        second = second_day(self.inp, self.policy)
        second_due = second is not None and not self.second_sent and today >= second
        if not self.first_sent and today >= first_day(self.inp, self.policy):
            issued = await self.notice(NOTICE_KIND, self._notice_data(second_notice=False), NOTICE_LABEL)
            self.first_sent = True
            self.phase = Stage.NOTIFIED
            self.patch(first_notice_no=issued.document_no)
            if second_due:
                self.second_sent = True
                self._open_follow_up(today)
            return True
        if second_due:
            issued = await self.notice(NOTICE_KIND, self._notice_data(second_notice=True), NOTICE_LABEL)
            self.second_sent = True
            self.phase = Stage.SECOND_NOTIFIED
            self.patch(second_notice_no=issued.document_no)
            self._open_follow_up(today)
            return True
        return False

    def _notice_data(self, *, second_notice: bool) -> dict[str, object]:
        return {
            "care_level": self.inp.care_level,
            "valid_from": self.inp.valid_from,
            "valid_to": self.inp.valid_to,
            "second_notice": second_notice,
        }

    def _open_follow_up(self, today: date) -> None:
        due = min(today + timedelta(days=self.policy.follow_up_due_days), self.last_day)
        self.follow_up = self.book.create(
            RenewalTask.FOLLOW_UP, due=due, priority=40, reference=f"有効期間 {self.inp.valid_to} まで"
        )

    # ------------------------------------------------------------------------------------- endings

    def _replace(self, replacement: Replaced) -> None:
        renewed = replacement.application_kind == ApplicationKind.RENEWAL
        stage, outcome = (Stage.RENEWED, Outcome.RENEWED) if renewed else (Stage.REPLACED, Outcome.REPLACED)
        self.patch(successor_certification_id=replacement.certification_id)
        self.event("replaced", f"renewal.{outcome}", detail={
            "certification_id": replacement.certification_id, "on": replacement.on.isoformat(),
        })  # fmt: skip
        self._close(stage, outcome)

    def _lapse(self) -> None:
        self.event("lapsed", "renewal.lapsed", detail={"last_filing_day": self.last_day.isoformat()})
        self._close(Stage.LAPSED, Outcome.LAPSED)

    def _end(self) -> None:
        assert self.ended is not None
        self.event("ended", "case.ended", self.ended.actor, {
            "reason": self.ended.reason, "on": self.ended.on.isoformat(),
        })  # fmt: skip
        self._close(Stage.ENDED, Outcome.ENDED)

    def _close(self, stage: Stage, outcome: Outcome) -> None:
        self.patch(state=stage, closed_on=business_today(), next_reminder_on=None)
        self.close(stage, outcome)

    # --------------------------------------------------------------------------------------- helpers

    async def _wait(self, until: datetime | None) -> None:
        """Until `until`, a message, or the end of the case (CaseEnded)."""
        self.woken = False
        timeout = None if until is None else max(until - workflow.now(), timedelta(0))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self.woken or self.ended is not None, timeout=timeout)
        if self.ended is not None:
            raise CaseEnded

    async def _resume_afresh(self) -> None:
        """Reminding resumes after a withdrawn or refused application: each such cycle would grow the
        history, so the term continues as a new run (unless a follow-up task is open)."""
        self.phase = Stage.SECOND_NOTIFIED if self.second_sent else (
            Stage.NOTIFIED if self.first_sent else Stage.WAITING
        )  # fmt: skip
        if not self._open_tasks():
            await self.continue_as_new(self._next_input())

    def _show(self, stage: Stage, due: date | None, details: str) -> None:
        """Stage, due date and current details, written only when they change (keeps the history small)."""
        workflow.set_current_details(details)  # held by the worker, not in the history
        if self._shown == (stage, due, details):
            return
        self._shown = (stage, due, details)
        self.stage(stage, due=due, clear_due=due is None, details=details)
        self.patch(state=stage, next_reminder_on=due)

    def _open_tasks(self) -> bool:
        return any(not task.closed for task in self.book.tasks.values())

    def _next_input(self) -> TermInput:
        resume = TermResume(
            stage=self.phase,
            notice_seq=self._notice_seq,
            first_sent=self.first_sent,
            second_sent=self.second_sent,
        )
        return self.inp.model_copy(update={"policy": self.policy, "resume": resume, "opening": None})
