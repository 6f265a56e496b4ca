"""開示請求 (disclosure, DOMAIN.md §7): everything stored about one person, and who accessed it when."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.security.field_crypto import FieldCipher
from models.certification import CertificationApplication
from models.notice import NoticeRecord
from models.registry import Insured, InsuredPublic
from models.security import AuditEvent
from models.task import Task
from services import mynumber, registry


class AccessRecord(BaseModel):
    at: datetime
    actor: str
    action: str
    outcome: str


class TaskRecord(BaseModel):
    case_id: str
    kind: str
    state: str
    created_at: datetime
    closed_at: datetime | None


class ApplicationRecord(BaseModel):
    id: str
    kind: str
    applied_on: date
    state: str
    decision: dict[str, object] | None


class NoticeSummary(BaseModel):
    kind: str
    document_no: str
    issued_on: date


class DisclosureReport(BaseModel):
    generated_at: datetime
    request_no: str  # 開示請求の受付番号: the request this report answers
    atena_no: str
    person: dict[str, object]
    # The resident's own 個人番号 in full (their disclosure must show their data) when the issuing staff
    # hold mynumber:read, else masked; the full number leaves only against a recorded 受付番号.
    my_number: str | None
    insured: InsuredPublic | None
    applications: list[ApplicationRecord]
    notices: list[NoticeSummary]
    tasks: list[TaskRecord]
    accesses: list[AccessRecord]


async def build_report(
    *,
    session: AsyncSession,
    cipher: FieldCipher,
    atena_no: str,
    request_no: str,
    full_my_number: bool,
    now: datetime,
) -> DisclosureReport:
    person = await registry.get_person(session=session, atena_no=atena_no)
    insured = (await session.exec(select(Insured).where(Insured.atena_no == atena_no))).first()
    tasks = (
        await session.exec(
            select(Task).where(Task.subject_atena_no == atena_no).order_by(col(Task.created_at))
        )
    ).all()
    applications = (
        await session.exec(
            select(CertificationApplication)
            .where(CertificationApplication.atena_no == atena_no)
            .order_by(col(CertificationApplication.applied_on))
        )
    ).all()
    notices = (
        await session.exec(
            select(NoticeRecord)
            .where(NoticeRecord.recipient_atena_no == atena_no)
            .order_by(col(NoticeRecord.issued_on))
        )
    ).all()
    accesses = (
        await session.exec(
            select(AuditEvent).where(AuditEvent.subject_atena_no == atena_no).order_by(col(AuditEvent.id))
        )
    ).all()
    number = mynumber.reveal(person, cipher) if full_my_number else mynumber.masked(person, cipher)
    return DisclosureReport(
        generated_at=now,
        request_no=request_no,
        atena_no=atena_no,
        person=person.model_dump(
            exclude={"kana_key", "mynumber_ciphertext", "mynumber_key_id", "mynumber_index"}
        ),
        my_number=number,
        insured=registry.insured_public(insured, person) if insured else None,
        applications=[ApplicationRecord.model_validate(a, from_attributes=True) for a in applications],
        notices=[NoticeSummary.model_validate(n, from_attributes=True) for n in notices],
        tasks=[TaskRecord.model_validate(t, from_attributes=True) for t in tasks],
        accesses=[AccessRecord.model_validate(a, from_attributes=True) for a in accesses],
    )
