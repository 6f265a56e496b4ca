"""FastAPI dependencies: typed aliases the routes declare instead of reaching into app.state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from kaigo.config import Settings
from kaigo.security import audit
from kaigo.security.field_crypto import FieldCipher
from kaigo.security.refusals import RefusalCounter


@dataclass
class Resources:
    """What the app holds for its lifetime; built by the lifespan (or handed in by tests)."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    temporal: Client
    cipher: FieldCipher
    # Unauthenticated refusals counted in memory, written as one row per minute and key (lifespan task).
    refusals: RefusalCounter = field(default_factory=RefusalCounter)


# Dependencies are async: a plain `def` dependency runs in the thread pool, a hop per request for nothing.
async def get_resources(request: Request) -> Resources:
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_settings_dep(resources: ResourcesDep) -> Settings:
    return resources.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(request: Request, resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    """A session in one transaction: committed when the handler returns, rolled back if it raises.

    The request's audit entries are inserted last, in the same transaction (no lock: the chainer links
    them after commit). scope="function" commits before the response is sent: a failed commit is an error
    response, never a success whose audit row is missing.
    """
    async with resources.sessions() as session, session.begin():
        yield session
        trail = getattr(request.state, "audit", None)
        if trail is not None and trail.pending:
            await audit.append(session, trail.pending)
            trail.pending.clear()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_temporal(resources: ResourcesDep) -> Client:
    return resources.temporal


TemporalDep = Annotated[Client, Depends(get_temporal)]


@dataclass(frozen=True)
class PageParams:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


async def page_params(
    page: Annotated[int, Query(ge=1, le=10_000, description="ページ番号 (1から)")] = 1,
    size: Annotated[int, Query(ge=1, le=100, description="1ページの件数 (最大100)")] = 20,
) -> PageParams:
    return PageParams(page=page, size=size)


PageDep = Annotated[PageParams, Depends(page_params)]
