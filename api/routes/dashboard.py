"""The supervisor's figures as data: each dashboard chart's table (counts, days, rates; no personal data)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.auth import Principal, require
from api.console.charts import CHARTS, chart_by_id
from api.deps import SessionDep, SettingsDep
from kaigo.errors import ProblemError
from models.common import today_in_japan
from models.permissions import Permission

router = APIRouter(tags=["dashboard"])

Reader = Annotated[Principal, require(Permission.DASHBOARD_READ)]


class ChartInfo(BaseModel):
    id: str
    title: str
    description: str


class ChartTable(ChartInfo):
    columns: list[str]
    rows: list[list[Any]]
    note: str = Field(description="数字の定義")


@router.get("/dashboard/charts", summary="ダッシュボードの図表の一覧")
async def list_charts(_: Reader) -> list[ChartInfo]:
    return [ChartInfo(id=c.id, title=c.title, description=c.description) for c in CHARTS]


@router.get("/dashboard/charts/{chart_id}", summary="ダッシュボードの図表の数字 (表)")
async def chart_table(
    chart_id: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,40}$")],
    _: Reader,
    session: SessionDep,
    settings: SettingsDep,
) -> ChartTable:
    chart = chart_by_id(chart_id)
    if chart is None:
        raise ProblemError(404, "chart-not-found", f"図表 {chart_id} はありません", field="chart_id")
    table = await chart.query(session, settings, today_in_japan())
    return ChartTable(
        id=chart.id,
        title=chart.title,
        description=chart.description,
        columns=table.columns,
        rows=table.rows,
        note=table.note,
    )
