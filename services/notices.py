"""Issuing notices: check, number, render, store — once per idempotency key, whatever the retries.

1. Check first, outside any transaction: the recipient, the data and every character against the typeface,
   so bad input is refused before it consumes a number.
2. Reserve: take the number and insert the `notice` row (data, recipient block, issuer lines) in one short
   transaction. The counter row stays locked only for that insert and the commit, so issuers of one kind
   queue for milliseconds, not for a render; numbers stay gapless (a failed reserve rolls its number back)
   and unique (the counter row lock, and uq_notice_number).
3. Render outside any transaction or pooled connection (in a worker process, see notices.pool).
4. Store the PDF insert-if-absent. A retry at any point finds the row by its key and renders the same
   stored data again: the same bytes, and the first stored PDF wins.

A notice that can never render (a character the typeface lacks, data its template refuses) is voided: its
number is recorded as a 欠番 with the reason, and NoticeVoided tells the caller. A render that fails for
any other reason (a crashed process) leaves the notice 作成中 until a retry completes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.errors import ProblemError
from models.notice import (
    NoticeCounter,
    NoticePdf,
    NoticePublic,
    NoticeRecord,
    NoticeState,
    NoticeVoid,
    VoidReason,
)
from models.registry import Insured, Person
from notices.catalogue import CATALOGUE, NoticeDataError, validate_data
from notices.models.common import Issuer
from notices.numbering import document_no, fiscal_year_of
from notices.pool import Renderer, render_in_thread
from notices.render import UnprintableCharacterError, check_printable, render_html, template_version

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class IssuedNotice:
    """A notice with its stored PDF."""

    record: NoticeRecord
    stored: NoticePdf

    def __getattr__(self, name: str) -> Any:
        """Everything else is the notice row's: id, document_no, kind, sequence, recipient_atena_no …"""
        return getattr(self.record, name)

    @property
    def pdf(self) -> bytes:
        return self.stored.pdf

    @property
    def sha256(self) -> str:
        return self.stored.sha256

    @property
    def pages(self) -> int:
        return self.stored.pages


class NoticeAlreadyCorrected(Exception):
    """A notice is corrected once; a further correction goes to the correcting notice."""

    def __init__(self, replacement_id: str, document_no: str) -> None:
        # Plain values: the row itself is expired by the rollback that carries this error out.
        self.replacement_id = replacement_id
        self.document_no = document_no
        super().__init__(f"already corrected by {replacement_id}")


class NoticeVoided(Exception):
    """The notice was numbered but can never render: its number is a recorded 欠番."""

    def __init__(self, record: NoticeRecord, void: NoticeVoid) -> None:
        self.record = record
        self.void = void
        super().__init__(
            f"{record.document_no} は作成できないため欠番としました ({void.detail})。"
            "内容を直して新しい通知書として発行してください"
        )


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
    sessions: Sessions,
    *,
    idempotency_key: str,
    kind: str,
    recipient_atena_no: str,
    issued_on: date,
    data: dict[str, Any],
    issuer: Issuer,
    issued_by: str,
    case_id: str | None = None,
    replaces_id: str | None = None,
    render: Renderer = render_in_thread,
) -> IssuedNotice:
    """Issue one notice (each step in a transaction of its own); the same key returns the notice issued
    before, or completes it. Raises NoticeDataError, UnprintableCharacterError or ProblemError before a
    number is taken, and NoticeVoided for a number that could not be printed after all."""
    record = await find(sessions, idempotency_key)
    if record is None:
        async with sessions() as session:
            recipient = await recipient_block(session, recipient_atena_no)
        fiscal_year = fiscal_year_of(issued_on)
        # Any number of the kind and year prints with the same characters, so number 1 stands in for it.
        typed = validate_data(
            kind,
            {
                **data,
                "recipient": recipient,
                "issue_date": issued_on,
                "document_no": document_no(kind, fiscal_year, 1),
            },
        )
        check_printable(render_html(kind, typed, issuer))
        record = await _reserve(
            sessions,
            NoticeRecord(
                id=uuid.uuid4().hex,
                kind=kind,
                fiscal_year=fiscal_year,
                sequence=0,  # taken in _reserve
                document_no="",
                idempotency_key=idempotency_key,
                case_id=case_id,
                recipient_atena_no=recipient_atena_no,
                insured_no=recipient["insured_no"],
                postal_code=recipient["postal_code"],
                issued_on=issued_on,
                issued_by=issued_by,
                template_version=template_version(kind),
                data=typed.model_dump(mode="json"),
                issuer=issuer.model_dump(mode="json"),
                replaces_id=replaces_id,
            ),
        )
    return await complete(sessions, record, render=render, actor=issued_by)


