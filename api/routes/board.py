"""介護認定審査会: panels and meetings (secretariat); recusals and anonymised case files (members)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import AuditDep, Principal, require
from api.deps import ResourcesDep, SessionDep
from api.unit_of_work import transaction
from kaigo.errors import ProblemError
from models.board import (
    BoardAllocation,
    BoardMaterial,
    BoardMeeting,
    BoardPanel,
    BoardPanelMember,
    BoardRecusal,
    BoardVote,
    MeetingCreate,
    MeetingPublic,
    PanelCreate,
    PanelMemberIn,
    PanelPublic,
    PanelRole,
    RecusalCreate,
)
from models.case import CaseType, case_id_for
from models.certification import CertificationApplication, Recuse
from models.certification_tasks import CertificationTask
from models.common import utcnow
from models.permissions import Permission, Role
from models.security import Staff
from models.survey import SURVEY_SCHEMA_VERSION, NoteText, bounded_text, get_schema
from models.task import Task, TaskState
from rules import board as board_rules
from rules.board import MIN_PANEL_SIZE
from rules.primary_determination import CareLevel
from services import workflow_updates
from workflows.certification import CertificationWorkflow

router = APIRouter(prefix="/board", tags=["board"])

OpinionPoints = bounded_text(2000, multiline=True)

Secretariat = Annotated[Principal, require(Permission.BOARD_MANAGE)]
Member = Annotated[Principal, require(Permission.BOARD_DECIDE)]


@router.post("/panels", status_code=status.HTTP_201_CREATED, summary="合議体を設置する (委員と合議体長)")
async def create_panel(
    data: PanelCreate, _: Secretariat, session: SessionDep, audit: AuditDep
) -> PanelPublic:
    chairs = [m for m in data.members if m.role is PanelRole.CHAIR]
    if len(chairs) != 1:
        raise ProblemError(422, "panel-chair", "合議体長を1人指定してください", field="members")
    if len({m.login_id for m in data.members}) != len(data.members) or len(data.members) < MIN_PANEL_SIZE:
        raise ProblemError(
            422, "panel-members", f"委員は重複なく{MIN_PANEL_SIZE}人以上にしてください", field="members"
        )
    for member in data.members:
        staff = await session.get(Staff, member.login_id)
        if staff is None or not staff.active or Role.BOARD_MEMBER not in staff.roles:
            raise ProblemError(
                422,
                "panel-member-role",
                f"{member.login_id} さんは審査会委員のアカウントではありません",
                field="members",
            )
    panel = BoardPanel(name=data.name)
    session.add(panel)
    try:
        await session.flush()
    except sa.exc.IntegrityError as exc:
        raise ProblemError(409, "panel-exists", f"合議体「{data.name}」は既にあります", field="name") from exc
    for member in data.members:
        session.add(BoardPanelMember(panel_id=panel.id, **member.model_dump()))  # type: ignore[arg-type]
    audit.record("board.panel.create", detail={"panel": data.name})
    return PanelPublic(id=panel.id, name=panel.name, members=data.members)  # type: ignore[arg-type]


@router.get("/panels", summary="合議体の一覧")
async def list_panels(_: Secretariat, session: SessionDep) -> list[PanelPublic]:
    panels = (await session.exec(select(BoardPanel).order_by(col(BoardPanel.id)))).all()
    members = (await session.exec(select(BoardPanelMember))).all()
    return [
        PanelPublic(
            id=p.id,  # type: ignore[arg-type]
            name=p.name,
            members=[
                PanelMemberIn.model_validate(m, from_attributes=True) for m in members if m.panel_id == p.id
            ],
        )
        for p in panels
    ]


@router.post("/meetings", status_code=status.HTTP_201_CREATED, summary="審査会の開催日を登録する")
async def create_meeting(
    data: MeetingCreate, _: Secretariat, session: SessionDep, audit: AuditDep
) -> MeetingPublic:
    if await session.get(BoardPanel, data.panel_id) is None:
        raise ProblemError(404, "panel-not-found", f"合議体 {data.panel_id} はありません", field="panel_id")
    if data.simplified_capacity > data.capacity:
        raise ProblemError(
            422, "capacity", "簡素化対象の件数は全体の件数以下にしてください", field="simplified_capacity"
        )
    meeting = BoardMeeting(**data.model_dump())
    session.add(meeting)
    await session.flush()
    audit.record(
        "board.meeting.create", detail={"meeting_id": meeting.id, "held_on": data.held_on.isoformat()}
    )
    return MeetingPublic.model_validate(meeting)


@router.get("/meetings", summary="審査会の開催予定と割当件数")
async def list_meetings(_: Secretariat, session: SessionDep) -> list[MeetingPublic]:
    counts = dict(
        (
            await session.exec(
                select(BoardAllocation.meeting_id, sa.func.count()).group_by(col(BoardAllocation.meeting_id))
            )
        ).all()
    )
    meetings = (await session.exec(select(BoardMeeting).order_by(col(BoardMeeting.held_on)))).all()
    return [
        MeetingPublic.model_validate({**m.model_dump(), "allocated": counts.get(m.id, 0)}) for m in meetings
    ]


@router.post("/recusals", status_code=status.HTTP_201_CREATED, summary="審査会委員が回避を申し出る")
async def declare_recusal(
    data: RecusalCreate, principal: Member, resources: ResourcesDep, audit: AuditDep
) -> dict[str, str]:
    async with transaction(resources, audit) as session:
        application = await session.get(CertificationApplication, data.application_id)
        if application is None:
            raise ProblemError(404, "application-not-found", "申請がありません", field="application_id")
        session.add(
            BoardRecusal(application_id=data.application_id, login_id=principal.login_id, reason=data.reason)
        )
        try:
            await session.flush()
        except sa.exc.IntegrityError as exc:
            raise ProblemError(409, "recused", "この申請については既に回避を申し出ています") from exc
        audit.record("board.recusal", detail={"application_id": data.application_id})
    # Already on a meeting's agenda: the workflow withdraws the member's vote task (no transaction held).
    recusal = Recuse(member=principal.login_id, actor=principal.login_id)
    await workflow_updates.execute(
        resources.temporal, application.workflow_id, CertificationWorkflow.recuse_member, recusal
    )
    return {"application_id": data.application_id, "login_id": principal.login_id}


class BoardSeatView(BaseModel):
    login_id: str
    chair: bool
    status: str = Field(description="voted: 判定済み / pending: 未判定 / recused: 回避 / absent: 欠席")
    level: str | None = Field(default=None, description="判定した区分 (合議体長にのみ表示)")
    validity_months: int | None = Field(default=None, description="有効期間 (月) (合議体長にのみ表示)")


class BoardTally(BaseModel):
    outcome: str = Field(description="decided / no_quorum / no_majority (現在の票で締めくくった場合)")
    level: str | None
    validity_months: int | None
    reason: str
    primary_level: str | None = Field(description="一次判定の区分 (変更する場合は理由が必要)")


class BoardCaseFile(BaseModel):
    """審査会資料: what the board judges from, for one meeting. Anonymised: the case is 第n号 of the meeting's
    agenda; no name, address, birth date, 被保険者番号, 宛名番号 or 個人番号, and none of the free-text fields
    that could carry them (the secretariat prepares 特記事項 for the board separately)."""

    application_id: str
    meeting_held_on: date | None = Field(description="審査会の開催日")
    agenda_no: int | None = Field(description="審査会での番号 (第n号)")
    application_kind: str = Field(description="申請区分")
    age_group: str = Field(description="被保険者の区分 (第1号・第2号)")
    previous_level: str | None = Field(description="前回の要介護状態区分")
    primary_result: dict[str, Any] | None = Field(description="一次判定 (区分・基準時間・中間評価項目)")
    survey_answers: dict[str, Any] | None = Field(description="認定調査の基本調査 (74項目) と自立度")
    opinion: dict[str, Any] | None = Field(description="主治医意見書の判定に使う項目")
    marked_notes: dict[str, str] = Field(
        description="事務局が氏名等を確認して審査会資料に載せた特記事項 (調査項目番号 → 本文)"
    )
    opinion_points: str | None = Field(description="事務局が確認して載せた主治医意見書の要点")
    panel: str | None = Field(description="合議体")
    seats: list[BoardSeatView] = Field(description="委員ごとの状況 (判定済み・未判定・回避)")
    tally: BoardTally | None = Field(description="集計 (合議体長にのみ表示)")


# What of each record the board reads: item answers and ratings, never identities or free text.
_PRIMARY_FIELDS = (
    "level", "total_minutes", "meal_minutes", "excretion_minutes", "transfer_minutes", "hygiene_minutes",
    "indirect_minutes", "bpsd_minutes", "rehabilitation_minutes", "medical_minutes", "group1_score",
    "group2_score", "group3_score", "group4_score", "group5_score", "stability", "dementia_probability",
)  # fmt: skip
_SURVEY_FIELDS = ("schema_version", "answers", "physical_independence", "dementia_independence")
_OPINION_FIELDS = (
    "physical_independence", "dementia_independence", "stability", "short_term_memory", "decision_making",
    "communication", "eating", "specified_disease",
)  # fmt: skip


def _only(record: dict[str, Any] | None, fields: tuple[str, ...]) -> dict[str, Any] | None:
    return None if record is None else {k: record[k] for k in fields if k in record}


@router.get("/cases/{application_id}", summary="審査会資料 (匿名化; 担当委員のみ)")
async def case_file(
    application_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    principal: Member,
    session: SessionDep,
    audit: AuditDep,
) -> BoardCaseFile:
    application = await session.get(CertificationApplication, application_id)
    seated = (
        await session.exec(
            select(Task.id).where(
                Task.case_id == case_id_for(CaseType.CERTIFICATION, application_id),
                Task.assignee == principal.login_id,
                col(Task.kind).in_([CertificationTask.BOARD_VOTE, CertificationTask.BOARD_CLOSE]),
            )
        )
    ).first()
    if application is None or seated is None:
        raise ProblemError(404, "case-not-found", "担当する審査案件ではありません", field="application_id")
    allocation = (
        await session.exec(
            select(BoardAllocation, BoardMeeting)
            .join(BoardMeeting)
            .where(BoardAllocation.application_id == application_id)
            .order_by(col(BoardMeeting.held_on).desc())
        )
    ).first()
    audit.record("board.case_file", subject=application.atena_no, detail={"application_id": application_id})
    age_group = "第1号 (65歳以上)" if application.category == "1" else "第2号 (40〜64歳)"
    material = await session.get(BoardMaterial, application_id)
    panel, seats, tally = (
        await _seats(session, application, allocation[0], allocation[1], principal.login_id)
        if allocation
        else (None, [], None)
    )
    return BoardCaseFile(
        application_id=application_id,
        meeting_held_on=allocation[1].held_on if allocation else None,
        agenda_no=allocation[0].agenda_no if allocation else None,
        application_kind=application.kind,
        age_group=age_group,
        previous_level=application.previous_level,
        primary_result=_only(application.primary_result, _PRIMARY_FIELDS),
        survey_answers=_only(application.survey, _SURVEY_FIELDS),
        opinion=_only(application.opinion, _OPINION_FIELDS),
        marked_notes=material.notes if material else {},
        opinion_points=material.opinion_points if material else None,
        panel=panel,
        seats=seats,
        tally=tally,
    )


async def _seats(
    session: AsyncSession,
    application: CertificationApplication,
    allocation: BoardAllocation,
    meeting: BoardMeeting,
    reader: str,
) -> tuple[str | None, list[BoardSeatView], BoardTally | None]:
    """Each panel member's state on this case at this meeting; votes and the tally only for the chair."""
    panel = await session.get(BoardPanel, meeting.panel_id)
    members = (
        await session.exec(select(BoardPanelMember).where(BoardPanelMember.panel_id == meeting.panel_id))
    ).all()
    reference = f"審査会 {meeting.held_on:%m/%d} 第{allocation.agenda_no}号"
    vote_tasks = {
        t.assignee: t
        for t in (
            await session.exec(
                select(Task).where(
                    Task.case_id == application.workflow_id,
                    Task.kind == CertificationTask.BOARD_VOTE,
                    Task.reference == reference,
                )
            )
        ).all()
    }
    ledger = (
        await session.exec(
            select(BoardVote)
            .where(BoardVote.application_id == application.id, BoardVote.meeting_id == meeting.id)
            .order_by(col(BoardVote.id))
        )
    ).all()
    votes = {v.member: v for v in ledger}  # a changed vote is a later row: the last one counts
    declared = set(
        (
            await session.exec(
                select(BoardRecusal.login_id).where(BoardRecusal.application_id == application.id)
            )
        ).all()
    )
    chair = next((m.login_id for m in members if m.role == PanelRole.CHAIR), None)
    is_chair = reader == chair
    seats = []
    for member in sorted(members, key=lambda m: (m.role != PanelRole.CHAIR, m.login_id)):
        task = vote_tasks.get(member.login_id)
        vote = votes.get(member.login_id)
        if task is None or (member.login_id in declared and vote is None):
            status = "recused"
        elif vote is not None:
            status = "voted"
        else:
            status = "pending" if task.state == TaskState.OPEN else "absent"
        shown = vote if is_chair and status == "voted" else None
        seats.append(
            BoardSeatView(
                login_id=member.login_id,
                chair=member.role == PanelRole.CHAIR,
                status=status,
                level=shown.level if shown else None,
                validity_months=shown.validity_months if shown else None,
            )
        )
    tally = None
    if is_chair and chair is not None:
        counted = [
            board_rules.Vote(v.member, CareLevel(v.level), v.validity_months)
            for v in votes.values()
            if v.member not in declared
        ]
        decision = board_rules.decide(counted, chair, max(len(members), MIN_PANEL_SIZE))
        primary = (application.primary_result or {}).get("level")
        tally = BoardTally(
            outcome=decision.outcome,
            level=decision.level,
            validity_months=decision.validity_months,
            reason=decision.reason,
            primary_level=primary,
        )
    return panel.name if panel else None, seats, tally


