"""AuditAnchorWorkflow: records the audit chain's head in a workflow history, outside PostgreSQL.

Started every AUDIT_ANCHOR_MINUTES by the `audit-anchor` Temporal Schedule (periodic.py). Its one
activity reads the head (chain_seq, hash) and the workflow returns it, so the head is stored in Temporal's
history. `kaigo audit verify` reads the recent results back and fails if PostgreSQL no longer holds an
anchored head: deleting the newest rows, or rewriting the tail with recomputed hashes, cannot go unnoticed
by someone who can change only one of the two systems. No personal data: a sequence number and two hashes.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

READ_CHAIN_HEAD = "read_audit_chain_head"


def anchor_schedule_id(task_queue: str) -> str:
    """Schedule id, and prefix of its runs' workflow ids: one chain per deployment, i.e. per task queue
    (deployments sharing a namespace must use different task queues anyway)."""
    return f"audit-anchor-{task_queue}"


class AnchoredHead(BaseModel):
    seq: int  # 0: the chain was still empty
    hash: str


@workflow.defn
class AuditAnchorWorkflow:
    @workflow.run
    async def run(self) -> AnchoredHead:
        return await workflow.execute_activity(
            READ_CHAIN_HEAD,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=5),
            result_type=AnchoredHead,
        )
