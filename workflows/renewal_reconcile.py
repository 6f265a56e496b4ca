"""RenewalReconcileWorkflow — the daily reconciliation of 更新案内, run by a Temporal Schedule (overlap SKIP;
RECONCILE_SCHEDULE_ID in workflows/renewal.py, triggered again after a certification import).

Every active certification (valid_to ≥ today, the person's latest) without a term gets one. Safe to run
twice, even at once: the term's id derives from the certification, the database keeps one term row per
certification and Temporal one workflow per id.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.calendar import business_today
from workflows.procedure import ACTIVITY_OPTIONS

with workflow.unsafe.imports_passed_through():
    from activities.renewal import RenewalActivities
    from models.renewal import ReconcileInput, ReconcilePage, ReconcilePageResult, ReconcileResult

PAGE_TIMEOUT = timedelta(minutes=10)
STARTED_SHOWN = 100  # the result lists at most this many started terms (the count is complete)


@workflow.defn
class RenewalReconcileWorkflow:
    @workflow.run
    async def run(self, reconcile: ReconcileInput) -> ReconcileResult:
        as_of = reconcile.as_of or business_today()
        checked, started, after = 0, [], ""
        count = 0
        while True:
            page: ReconcilePageResult = await workflow.execute_activity(
                RenewalActivities.reconcile_page,
                ReconcilePage(reconcile=reconcile, as_of=as_of, after_certification_id=after),
                start_to_close_timeout=PAGE_TIMEOUT,
                heartbeat_timeout=timedelta(minutes=2),
                retry_policy=ACTIVITY_OPTIONS["retry_policy"],
            )
            checked += page.checked
            count += len(page.started)
            started += page.started[: max(STARTED_SHOWN - len(started), 0)]
            if page.last_certification_id is None:
                break
            after = page.last_certification_id
        return ReconcileResult(as_of=as_of, checked=checked, started=started, started_count=count)
