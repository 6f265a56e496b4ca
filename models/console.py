"""The web console's own tables: browser sessions and the server-side drafts of task forms.

A browser session is a login of its own (like a bearer token's, with a `login_jti` no token carries): the
cookie holds a random secret, the table only its SHA-256, so a copy of the table opens nothing. It is checked
on every request — logout, an administrator's revocation (the account's token version), a deactivation or a
role change apply on the next request — and it ends after ACCESS_TOKEN_MINUTES without a request, and
CONSOLE_SESSION_HOURS after the login at the latest.

A draft is what the assignee typed into a task form and saved, kept with the task on the server (never in
the browser), visible only to the staff member who saved it while they are the task's assignee.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.common import utcnow


class ConsoleSession(SQLModel, table=True):
    __tablename__ = "console_session"
    __table_args__ = (sa.Index("ix_console_session_login", "login_id"),)

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 (hex) of the cookie's secret
    login_id: str = Field(max_length=32)
    login_jti: str = Field(max_length=32, unique=True)  # the login: codec tokens carry it as `sid`
    token_version: int  # the account's version at login: an administrator's revocation bumps it
    csrf_token: str = Field(max_length=64)  # synchronizer token of every form of this session
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # absolute end
    revoked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class TaskDraft(SQLModel, table=True):
    __tablename__ = "task_draft"

    task_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid, sa.ForeignKey("task.id", ondelete="CASCADE"), primary_key=True)
    )
    payload: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    saved_by: str = Field(max_length=32)
    saved_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
