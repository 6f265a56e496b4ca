"""RenewalBatchWorkflow — the day's print batch of renewal reminders, run by a Temporal Schedule (overlap
SKIP) after the terms have issued the day's reminders.

Plans the day's notices export (the reminders not in any export yet) and produces its print files and the
発行一覧表. Safe to run again for the same day, even at once: the day keys the batch, so a re-run adds
nothing; a day with nothing to print makes no batch.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.calendar import business_today
from workflows.procedure import ACTIVITY_OPTIONS

with workflow.unsafe.imports_passed_through():
    from activities.renewal_batch import RenewalBatchActivities
    from models.renewal_batch import DayPlan, RenewalBatchInput, RenewalBatchResult

BATCH_SCHEDULE_ID = "renewal-daily-batch"
PRODUCE_TIMEOUT = timedelta(minutes=15)  # ~1,000 stored PDFs merged and a list rendered, per print file


def batch_workflow_id(day: str) -> str:
    """For a run started by hand (the schedule names its runs itself); the day is no personal data."""
    return f"renewal-batch-{day}"


@workflow.defn
class RenewalBatchWorkflow:
    @workflow.run
    async def run(self, run: RenewalBatchInput) -> RenewalBatchResult:
        day = run.day or business_today()
        plan: DayPlan = await workflow.execute_activity(
            RenewalBatchActivities.plan_renewal_batch,
            RenewalBatchInput(policy=run.policy, day=day),
            **ACTIVITY_OPTIONS,
        )
        if plan.export_id is None:
            return RenewalBatchResult(
                day=day, export_id=None, notice_count=0, created=False, produced_batches=[]
            )
        result: RenewalBatchResult = await workflow.execute_activity(
            RenewalBatchActivities.produce_renewal_batch,
            day,
            start_to_close_timeout=PRODUCE_TIMEOUT,
            retry_policy=ACTIVITY_OPTIONS["retry_policy"],
        )
        return result.model_copy(update={"created": plan.created})
