"""FastAPI application factory.

`create_app()` builds the app; the lifespan opens the database pool and a lazy Temporal client unless
the caller (tests) hands in ready-made `Resources`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from api.background import background_tasks
from api.deps import Resources
from api.errors import install_error_handlers
from api.request_context import RequestContextMiddleware
from api.routes import (
    audit,
    auth,
    board,
    cases,
    certification,
    codec,
    disclosure,
    health,
    notices,
    registry,
    staff,
    tasks,
)
from kaigo import temporal_client
from kaigo.config import Settings, get_settings
from kaigo.db import make_engine, make_sessionmaker
from kaigo.security.field_crypto import FieldCipher

# Every router of the API, in the order they are mounted (api/route_table.py reads their routes).
ROUTERS = tuple(
    module.router
    for module in (
        health,
        auth,
        registry,
        disclosure,
        certification,
        tasks,
        cases,
        board,
        staff,
        audit,
        codec,
        notices,
    )
)

DESCRIPTION = """\
介護保険課のケース管理 API。要介護認定・給付制限・更新案内の手続を Temporal ワークフローとして実行し、
職員はこの API (と Web コンソール) でタスクを処理します。エラーはすべて RFC 9457 problem+json で返ります。
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
        try:
            async with background_tasks(app.state.resources):
                yield
        finally:
            if owned:
                await app.state.resources.engine.dispose()

    app = FastAPI(
        title="kaigo-flow",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    if resources is not None:  # tests drive the app without running the lifespan
        app.state.resources = resources
    # Only the Temporal UI calls us cross-origin (the codec endpoint), with its cookie.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.temporal_ui_url.rstrip("/")],
        allow_credentials=True,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
    )
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
