"""Workflows that exercise the harness itself (converter, timers, search attributes, worker activities).

They live in an importable module because the workflow sandbox re-imports workflow code.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.registry import InsuredStatus
    from kaigo import search_attributes


class WaitInput(BaseModel):
    insured_no: str
    wait_days: int


class WaitResult(BaseModel):
    insured_no: str
    started_on: date
    finished_on: date


@workflow.defn
class WaitDaysWorkflow:
    """Sleeps for days of workflow time: proves time skipping and pydantic round trips."""

    @workflow.run
    async def run(self, data: WaitInput) -> WaitResult:
        started = workflow.now().date()
        await workflow.sleep(timedelta(days=data.wait_days))
        return WaitResult(insured_no=data.insured_no, started_on=started, finished_on=workflow.now().date())


@workflow.defn
class InsuredProbeWorkflow:
    """Reads the registry through the worker's activity and tags itself for the Temporal UI."""

    @workflow.run
    async def run(self, insured_no: str) -> InsuredStatus:
        status: InsuredStatus = await workflow.execute_activity(
            "get_insured_status",
            insured_no,
            result_type=InsuredStatus,
            start_to_close_timeout=timedelta(seconds=10),
        )
        workflow.upsert_search_attributes(
            [
                search_attributes.CASE_TYPE.value_set("probe"),
                search_attributes.CASE_STAGE.value_set("checked"),
                search_attributes.INSURED_NUMBER.value_set(insured_no),
                search_attributes.DUE_DATE.value_set(datetime(2026, 12, 1, tzinfo=workflow.now().tzinfo)),
            ]
        )
        return status


class ResidentLetter(BaseModel):
    """A payload with the kind of personal data a notice workflow carries."""

    insured_no: str
    name: str
    my_number: str
    fail: bool = False


@workflow.defn
class ResidentLetterWorkflow:
    """Echoes personal data through input, result and (optionally) a failure message."""

    @workflow.run
    async def run(self, letter: ResidentLetter) -> ResidentLetter:
        workflow.upsert_search_attributes(
            [
                search_attributes.CASE_TYPE.value_set("probe"),
                search_attributes.INSURED_NUMBER.value_set(letter.insured_no),
            ]
        )
        if letter.fail:
            raise ApplicationError(f"{letter.name} さんへの通知に失敗しました", non_retryable=True)
        return letter
