"""What each API process runs beside its requests: an audit chainer candidate and the refusal flusher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.deps import Resources
from kaigo.security import refusals
from kaigo.security.audit_chain import AuditChainer


@asynccontextmanager
async def background_tasks(resources: Resources) -> AsyncIterator[AuditChainer]:
    """Start both for the app's lifetime; on shutdown, flush the refusal counts and chain what is left."""
    stop_flusher, stop_chainer = asyncio.Event(), asyncio.Event()
    chainer = AuditChainer(resources.engine.url)
    chaining = asyncio.create_task(chainer.run(stop_chainer), name="audit-chainer")
    flushing = asyncio.create_task(
        refusals.flush_every(resources.refusals, resources.sessions, stop_flusher), name="refusal-flusher"
    )
    try:
        yield chainer
    finally:
        stop_flusher.set()  # first: its last rows are then chained by the chainer's last pass
        await asyncio.gather(flushing, return_exceptions=True)
        stop_chainer.set()
        await asyncio.gather(chaining, return_exceptions=True)
