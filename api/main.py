"""FastAPI application factory.

`create_app()` builds the app; the lifespan opens the database pool and a lazy Temporal client unless
the caller (tests) hands in ready-made `Resources`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from api.background import background_tasks
from api.console.routers import CONSOLE_ROUTERS
from api.deps import Resources
from api.docs import install_docs
from api.errors import install_error_handlers
from api.input_guard import InputGuardMiddleware
from api.openapi_docs import install_openapi
from api.request_context import RequestContextMiddleware
from api.route_table import route_rules
from api.routes import (
    audit,
    auth,
    board,
    cases,
    certification,
    certification_import,
    codec,
    dashboard,
    disclosure,
    health,
    notices,
    premiums,
    registry,
    renewal_batches,
    restriction,
    staff,
    tasks,
    temporal_ui,
    ui_session,
)
from kaigo import temporal_client
from kaigo.config import Settings, get_settings
from kaigo.db import make_engine, make_sessionmaker
from kaigo.security.field_crypto import FieldCipher
from notices.fonts import missing_characters

# Every router of the API, in the order they are mounted (api/route_table.py reads their routes).
ROUTERS = tuple(
    module.router
    for module in (
        health,
        auth,
        registry,
        disclosure,
        certification,
        certification_import,
        restriction,
        premiums,
        tasks,
        cases,
        board,
        staff,
        audit,
        codec,
        notices,
        renewal_batches,
        dashboard,
    )
)

# Browser pages, outside the API's route table and OpenAPI: the browser login, the Temporal UI under
# /temporal/, and the web console under /console/ (its own route table: CONSOLE_ROUTERS).
BROWSER_ROUTERS = (ui_session.router, temporal_ui.router, *CONSOLE_ROUTERS)
STATIC = Path(__file__).resolve().parent / "static"

DESCRIPTION = """\
介護保険課のケース管理 API。要介護認定・給付制限・更新案内の手続を Temporal ワークフローとして実行し、
職員はこの API (と Web コンソール) でタスクを処理します。

- **ログイン**: 右上の Authorize で職員のログインIDとパスワードを入力します (OAuth2 password flow)。
- **記入例**: 各リクエストの例は README の Walkthrough (docs/walkthrough/) と同じ内容です。
- **エラー**: すべて RFC 9457 `application/problem+json` で返り、`detail` は日本語、`errors[]` に
  誤りのある項目ごとに1件 (JSON のパス) が入ります。PostgreSQL・Temporal に接続できないときは
  503 と `Retry-After` を返します。
- **ケースID** は Temporal のワークフローID (`certification-<申請ID>`) です。
"""


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


async def open_resources(settings: Settings) -> Resources:
    engine = make_engine(settings.require_database_url(), pool_size=settings.db_pool_size)
    return Resources(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        temporal=await temporal_client.connect(settings, lazy=True),
        cipher=FieldCipher.from_settings(settings),
    )


def create_app(settings: Settings | None = None, *, resources: Resources | None = None) -> FastAPI:
    settings = settings or (resources.settings if resources else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = resources is None
        app.state.resources = resources or await open_resources(settings)
        # Load the notice typeface's character map now (≈0.4 s), not on the first name a clerk types.
        await asyncio.to_thread(missing_characters, "")
        try:
            async with background_tasks(app.state.resources):
                yield
        finally:
            client = getattr(app.state, "temporal_ui_client", None)
            if client is not None:
                await client.aclose()
            if owned:
                await app.state.resources.engine.dispose()

    app = FastAPI(
        title="kaigo-flow",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
    )
    if resources is not None:  # tests drive the app without running the lifespan
        app.state.resources = resources
    app.add_middleware(InputGuardMiddleware)  # innermost: runs after the request id is assigned
    # No CORS: the Temporal UI is served from this origin (/temporal/), so nothing calls us cross-origin.
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    for router in (*ROUTERS, *BROWSER_ROUTERS):
        app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    install_docs(app)
    install_openapi(app, route_rules(ROUTERS))
    return app
