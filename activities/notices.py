"""Issuing a notice from a workflow: idempotent by the workflow's key, so a retried activity never issues
twice (and never takes a second 文書番号)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from kaigo.config import Settings
from kaigo.errors import ProblemError
from models.procedure import IssueNoticeRequest, NoticeIssued
from notices.catalogue import NoticeDataError
from notices.models.common import Issuer
from notices.render import UnprintableCharacterError
from services import notices


class NoticeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._issuer = Issuer.from_settings(settings)

    @activity.defn
    async def issue_notice(self, request: IssueNoticeRequest) -> NoticeIssued:
        try:
            async with self._sessions() as session, session.begin():
                record = await notices.issue(
                    session=session,
                    idempotency_key=request.idempotency_key,
                    kind=request.kind,
                    recipient_atena_no=request.recipient_atena_no,
                    issued_on=request.issued_on,
                    data=request.data,
                    issuer=self._issuer,
                    issued_by="system",
                    case_id=request.case_id,
                    replaces_id=request.replaces_notice_id,
                )
        except (NoticeDataError, UnprintableCharacterError, ProblemError) as error:
            # Wrong data will not get better by retrying: fail loudly, the case shows it in the Temporal UI.
            raise ApplicationError(str(error), type=type(error).__name__, non_retryable=True) from error
        return NoticeIssued(notice_id=record.id, document_no=record.document_no, sha256=record.sha256)
