"""The supervisor's figures (認定適正化): each chart is one `Chart` — a query that returns a table, and a
drawing of that table — so the dashboard shows it, its table view and its CSV from the same numbers.

A procedure adds its charts with `register(Chart(...))` from its console module. Queries read indexed
read-model tables only (bench/explain_dashboard.py prints their plans) and never a personal field: counts,
days, rates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console import svg
from kaigo.config import Settings
from models.case import CaseType
from procedures import PROCEDURES
from rules.primary_determination import CareLevel

NEAR_DAYS = 5  # "near the 30-day limit": this many days left or fewer
LIMIT_DAYS = 30  # 27条11項


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""

    def csv(self) -> bytes:
        """UTF-8 with BOM and CRLF, so that Excel on a city PC opens it as Japanese. A text cell that a
        spreadsheet would run as a formula (=, +, -, @: a 合議体 name is typed by staff) is quoted."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows([[_inert(value) for value in row] for row in self.rows])
        return ("\ufeff" + out.getvalue()).encode()


def _inert(value: Any) -> Any:
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


Query = Callable[[AsyncSession, Settings, date], Awaitable[Table]]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    query: Query
    draw: Callable[[Table, Settings], Markup]
    links: Callable[[Table], list[str | None]] | None = None  # a link per row of the table view (cases)


CHARTS: list[Chart] = []


def register(chart: Chart) -> Chart:
    if any(c.id == chart.id for c in CHARTS):
        raise ValueError(f"chart {chart.id!r} is already registered")
    CHARTS.append(chart)
    return chart


def chart_by_id(chart_id: str) -> Chart | None:
    return next((c for c in CHARTS if c.id == chart_id), None)


async def _rows(session: AsyncSession, statement: str, **params: Any) -> list[sa.Row[Any]]:
    return list((await session.exec(sa.text(statement).bindparams(**params))).all())  # type: ignore[call-overload]


_TYPES = {t.value: t for t in CaseType}


def _stage_label(case_type: str, stage: str) -> str:
    procedure = PROCEDURES.get(_TYPES[case_type]) if case_type in _TYPES else None
    return procedure.model.stages.get(stage, stage) if procedure else stage


def _procedure_label(case_type: str) -> str:
    procedure = PROCEDURES.get(_TYPES[case_type]) if case_type in _TYPES else None
    return procedure.model.label if procedure else case_type


# ---------------------------------------------------------------------------- open cases by stage and office

# A renewal term waiting for its window is open for most of a year, one per certification: it is not work in
# progress and would dwarf every other bar, so it is left out here (the renewals-due chart counts terms).
OPEN_BY_STAGE = """
SELECT case_type, stage, office, count(*) AS n
FROM case_record WHERE state = 'open' AND NOT (case_type = 'renewal' AND stage = 'waiting')
GROUP BY case_type, stage, office ORDER BY case_type, stage, office
"""


async def open_by_stage(session: AsyncSession, settings: Settings, today: date) -> Table:  # noqa: ARG001
    rows = await _rows(session, OPEN_BY_STAGE)
    return Table(
        ["手続", "段階", "事務所", "件数"],
        [
            [
                _procedure_label(r.case_type),
                _stage_label(r.case_type, r.stage),
                settings.office_labels.get(r.office, r.office),
                r.n,
            ]
            for r in rows
        ],
        note="更新案内の送付待ち (有効期間の満了まで眠っている期間ケース) は含めていません。",
    )


def _draw_open(table: Table, settings: Settings) -> Markup:
    stages = list(dict.fromkeys(f"{r[0]}: {r[1]}" for r in table.rows))
    offices = list(dict.fromkeys([*settings.office_labels.values(), *(r[2] for r in table.rows)]))
    counts = {(f"{r[0]}: {r[1]}", r[2]): r[3] for r in table.rows}
    series = [svg.Series(o, [counts.get((s, o), 0) for s in stages]) for o in offices]
    series = [s for s in series if any(s.values)]
    return svg.stacked_bars(
        "処理中のケース (段階・事務所別)", "段階ごとの件数を事務所別に積み上げた横棒グラフ", stages, series
    )


