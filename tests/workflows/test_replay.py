"""Replay every recorded history (tests/histories/) against today's workflow code.

A change that would make an in-flight case fail on a worker upgrade (non-determinism) fails here; guard such
changes with `workflow.patched`. Regenerate histories with `RECORD_HISTORIES=1 pytest tests/workflows`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from kaigo import temporal_client
from tests.conftest import TEST_SETTINGS
from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).resolve().parent.parent / "histories").glob("*.json"))


def test_there_are_recorded_histories_for_each_path() -> None:
    names = {p.stem for p in HISTORIES}
    assert {
        "certification_new_decided",
        "certification_not_applicable",
        "certification_board_tie",
        "certification_no_quorum",
        "certification_delay_notices",
        "certification_withdrawn",
        "restriction_explanation_accepted",
        "restriction_reimbursed_suspended_paid",
        "restriction_paid_during_explanation",
        "restriction_death",
        "restriction_category2",
        "restriction_reduction",
        "restriction_scan",
        "renewal_lapsed",
        "renewal_renewed_before_first_notice",
        "renewal_replaced_by_category_change",
        "renewal_withdrawn_resumed",
        "renewal_death",
        "renewal_policy_off",
        "renewal_policy_changed",
        # terms started before their starter wrote the opening (migration 0019): still running in a city
        *(f"renewal_v1_{path}" for path in ("lapsed", "renewed_before_first_notice", "withdrawn_resumed")),
        "renewal_batch_new_day",
        "renewal_batch_rerun",
        "renewal_batch_empty_day",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays_deterministically(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    # The default sandbox, with nothing passed through: the worker shares some workflow modules for speed
    # (worker.py), so this is where their code is still checked for I/O and clock reads.
    replayer = Replayer(
        workflows=WORKFLOWS,
        workflow_runner=SandboxedWorkflowRunner(),
        data_converter=temporal_client.data_converter(TEST_SETTINGS),
    )
    await replayer.replay_workflow(history)
