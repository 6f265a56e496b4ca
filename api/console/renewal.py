"""更新案内 in the console: the term's case panel (the renewal window as days left), the follow-up call form
and the dashboard's "renewals due in the next 60 days" chart.

Everything is read through the JSON API's endpoints (the case page's record is the term's `TermPublic`);
the dates come from rules/renewal.py, never computed here.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console import bridge, charts, svg
from api.console.auth import Console
from api.console.case_panels import CasePanel, Clock
from api.console.case_panels import register as register_panel
from api.console.cases import DETAIL_LABELS, STEP_LABELS
from api.console.schema_form import FieldSpec
from api.console.task_forms import TaskForm
from api.console.task_forms import register as register_form
from api.routes import cases as case_routes
from api.routes.cases import CaseDetail
from kaigo.config import Settings
from models.case import CaseState, CaseType
from models.common import today_in_japan
from models.renewal import STAGE_LABELS, Stage
from models.renewal_tasks import Contacted, FollowUpOutcome, RenewalTask
from models.task import TaskPublic
from rules.renewal import RENEWAL_WINDOW_DAYS, renewal_window_opens, second_notice_day

STEP_LABELS.update(
    {
        "renewal.opened": "更新案内の対象として登録",
        "renewal.application_filed": "更新・区分変更の申請を受付",
        "renewal.application_closed": "その申請が取下げ・却下で終了 (案内を再開)",
        "renewal.renewed": "更新の認定を決定",
        "renewal.replaced": "新しい認定 (区分変更など) に置き換わった",
        "renewal.lapsed": "更新申請なく最終日を経過",
    }
)
DETAIL_LABELS.update({"expiry": "有効期間の終了", "last_filing_day": "申請の最終日", "on": "日付"})

_BASIS_WINDOW = f"有効期間満了日の{RENEWAL_WINDOW_DAYS}日前から (28条2項、施行規則)"
_BASIS_LAST = "満了日、閉庁日なら翌開庁日 (地方自治法4条の2第4項)"


# ------------------------------------------------------------------------------------------ case panel


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def second_notice_on(record: dict[str, Any], settings: Settings) -> date | None:
    """The second-notice day of an open term that has not had it, by the city's policy (RENEWAL_POLICY)."""
    expiry = _date(record.get("expiry"))
    policy = settings.renewal_policy
    if (
        expiry is None
        or not record.get("reminded")
        or not policy.second_notice
        or record.get("second_notice_no")
        or record.get("state") not in (Stage.WAITING, Stage.NOTIFIED)
    ):
        return None
    return second_notice_day(expiry, policy.second_notice_days_before_expiry)


def _clocks(detail: CaseDetail) -> list[Clock]:
    """The renewal window as days left: its opening (while ahead), the last filing day and the expiry."""
    record = detail.record or {}
    expiry = _date(record.get("expiry"))
    if detail.case.state != CaseState.OPEN or expiry is None:
        return []
    clocks = []
    opens = renewal_window_opens(expiry)
    if opens >= today_in_japan():
        clocks.append(Clock("更新申請の受付開始", opens, _BASIS_WINDOW))
    if detail.case.due_on and detail.case.due_on not in (opens, _date(record.get("last_filing_day"))):
        clocks.append(Clock("次の予定", detail.case.due_on, detail.case.details or detail.stage_label))
    last_day = _date(record.get("last_filing_day"))
    if last_day == expiry:  # no holiday to roll past: one date
        clocks.append(Clock("更新申請の最終日・有効期間の終了", expiry, "認定の有効期間の満了日"))
    else:
        clocks.append(Clock("更新申請の最終日", last_day, _BASIS_LAST))
        clocks.append(Clock("有効期間の終了", expiry, "認定の有効期間の満了日"))
    return clocks


async def _panel_extra(console: Console, detail: CaseDetail) -> dict[str, Any]:
    record = detail.record or {}
    expiry = _date(record.get("expiry"))
    return {
        "window_opens": renewal_window_opens(expiry) if expiry else None,
        "second_notice_on": second_notice_on(record, console.settings),
        "stage_labels": STAGE_LABELS_JA,
        "outcome_labels": OUTCOME_LABELS,
    }


# --------------------------------------------------------------------------------------- follow-up form