# -------------------------------------------------------------------------------------- the 30-day limit

DEADLINES = """
SELECT r.id AS case_id, r.stage, r.office, a.applied_on, a.decision_deadline
FROM case_record r JOIN certification_application a ON a.workflow_id = r.id
WHERE r.state = 'open' AND r.case_type = 'certification' AND a.decision_deadline <= :horizon
ORDER BY a.decision_deadline, r.id
"""


async def deadlines(session: AsyncSession, settings: Settings, today: date) -> Table:
    rows = await _rows(session, DEADLINES, horizon=today + timedelta(days=NEAR_DAYS))
    return Table(
        ["ケースID", "段階", "事務所", "申請日", "決定期限", "残り日数", "状況"],
        [
            [
                r.case_id,
                _stage_label("certification", r.stage),
                settings.office_labels.get(r.office, r.office),
                r.applied_on.isoformat(),
                r.decision_deadline.isoformat(),
                (r.decision_deadline - today).days,
                "期限超過" if r.decision_deadline < today else f"{NEAR_DAYS}日以内",
            ]
            for r in rows
        ],
        note=f"決定期限 (申請日から30日、27条11項) を過ぎたケースと、残り{NEAR_DAYS}日以内のケース。",
    )


def _draw_deadlines(table: Table, settings: Settings) -> Markup:  # noqa: ARG001
    over = sum(1 for r in table.rows if r[5] < 0)
    near = len(table.rows) - over
    return svg.stacked_bars(
        "30日期限 (27条11項)",
        f"期限超過 {over}件、残り{NEAR_DAYS}日以内 {near}件",
        ["期限超過", f"残り{NEAR_DAYS}日以内"],
        [svg.Series("件数", [over, near])],
    )


# ------------------------------------------------------------------------- days from application to decision

DAYS_TO_DECISION = """
SELECT date_trunc('month', c.decided_on)::date AS month, count(*) AS n,
       round(avg(c.decided_on - a.applied_on), 1) AS average,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY c.decided_on - a.applied_on) AS median,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY c.decided_on - a.applied_on) AS p90,
       max(c.decided_on - a.applied_on) AS longest,
       count(*) FILTER (WHERE c.decided_on > a.applied_on + 30) AS over_limit
FROM certification c JOIN certification_application a ON a.id = c.id
WHERE c.decided_on >= :since
GROUP BY 1 ORDER BY 1
"""


async def days_to_decision(session: AsyncSession, settings: Settings, today: date) -> Table:  # noqa: ARG001
    since = date(today.year - 1, today.month, 1)
    rows = await _rows(session, DAYS_TO_DECISION, since=since)
    return Table(
        ["月", "決定件数", "平均日数", "中央値", "90パーセンタイル", "最長", "30日超"],
        [[f"{r.month:%Y-%m}", r.n, float(r.average), r.median, r.p90, r.longest, r.over_limit] for r in rows],
        note="申請日から決定日 (審査会の開催日) までの日数。30日を超えたものは延期通知が必要です"
        " (27条11項)。",
    )


def _draw_days(table: Table, settings: Settings) -> Markup:  # noqa: ARG001
    return svg.columns_with_line(
        "申請から決定までの日数 (月別)",
        "月ごとの平均日数と90パーセンタイル。破線は30日の期限",
        [r[0] for r in table.rows],
        [
            svg.Series("平均", [r[2] for r in table.rows]),
            svg.Series("90パーセンタイル", [r[4] for r in table.rows]),
        ],
        line=LIMIT_DAYS,
        line_label="30日 (27条11項)",
        unit="日",
    )


# ----------------------------------------------------------------- 重度変更率 / 軽度変更率 per 合議体