async def find(sessions: Sessions, idempotency_key: str) -> NoticeRecord | None:
    async with sessions() as session:
        return (
            await session.exec(select(NoticeRecord).where(NoticeRecord.idempotency_key == idempotency_key))
        ).first()


async def replacement_of(session: AsyncSession, notice_id: str) -> NoticeRecord | None:
    return (await session.exec(select(NoticeRecord).where(NoticeRecord.replaces_id == notice_id))).first()


async def _next_number(session: AsyncSession, kind: str, fiscal_year: int) -> int:
    result = await session.exec(
        insert(NoticeCounter)
        .values(kind=kind, fiscal_year=fiscal_year, last=1)
        .on_conflict_do_update(index_elements=["kind", "fiscal_year"], set_={"last": NoticeCounter.last + 1})
        .returning(NoticeCounter.last)
    )
    return int(result.scalar_one())


async def _reserve(sessions: Sessions, draft: NoticeRecord) -> NoticeRecord:
    """Number the notice and insert its row; a concurrent issuer with the same key gets that one row."""
    async with sessions() as session, session.begin():
        # Two attempts with one key (a retried activity while the first still runs) queue here.
        await session.exec(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))").bindparams(key=draft.idempotency_key)
        )  # type: ignore[call-overload]
        existing = (
            await session.exec(
                select(NoticeRecord).where(NoticeRecord.idempotency_key == draft.idempotency_key)
            )
        ).first()
        if existing is not None:
            return existing
        if draft.replaces_id is not None:
            # One correction per notice: concurrent correctors queue here, and the second sees the first.
            await session.exec(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))").bindparams(
                    key=f"notice-correction:{draft.replaces_id}"
                )
            )  # type: ignore[call-overload]
            replacement = await replacement_of(session, draft.replaces_id)
            if replacement is not None:
                raise NoticeAlreadyCorrected(replacement.id, replacement.document_no)
        # The counter row is locked from here to the commit: keep only the insert in between.
        draft.sequence = await _next_number(session, draft.kind, draft.fiscal_year)
        draft.document_no = document_no(draft.kind, draft.fiscal_year, draft.sequence)
        draft.data = {**draft.data, "document_no": draft.document_no}
        session.add(draft)
    return draft


async def complete(
    sessions: Sessions, record: NoticeRecord, *, render: Renderer = render_in_thread, actor: str = "system"
) -> IssuedNotice:
    """Render a numbered notice from its stored data and store the PDF; or void its number if it can
    never render. A notice already stored is returned as it is; a 欠番 raises NoticeVoided again."""
    async with sessions() as session:
        stored = await session.get(NoticePdf, record.id)
        void = await session.get(NoticeVoid, record.id) if stored is None else None
    if stored is not None:
        return IssuedNotice(record, stored)
    if void is not None:
        raise NoticeVoided(record, void)
    if record.issuer is None:  # only notices issued before 0007 lack it, and all of those have their PDF
        raise RuntimeError(f"notice {record.id} has no issuer lines to render")
    try:
        rendered = await render(record.kind, record.data, record.issuer)
    except (UnprintableCharacterError, NoticeDataError) as error:
        reason = (
            VoidReason.UNPRINTABLE
            if isinstance(error, UnprintableCharacterError)
            else VoidReason.DATA_INVALID
        )
        outcome = await _void(sessions, record, reason, str(error), actor)
        if isinstance(outcome, NoticePdf):  # another attempt stored it meanwhile (templates changed between)
            return IssuedNotice(record, outcome)
        raise NoticeVoided(record, outcome) from error
    async with sessions() as session, session.begin():
        await _lock_notice(session, record.id)
        await session.exec(
            insert(NoticePdf)
            .values(
                notice_id=record.id,
                pdf=rendered.pdf,
                sha256=rendered.sha256,
                pages=rendered.pages,
                template_version=rendered.template_version,
            )
            .on_conflict_do_nothing(index_elements=["notice_id"])
        )  # type: ignore[call-overload]
        stored = await session.get(NoticePdf, record.id)
    assert stored is not None
    return IssuedNotice(record, stored)


