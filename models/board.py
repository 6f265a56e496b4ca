"""介護認定審査会: panels (合議体), members, meetings, case allocation, recusals and the vote ledger."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.common import RowId, utcnow
from models.survey import Text100


class PanelRole(StrEnum):
    CHAIR = "chair"  # 合議体長
    MEMBER = "member"


class BoardPanel(SQLModel, table=True):
    __tablename__ = "board_panel"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class BoardPanelMember(SQLModel, table=True):
    __tablename__ = "board_panel_member"
    __table_args__ = (sa.UniqueConstraint("panel_id", "login_id", name="uq_board_panel_member"),)

    id: int | None = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="board_panel.id", ondelete="CASCADE")
    login_id: str = Field(foreign_key="staff.login_id", max_length=32)
    role: str = Field(sa_type=sa.String(8))
    affiliation: str | None = Field(default=None, max_length=100)  # 所属事業所: recusal for its own clients


class BoardMeeting(SQLModel, table=True):
    __tablename__ = "board_meeting"
    __table_args__ = (sa.Index("ix_board_meeting_date", "held_on"),)

    id: int | None = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="board_panel.id")
    held_on: date
    capacity: int = 30  # cases per meeting (≈30 standard)
    simplified_capacity: int = 10  # of which simplified-review cases (≈10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class BoardAllocation(SQLModel, table=True):
    """One case on one meeting's agenda (re-allocated when a meeting had no quorum)."""

    __tablename__ = "board_allocation"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "meeting_id", name="uq_board_allocation"),
        sa.UniqueConstraint("meeting_id", "agenda_no", name="uq_board_allocation_agenda"),
        sa.Index("ix_board_allocation_application", "application_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("certification_application.id", ondelete="CASCADE"), nullable=False
        )
    )
    meeting_id: int = Field(foreign_key="board_meeting.id")
    agenda_no: int  # 第n号 on the meeting's agenda: how the board refers to the case (no personal data)
    simplified: bool = False
    allocated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class BoardRecusal(SQLModel, table=True):
    """A member declared that they must not judge this case (relative, own client, …)."""

    __tablename__ = "board_recusal"
    __table_args__ = (sa.UniqueConstraint("application_id", "login_id", name="uq_board_recusal"),)

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("certification_application.id", ondelete="CASCADE"), nullable=False
        )
    )
    login_id: str = Field(max_length=32)
    reason: str = Field(max_length=100)
    declared_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class BoardVote(SQLModel, table=True):
    """Vote ledger: insert-only (a trigger refuses UPDATE and DELETE); a changed vote is a new row."""

    __tablename__ = "board_vote"
    __table_args__ = (sa.UniqueConstraint("vote_key", name="uq_board_vote_key"),)

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=True)
    )
    vote_key: str = Field(max_length=80)  # the task id of the vote: an activity retry inserts nothing
    application_id: str = Field(max_length=32)
    meeting_id: int
    member: str = Field(max_length=32)
    level: str = Field(max_length=8)
    validity_months: int | None = None
    opinion: str | None = Field(default=None, max_length=400)
    at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class BoardMaterial(SQLModel, table=True):
    """What the secretariat marked for the board from one case's 特記事項 and 主治医意見書, after checking the
    text for names and other identifying details (the board never reads the raw free text)."""

    __tablename__ = "board_material"

    application_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("certification_application.id", ondelete="CASCADE"), primary_key=True
        )
    )
    notes: dict[str, str] = Field(default_factory=dict, sa_column=sa.Column(JSONB, nullable=False))
    opinion_points: str | None = Field(default=None, max_length=2000)
    prepared_by: str = Field(max_length=32)
    prepared_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


# --------------------------------------------------------------------------------------------- schemas


class PanelMemberIn(BaseModel):
    login_id: str = PydanticField(pattern=r"^[a-z0-9][a-z0-9._-]{2,31}$")
    role: PanelRole
    affiliation: Text100 | None = None


class PanelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text100
    members: list[PanelMemberIn] = PydanticField(min_length=3, max_length=15)


class PanelPublic(BaseModel):
    id: int
    name: str
    members: list[PanelMemberIn]


class MeetingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    panel_id: RowId
    held_on: date
    capacity: int = PydanticField(default=30, ge=1, le=60)
    simplified_capacity: int = PydanticField(default=10, ge=0, le=60)


class MeetingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    panel_id: int
    held_on: date
    capacity: int
    simplified_capacity: int
    allocated: int = 0


class RecusalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application_id: str = PydanticField(pattern=r"^[0-9a-f]{32}$")
    reason: Text100