_RANK = "array_position(ARRAY[" + ",".join(f"'{level.value}'" for level in CareLevel) + "]::text[], {})"
_FINAL, _PRIMARY = _RANK.format("c.level"), _RANK.format("a.primary_result->>'level'")
CHANGE_RATES = f"""
SELECT p.name AS panel, count(*) AS n,
       count(*) FILTER (WHERE {_FINAL} > {_PRIMARY}) AS heavier,
       count(*) FILTER (WHERE {_FINAL} < {_PRIMARY}) AS lighter
FROM certification c
JOIN certification_application a ON a.id = c.id
JOIN board_allocation ba ON ba.application_id = c.id
JOIN board_meeting m ON m.id = ba.meeting_id AND m.held_on = c.decided_on
JOIN board_panel p ON p.id = m.panel_id
WHERE c.decided_on >= :since AND a.primary_result IS NOT NULL
GROUP BY p.name ORDER BY p.name
"""


def _rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


async def change_rates(session: AsyncSession, settings: Settings, today: date) -> Table:  # noqa: ARG001
    since = today - timedelta(days=365)
    rows = await _rows(session, CHANGE_RATES, since=since)
    return Table(
        ["合議体", "判定件数", "重度変更", "重度変更率(%)", "軽度変更", "軽度変更率(%)"],
        [[r.panel, r.n, r.heavier, _rate(r.heavier, r.n), r.lighter, _rate(r.lighter, r.n)] for r in rows],
        note="直近1年の二次判定のうち、一次判定より重い区分 (重度変更) と軽い区分 (軽度変更) になった割合。",
    )


def _draw_rates(table: Table, settings: Settings) -> Markup:  # noqa: ARG001
    return svg.columns_with_line(
        "一次判定からの変更率 (合議体別)",
        "合議体ごとの重度変更率と軽度変更率 (%)",
        [r[0] for r in table.rows],
        [
            svg.Series("重度変更率(%)", [r[3] for r in table.rows]),
            svg.Series("軽度変更率(%)", [r[5] for r in table.rows]),
        ],
        unit="%",
    )


# ----------------------------------------------------------------------------------- open cases of a kind


def open_by_stage_of(case_type: CaseType) -> Query:
    async def query(session: AsyncSession, settings: Settings, today: date) -> Table:  # noqa: ARG001
        rows = await _rows(
            session,
            "SELECT stage, count(*) AS n FROM case_record WHERE state = 'open' AND case_type = :t "
            "GROUP BY stage ORDER BY stage",
            t=case_type.value,
        )
        return Table(["段階", "件数"], [[_stage_label(case_type.value, r.stage), r.n] for r in rows])

    return query


def _draw_restrictions(table: Table, settings: Settings) -> Markup:  # noqa: ARG001
    return svg.stacked_bars(
        "給付制限 (段階別)", "処理中の給付制限の段階別件数",
        [r[0] for r in table.rows], [svg.Series("件数", [r[1] for r in table.rows])],
    )  # fmt: skip


def _case_links(table: Table) -> list[str | None]:
    return [f"/console/cases/{row[0]}" for row in table.rows]


register(
    Chart(
        "open-cases", "処理中のケース (段階・事務所別)", "全手続の処理中のケース", open_by_stage, _draw_open
    )
)
register(
    Chart(
        "thirty-day-limit",
        "30日期限が近い・過ぎたケース",
        "要介護認定の決定期限 (27条11項)",
        deadlines,
        _draw_deadlines,
        _case_links,
    )
)
register(
    Chart(
        "days-to-decision",
        "申請から決定までの日数",
        "月別の平均・90パーセンタイルと30日の線",
        days_to_decision,
        _draw_days,
    )
)
register(
    Chart("change-rates", "重度変更率・軽度変更率 (合議体別)", "認定適正化の指標", change_rates, _draw_rates)
)
register(
    Chart(
        "restrictions",
        "給付制限 (段階別)",
        "処理中の給付制限",
        open_by_stage_of(CaseType.RESTRICTION),
        _draw_restrictions,
    )
)