# ------------------------------------------------------------------------------------ board material


class MaterialSource(BaseModel):
    """What the secretariat prepares the board material from: the survey's 特記事項 as written (they may name
    people) and what has been marked for the board so far."""

    application_id: str
    survey_notes: dict[str, str] = Field(
        description="認定調査の特記事項 (調査項目番号 → 本文; 調査員の記載のまま)"
    )
    marked_notes: dict[str, str] = Field(description="審査会資料に載せる特記事項 (氏名等を確認・修正済み)")
    opinion_points: str | None = Field(description="審査会資料に載せる主治医意見書の要点")
    prepared_by: str | None
    prepared_at: datetime | None


class MaterialUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"marked_notes": {"2-4": "箸の使用が難しく、一部介助を要する。"}, "opinion_points": None}
            ]
        },
    )

    marked_notes: dict[Annotated[str, StringConstraints(pattern=r"^[0-9]-[0-9]{1,2}$")], NoteText] = Field(
        default_factory=dict, max_length=80, description="審査会資料に載せる特記事項 (調査項目番号 → 本文)"
    )
    opinion_points: OpinionPoints | None = Field(default=None, description="主治医意見書の要点")


async def _application(session: AsyncSession, application_id: str) -> CertificationApplication:
    application = await session.get(CertificationApplication, application_id)
    if application is None:
        raise ProblemError(404, "application-not-found", "申請がありません", field="application_id")
    return application


