"""Staff accounts, revoked tokens and the append-only, hash-chained audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from models.common import utcnow
from models.permissions import Role

LoginId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,31}$")]
OfficeCode = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9-]{1,32}$")
]  # one of OFFICES (kaigo/config.py)


class Staff(SQLModel, table=True):
    """職員アカウント."""

    __tablename__ = "staff"

    login_id: str = Field(primary_key=True, max_length=32)
    display_name: str = Field(max_length=60)
    password_hash: str = Field(max_length=200)
    roles: list[str] = Field(sa_column=sa.Column(ARRAY(sa.String(16)), nullable=False))
    organization: str | None = Field(default=None, max_length=100)  # 委託先 (contracted surveyors)
    office: str | None = Field(default=None, max_length=32)  # 所属事務所 (OFFICES); None: OFFICE_CODE
    active: bool = True
    token_version: int = 0  # bumped to revoke every token of this account
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class RevokedToken(SQLModel, table=True):
    """Tokens logged out before they expire (rows can be dropped after expires_at)."""

    __tablename__ = "revoked_token"

    token_id: str = Field(primary_key=True, max_length=64)
    login_id: str = Field(max_length=32)
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class AuditEvent(SQLModel, table=True):
    """操作記録: who did what to whose data, when, from where, with what outcome.

    A request inserts its rows in its own transaction with the chain columns empty; one chainer (the leader
    among the API processes, kaigo/security/audit_chain.py) then sets `chain_seq`, `prev_hash` and `hash`
    once, in the order rows became visible, so a transaction that commits late is still chained. `hash`
    covers this row and the previous row's hash, so an edited, removed or reordered row breaks the chain
    (`kaigo audit verify`). Triggers refuse DELETE, TRUNCATE and every UPDATE but that one chaining.
    Holds the subject's 宛名番号 only — no names — so it survives the retention purge intact.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        sa.Index("ix_audit_event_subject", "subject_atena_no", "at"),
        sa.Index("ix_audit_event_actor", "actor", "at"),
        sa.Index("ix_audit_event_login_failures", "action", "outcome", "client_addr", "at"),
        sa.Index("uq_audit_event_chain_seq", "chain_seq", unique=True),
        # The chainer's work list: small, because rows leave it within a second.
        sa.Index("ix_audit_event_unchained", "id", postgresql_where=sa.text("chain_seq IS NULL")),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger,
            primary_key=True,
            autoincrement=False,
            server_default=sa.text("nextval('audit_event_id_seq')"),
        ),
    )
    at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    actor: str = Field(max_length=64)
    roles: str = Field(max_length=200)
    action: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    subject_atena_no: str | None = Field(default=None, max_length=15)
    resource: str = Field(max_length=200)
    request_id: str | None = Field(default=None, max_length=64)
    client_addr: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(JSONB, nullable=False))
    chain_seq: int | None = Field(default=None, sa_type=sa.BigInteger)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


# --------------------------------------------------------------------------------------------- schemas


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login_id: LoginId = Field(description="ログインID (英小文字・数字・._-、3〜32文字)")
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)]
    password: Annotated[str, StringConstraints(max_length=128)] = Field(description="12文字以上")
    roles: Annotated[list[Role], Field(min_length=1, max_length=6)]
    organization: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="委託先名 (委託の認定調査員)"
    )
    office: OfficeCode | None = Field(
        default=None, description="所属事務所 (OFFICES のコード; 省略時は OFFICE_CODE)"
    )


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: (
        Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)] | None
    ) = None
    roles: Annotated[list[Role], Field(min_length=1, max_length=6)] | None = None
    office: OfficeCode | None = Field(default=None, description="所属事務所 (OFFICES のコード)")
    active: bool | None = None


class StaffPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    login_id: str
    display_name: str
    roles: list[Role]
    organization: str | None
    office: str | None = None
    active: bool


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="有効期間 (秒)")


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    roles: str
    action: str
    outcome: str
    subject_atena_no: str | None
    resource: str
    request_id: str | None
    client_addr: str | None
    detail: dict[str, Any]
