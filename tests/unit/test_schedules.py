"""The schedule helper's definition (the periodic procedures share it; tests/integration proves it live)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kaigo.schedules import schedule_definition
from workflows.audit_anchor import AuditAnchorWorkflow


def test_a_schedule_needs_exactly_one_of_every_and_cron() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        schedule_definition(AuditAnchorWorkflow.run, workflow_id="x", task_queue="q")
    with pytest.raises(ValueError, match="exactly one"):
        schedule_definition(
            AuditAnchorWorkflow.run,
            workflow_id="x",
            task_queue="q",
            every=timedelta(minutes=1),
            cron="0 3 * * *",
        )
    cron = schedule_definition(AuditAnchorWorkflow.run, workflow_id="x", task_queue="q", cron="0 3 * * *")
    assert cron.spec.cron_expressions == ["0 3 * * *"] and cron.spec.time_zone_name == "Asia/Tokyo"