@router.get("/materials/{application_id}", summary="審査会資料の準備: 特記事項の原文と資料に載せる内容")
async def get_material(
    application_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    _: Secretariat,
    session: SessionDep,
    audit: AuditDep,
) -> MaterialSource:
    application = await _application(session, application_id)
    material = await session.get(BoardMaterial, application_id)
    audit.record(
        "board.material.read", subject=application.atena_no, detail={"application_id": application_id}
    )
    return MaterialSource(
        application_id=application_id,
        survey_notes=dict((application.survey or {}).get("notes") or {}),
        marked_notes=material.notes if material else {},
        opinion_points=material.opinion_points if material else None,
        prepared_by=material.prepared_by if material else None,
        prepared_at=material.prepared_at if material else None,
    )


@router.put("/materials/{application_id}", summary="審査会資料に載せる特記事項・意見書の要点を登録する")
async def put_material(
    application_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    data: MaterialUpdate,
    principal: Secretariat,
    session: SessionDep,
    audit: AuditDep,
) -> MaterialSource:
    application = await _application(session, application_id)
    if application.survey is None:
        raise ProblemError(
            409, "survey-missing", "認定調査の結果が届いてから準備できます", field="application_id"
        )
    keys = set(get_schema(application.survey.get("schema_version", SURVEY_SCHEMA_VERSION)).note_keys)
    unknown = sorted(set(data.marked_notes) - keys)
    if unknown:
        raise ProblemError(
            422,
            "note-key",
            f"特記事項の項目番号が正しくありません: {', '.join(unknown)}",
            field="marked_notes",
        )
    material = await session.get(BoardMaterial, application_id) or BoardMaterial(
        application_id=application_id, prepared_by=principal.login_id
    )
    material.notes = dict(data.marked_notes)
    material.opinion_points = data.opinion_points
    material.prepared_by = principal.login_id
    material.prepared_at = utcnow()
    session.add(material)
    await session.flush()
    audit.record(
        "board.material.prepare",
        subject=application.atena_no,
        detail={"application_id": application_id, "notes": sorted(data.marked_notes)},
    )
    return MaterialSource(
        application_id=application_id,
        survey_notes=dict(application.survey.get("notes") or {}),
        marked_notes=material.notes,
        opinion_points=material.opinion_points,
        prepared_by=material.prepared_by,
        prepared_at=material.prepared_at,
    )
