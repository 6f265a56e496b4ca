"""Telling other procedures what happened to a certification case: one activity, any number of listeners.

The certification workflow announces an application received, a certification decided, or a case closed
without one; each procedure that cares registers a listener in procedures.py (`on_certification_event`).
Listeners must be idempotent (the activity is retried as a whole): they start or signal workflows by id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client

from models.certification import CertificationEvent

Listener = Callable[[Client, async_sessionmaker[AsyncSession], CertificationEvent], Awaitable[None]]


class CertificationEventActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], listeners: Sequence[Listener]) -> None:
        self._sessions = sessions
        self._listeners = listeners

    @activity.defn
    async def announce_certification_event(self, event: CertificationEvent) -> None:
        for listener in self._listeners:
            await listener(activity.client(), self._sessions, event)
