"""How a workflow refuses an update, as typed ApplicationErrors the API maps to HTTP statuses
(services/workflow_updates.py). A refusal in an update validator leaves nothing in the history."""

from __future__ import annotations

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

TASK_CLOSED = "TaskClosed"  # → 409
INVALID_PAYLOAD = "InvalidPayload"  # → 422, details = [{"field", "message"}]
CASE_CLOSED = "CaseClosed"  # → 409
NOT_ASSIGNEE = "NotAssignee"  # → 403 (a task the workflow gave to one person, e.g. a board member's vote)
TOO_EARLY = "TooEarly"  # → 409 (e.g. a board vote before the meeting's date)


class CaseEnded(Exception):
    """Raised inside the workflow when the case was withdrawn or ended while it waited."""


def refusal(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def invalid_payload(problems: list[tuple[str, str]]) -> ApplicationError:
    """422 with one entry per field; fields are paths inside the payload (e.g. "overview.conducted_on")."""
    details = [{"field": f, "message": m} for f, m in problems]
    return ApplicationError(
        "; ".join(m for _, m in problems), details, type=INVALID_PAYLOAD, non_retryable=True
    )


def pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    """(field path inside the payload, message) per error."""
    problems = []
    for e in error.errors():
        ctx = e.get("ctx") or {}
        message = str(ctx["error"]) if e["type"] == "value_error" and "error" in ctx else e["msg"]
        problems.append((".".join(str(p) for p in e["loc"]) or "payload", message))
    return problems
