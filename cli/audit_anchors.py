"""Reading the anchored chain heads back from Temporal, for `kaigo audit verify`."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import RPCError

from kaigo.config import Settings
from kaigo.security.audit import Anchor
from workflows.audit_anchor import AnchoredHead, AuditAnchorWorkflow, anchor_schedule_id

RECENT_ANCHORS = 50  # at the default 5 minutes: about the last four hours


class AnchorsUnavailable(Exception):
    pass


async def anchors_from(
    client: Client, workflow_id_prefix: str, *, limit: int = RECENT_ANCHORS
) -> list[Anchor]:
    """The heads recorded by the newest `limit` completed runs of the anchor schedule."""
    query = (
        f"WorkflowType = '{AuditAnchorWorkflow.__name__}' AND ExecutionStatus = 'Completed' "
        f"AND WorkflowId STARTS_WITH '{workflow_id_prefix}'"
    )
    anchors = []
    async for execution in client.list_workflows(query, limit=limit):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id, result_type=AnchoredHead)
        head = await handle.result()
        if head.seq > 0 and execution.close_time is not None:
            anchors.append(Anchor(seq=head.seq, hash=head.hash, anchored_at=execution.close_time))
    return anchors


async def fetch_anchors(settings: Settings) -> list[Anchor]:
    from kaigo import embedded, temporal_client

    address = embedded.temporal_address(settings)
    try:
        client = await temporal_client.connect(settings.model_copy(update={"temporal_address": address}))
        return await anchors_from(client, anchor_schedule_id(settings.temporal_task_queue))
    except (RPCError, RuntimeError, OSError) as exc:
        raise AnchorsUnavailable(f"{address}: {exc}") from exc
