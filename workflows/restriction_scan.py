"""RestrictionScanWorkflow — the daily arrears check, run by a Temporal Schedule (overlap SKIP).

Every certified 第1号 person newly 1 year past a 納期限 (66条) gets one restriction case; then open cases
whose recorded arrears differ from the ledger are told to read it again (a payment signal lost while Temporal
was down, an instalment newly due). Safe to run twice, even at once: a case's id is derived from the person
and their episode, and the database allows one open case per person.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.calendar import business_today
from workflows.procedure import ACTIVITY_OPTIONS

with workflow.unsafe.imports_passed_through():
    from activities.restriction_triggers import RestrictionTriggerActivities
    from models.restriction import ScanInput, ScanPage, ScanPageResult, ScanResult

SCAN_PAGE_TIMEOUT = timedelta(minutes=10)
SCAN_SCHEDULE_ID = "restriction-daily-scan"


@workflow.defn
class RestrictionScanWorkflow:
    @workflow.run
    async def run(self, scan: ScanInput) -> ScanResult:
        as_of = scan.as_of or business_today()
        checked, opened, after = 0, [], ""
        while True:
            page: ScanPageResult = await workflow.execute_activity(
                RestrictionTriggerActivities.scan_page,
                ScanPage(scan=scan, as_of=as_of, after_insured_no=after),
                start_to_close_timeout=SCAN_PAGE_TIMEOUT,
                retry_policy=ACTIVITY_OPTIONS["retry_policy"],
            )
            checked += page.checked
            opened += page.opened
            if page.last_insured_no is None:
                break
            after = page.last_insured_no
        nudged: int = await workflow.execute_activity(
            RestrictionTriggerActivities.reconcile_open_cases, as_of, **ACTIVITY_OPTIONS
        )
        return ScanResult(as_of=as_of, checked=checked, opened=opened, nudged=nudged)