async def _lock_notice(session: AsyncSession, notice_id: str) -> None:
    """Storing a PDF and voiding a number exclude each other: one wins, the other sees it."""
    await session.exec(
        sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))").bindparams(key=f"notice-output:{notice_id}")
    )  # type: ignore[call-overload]


async def _void(
    sessions: Sessions, record: NoticeRecord, reason: VoidReason, detail: str, actor: str
) -> NoticeVoid | NoticePdf:
    """Record the 欠番 (once); or the PDF, if another attempt stored one first."""
    async with sessions() as session, session.begin():
        await _lock_notice(session, record.id)
        stored = await session.get(NoticePdf, record.id)
        if stored is not None:
            return stored
        await session.exec(
            insert(NoticeVoid)
            .values(notice_id=record.id, reason=reason.value, detail=detail[:2000], voided_by=actor[:32])
            .on_conflict_do_nothing(index_elements=["notice_id"])
        )  # type: ignore[call-overload]
        void = await session.get(NoticeVoid, record.id)
    assert void is not None
    return void


# ------------------------------------------------------------------------------------------------ reading


async def describe(session: AsyncSession, records: list[NoticeRecord]) -> list[NoticePublic]:
    """The public view of each notice: issued (with its PDF's hash and pages), 作成中, or 欠番."""
    ids = [r.id for r in records]
    pdfs = {
        row.notice_id: row
        for row in (
            await session.exec(
                select(
                    NoticePdf.notice_id, NoticePdf.sha256, NoticePdf.pages, NoticePdf.template_version
                ).where(col(NoticePdf.notice_id).in_(ids))
            )
        ).all()
    }
    voids = {
        v.notice_id: v
        for v in (await session.exec(select(NoticeVoid).where(col(NoticeVoid.notice_id).in_(ids)))).all()
    }
    views = []
    for record in records:
        pdf, void = pdfs.get(record.id), voids.get(record.id)
        state = NoticeState.ISSUED if pdf else NoticeState.VOID if void else NoticeState.RENDERING
        kind = CATALOGUE.get(record.kind)
        views.append(
            NoticePublic.model_validate(
                {
                    **record.model_dump(exclude={"data", "issuer"}),
                    "title": kind.title if kind else record.kind,
                    "state": state,
                    "template_version": pdf.template_version if pdf else record.template_version,
                    "sha256": pdf.sha256 if pdf else None,
                    "pages": pdf.pages if pdf else None,
                    "void_reason": void.reason if void else None,
                    "void_detail": void.detail if void else None,
                }
            )
        )
    return views


async def unfinished(session: AsyncSession) -> list[tuple[NoticeRecord, NoticeVoid | None]]:
    """Numbers without a stored PDF, oldest first: 作成中 (void None) and 欠番 (with their reason)."""
    rows = await session.exec(
        select(NoticeRecord, NoticeVoid)
        .outerjoin(NoticeVoid, col(NoticeVoid.notice_id) == col(NoticeRecord.id))
        .where(~sa.exists().where(col(NoticePdf.notice_id) == col(NoticeRecord.id)))
        .order_by(col(NoticeRecord.kind), col(NoticeRecord.fiscal_year), col(NoticeRecord.sequence))
    )
    return [(record, void) for record, void in rows.all()]
