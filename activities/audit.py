"""The audit anchor's activity: read the chain head (workflows/audit_anchor.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from kaigo.security.audit import GENESIS_HASH, chain_head
from workflows.audit_anchor import READ_CHAIN_HEAD, AnchoredHead


class AuditActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=READ_CHAIN_HEAD)
    async def read_chain_head(self) -> AnchoredHead:
        async with self.sessions() as session:
            head = await chain_head(await session.connection())
        return AnchoredHead(seq=head.seq, hash=head.hash) if head else AnchoredHead(seq=0, hash=GENESIS_HASH)
