"""The supervisor's dashboard: every registered chart (api/console/charts.py) as SVG, with its table and a CSV
download — all three from the same numbers, read through the dashboard API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.console import bridge
from api.console.auth import Console, console_require
from api.console.charts import CHARTS, Table, chart_by_id
from api.console.pages import ConsoleRoute, page
from api.routes import dashboard as dashboard_routes
from kaigo.errors import ProblemError
from models.common import today_in_japan
from models.permissions import Permission

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Reader = Annotated[Console, console_require(Permission.DASHBOARD_READ)]


async def _table(c: Console, chart_id: str) -> Table:
    data = await bridge.call(c, dashboard_routes.chart_table, chart_id=chart_id)
    return Table(data.columns, data.rows, data.note)


@router.get("/dashboard", summary="監督者のダッシュボード (図・表・CSV)")
async def dashboard(c: Reader) -> Response:
    charts = []
    for chart in CHARTS:
        table = await _table(c, chart.id)
        links = chart.links(table) if chart.links else [None] * len(table.rows)
        charts.append({"chart": chart, "table": table, "svg": chart.draw(table, c.settings), "links": links})
    return page(c, "console/dashboard.html", title="ダッシュボード", charts=charts, today=today_in_japan())


@router.get("/dashboard/{chart_id}.csv", summary="図表の数字を CSV でダウンロードする")
async def chart_csv(chart_id: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,40}$")], c: Reader) -> Response:
    chart = chart_by_id(chart_id)
    if chart is None:
        raise ProblemError(404, "chart-not-found", f"図表 {chart_id} はありません", field="chart_id")
    table = await _table(c, chart_id)
    name = f"{chart_id}-{today_in_japan():%Y%m%d}.csv"
    return Response(
        table.csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