CONTACTED_LABELS = {
    Contacted.PERSON: "本人・家族",
    Contacted.CARE_MANAGER: "ケアマネジャー・地域包括支援センター",
}
OUTCOME_LABELS = {
    FollowUpOutcome.REACHED: "連絡がついた (申請するかは未定)",
    FollowUpOutcome.NOT_REACHED: "連絡がつかなかった",
    FollowUpOutcome.WILL_APPLY: "更新を申請する予定",
    FollowUpOutcome.DECLINED: "更新しない (サービスを使わない等)",
}
STAGE_LABELS_JA = {stage.value: label for stage, label in STAGE_LABELS.items()}


def _follow_up_fields(kind: str) -> list[FieldSpec]:  # noqa: ARG001
    return [
        FieldSpec(
            name="payload.contacted",
            label="連絡した相手",
            kind="select",
            required=True,
            choices=[(k.value, label) for k, label in CONTACTED_LABELS.items()],
        ),
        FieldSpec(
            name="payload.outcome",
            label="連絡の結果",
            kind="select",
            required=True,
            choices=[(k.value, label) for k, label in OUTCOME_LABELS.items()],
        ),
        FieldSpec(name="payload.note", label="メモ (話した内容・次の予定)", kind="textarea", max_length=400),
    ]


async def _term_context(console: Console, task: TaskPublic) -> dict[str, Any]:
    detail = await bridge.call(console, case_routes.get_case, case_id=task.case_id)
    record = detail.record or {}
    return {"term": record, "last_filing_day": _date(record.get("last_filing_day"))}


register_form(
    RenewalTask.FOLLOW_UP,
    TaskForm("console/forms/renewal_follow_up.html", _term_context, fields=_follow_up_fields),
)
register_panel(CaseType.RENEWAL, CasePanel("console/cases/renewal.html", _clocks, _panel_extra))


# ------------------------------------------------------------------------- renewals in the next 60 days

HORIZON_DAYS = 60
# Terms by the week (Monday) of their expiry and their state; certification_term holds one row per
# certification, so a renewed term (its successor decided early) shows as 更新済み in its week.
RENEWALS_DUE = """
SELECT date_trunc('week', t.expiry)::date AS week, t.state, count(*) AS n
FROM certification_term t
WHERE t.expiry BETWEEN :today AND :until
GROUP BY 1, 2 ORDER BY 1, 2
"""
# The chart's columns: each term state, the rare endings merged.
STATE_COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("案内前", (Stage.WAITING,)),
    ("案内済み", (Stage.NOTIFIED,)),
    ("再度の案内済み", (Stage.SECOND_NOTIFIED,)),
    ("申請を審査中", (Stage.APPLICATION_PENDING,)),
    ("更新済み", (Stage.RENEWED,)),
    ("その他の終了", (Stage.REPLACED, Stage.LAPSED, Stage.ENDED)),
]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def renewals_due(session: AsyncSession, settings: Settings, today: date) -> charts.Table:  # noqa: ARG001
    until = today + timedelta(days=HORIZON_DAYS)
    found = await session.exec(sa.text(RENEWALS_DUE).bindparams(today=today, until=until))  # type: ignore[call-overload]
    counts: dict[tuple[date, str], int] = {(r.week, r.state): r.n for r in found.all()}
    table_rows: list[list[Any]] = []
    week = _monday(today)
    while week <= until:  # every week of the horizon, so that a quiet week shows as 0
        cells = [sum(counts.get((week, str(s)), 0) for s in states) for _, states in STATE_COLUMNS]
        table_rows.append([week.isoformat(), *cells, sum(cells)])
        week += timedelta(days=7)
    return charts.Table(
        ["週 (月曜)", *(name for name, _ in STATE_COLUMNS), "合計"],
        table_rows,
        note=f"有効期間が{HORIZON_DAYS}日以内に終わる認定を、満了日の週と更新案内の状態で数えたもの。"
        f"更新申請は満了日の{RENEWAL_WINDOW_DAYS}日前から受け付けます。",
    )


def _draw(table: charts.Table, settings: Settings) -> Markup:  # noqa: ARG001
    labels = [f"{date.fromisoformat(r[0]):%-m月%-d日}の週" for r in table.rows]
    series = [svg.Series(name, [r[i + 1] for r in table.rows]) for i, (name, _) in enumerate(STATE_COLUMNS)]
    return svg.stacked_bars(
        "60日以内に有効期間が終わる認定", "満了日の週ごとの件数 (更新案内の状態別)", labels, series
    )


charts.register(
    charts.Chart(
        "renewals-due", "60日以内に更新を迎える認定", "満了日の週・更新案内の状態別", renewals_due, _draw
    )
)
