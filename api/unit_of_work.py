"""Short transactions for routes that also call Temporal.

Such routes do not take `SessionDep` (one transaction for the whole request): they read in one short
transaction, call Temporal with no connection held, and write in another — each committing the request's audit
entries with it, as `SessionDep` does at its end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import AuditTrail
from api.deps import Resources
from kaigo.security import audit


@asynccontextmanager
async def transaction(resources: Resources, trail: AuditTrail) -> AsyncIterator[AsyncSession]:
    async with resources.sessions() as session, session.begin():
        yield session
        if trail.pending:
            await audit.append(session, trail.pending)
            trail.pending.clear()
