"""How a case page shows a procedure's case: its legal clocks and the panel of its own record.

Every case type gets a page from the kernel's data alone (stage, next due date, timeline, tasks, notices, the
record as a list of fields). A procedure adds its clocks (e.g. 弁明 period, renewal window) and a panel
template with `register(CaseType.X, CasePanel(...))` from its console module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from api.console.auth import Console
from api.routes.cases import CaseDetail
from models.case import CaseState, CaseType
from models.common import today_in_japan


@dataclass(frozen=True)
class Clock:
    """A deadline shown as days left: what it is, its legal basis, and the date."""

    label: str
    due: date | None
    basis: str = ""

    @property
    def days_left(self) -> int | None:
        return None if self.due is None else (self.due - today_in_japan()).days

    @property
    def state(self) -> str:
        left = self.days_left
        if left is None:
            return "none"
        return "overdue" if left < 0 else ("soon" if left <= 5 else "ok")

    @property
    def text(self) -> str:
        left = self.days_left
        if left is None:
            return "—"
        if left < 0:
            return f"{-left}日超過"
        return "今日まで" if left == 0 else f"あと{left}日"


def _next_due(detail: CaseDetail) -> list[Clock]:
    if detail.case.state != CaseState.OPEN:
        return []
    return [Clock("次の期限", detail.case.due_on, detail.case.details or detail.stage_label)]


Extra = Callable[[Console, CaseDetail], Awaitable[dict[str, Any]]]


async def _nothing(console: Console, detail: CaseDetail) -> dict[str, Any]:  # noqa: ARG001
    return {}


@dataclass(frozen=True)
class CasePanel:
    template: str = "console/cases/generic.html"  # the record's panel
    clocks: Callable[[CaseDetail], list[Clock]] = _next_due
    extra: Extra = _nothing  # more for the panel (e.g. the secretariat's board material)


CASE_PANELS: dict[CaseType, CasePanel] = {}
GENERIC = CasePanel()


def register(case_type: CaseType, panel: CasePanel) -> None:
    if case_type in CASE_PANELS:
        raise ValueError(f"case type {case_type} already has a case panel")
    CASE_PANELS[case_type] = panel


def panel_for(case_type: CaseType) -> CasePanel:
    return CASE_PANELS.get(case_type, GENERIC)
