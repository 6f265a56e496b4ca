"""Issuing notices: number, render, store — once per idempotency key, whatever the retries.

Numbers are sequential per kind and fiscal year with no gaps and no duplicates under concurrency: the
counter row is incremented in the same transaction that stores the notice, so a failed issue gives its
number back on rollback, and concurrent issuers of one kind queue on the counter row.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from pypdf import PdfReader
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.errors import ProblemError
from models.notice import NoticeCounter, NoticeRecord
from models.registry import Insured, Person
from notices.catalogue import get_kind, validate_data
from notices.models.common import Issuer
from notices.numbering import document_no, fiscal_year_of
from notices.render import render_notice


async def _next_number(session: AsyncSession, kind: str, fiscal_year: int) -> int:
    result = await session.exec(
        insert(NoticeCounter)
        .values(kind=kind, fiscal_year=fiscal_year, last=1)
        .on_conflict_do_update(index_elements=["kind", "fiscal_year"], set_={"last": NoticeCounter.last + 1})
        .returning(NoticeCounter.last)
    )
    return int(result.scalar_one())


async def recipient_block(session: AsyncSession, atena_no: str) -> dict[str, Any]:
    """The window-envelope block, read from the registry at issue time (never carried in workflow history)."""
    person = await session.get(Person, atena_no)
    if person is None:
        raise ProblemError(404, "person-not-found", f"宛名番号 {atena_no} の宛名は登録されていません")
    insured = (await session.exec(select(Insured).where(Insured.atena_no == atena_no))).first()
    if insured is None:
        raise ProblemError(422, "not-insured", "被保険者番号のない宛名には通知を発行できません")
    return {
        "postal_code": person.postal_code,
        "address": person.address,
        "address_extra": person.address_extra,
        "name": person.name_kanji,
        "insured_no": insured.insured_no,
    }


async def issue(
    *,
    session: AsyncSession,
    idempotency_key: str,
    kind: str,
    recipient_atena_no: str,
    issued_on: date,
    data: dict[str, Any],
    issuer: Issuer,
    issued_by: str,
    case_id: str | None = None,
    replaces_id: str | None = None,
) -> NoticeRecord:
    """Issue one notice in the caller's transaction; the same key returns the notice issued before."""
    get_kind(kind)  # unknown kinds fail before a number is taken
    await session.exec(
        sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))").bindparams(key=idempotency_key)
    )  # type: ignore[call-overload]
    existing = (
        await session.exec(select(NoticeRecord).where(NoticeRecord.idempotency_key == idempotency_key))
    ).first()
    if existing is not None:
        return existing
    recipient = await recipient_block(session, recipient_atena_no)
    fiscal_year = fiscal_year_of(issued_on)
    sequence = await _next_number(session, kind, fiscal_year)
    number = document_no(kind, fiscal_year, sequence)
    typed = validate_data(
        kind, {**data, "recipient": recipient, "document_no": number, "issue_date": issued_on}
    )
    rendered = await asyncio.to_thread(render_notice, kind, typed, issuer)  # CPU work off the event loop
    record = NoticeRecord(
        id=uuid.uuid4().hex,
        kind=kind,
        fiscal_year=fiscal_year,
        sequence=sequence,
        document_no=number,
        idempotency_key=idempotency_key,
        case_id=case_id,
        recipient_atena_no=recipient_atena_no,
        insured_no=recipient["insured_no"],
        postal_code=recipient["postal_code"],
        issued_on=issued_on,
        issued_by=issued_by,
        template_version=rendered.template_version,
        data=typed.model_dump(mode="json"),
        pdf=rendered.pdf,
        sha256=hashlib.sha256(rendered.pdf).hexdigest(),
        pages=len(PdfReader(io.BytesIO(rendered.pdf)).pages),
        replaces_id=replaces_id,
    )
    session.add(record)
    await session.flush()
    return record
