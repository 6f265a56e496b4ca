"""Issuing a notice from a workflow: idempotent by the workflow's key, so a retried activity never issues
twice (and never takes a second 文書番号).

Served by the notice worker (`kaigo notice-worker`, task queue Settings.notice_task_queue), which renders
in processes of its own; registered elsewhere it renders in a thread, as before.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from kaigo.config import Settings
from kaigo.errors import ProblemError
from models.notice import VoidReason
from models.procedure import IssueNoticeRequest, NoticeIssued
from notices.catalogue import NoticeDataError, UnknownNoticeKind
from notices.models.common import Issuer
from notices.pool import Renderer, render_in_thread
from notices.render import UnprintableCharacterError
from services import notices

# ApplicationError types a workflow can tell apart; none of them gets better by retrying.
NOTICE_UNPRINTABLE = "NoticeUnprintable"
NOTICE_DATA_INVALID = "NoticeDataInvalid"


class NoticeActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        render: Renderer = render_in_thread,
    ) -> None:
        self._sessions = sessions
        self._issuer = Issuer.from_settings(settings)
        self._render = render

    @activity.defn
    async def issue_notice(self, request: IssueNoticeRequest) -> NoticeIssued:
        try:
            issued = await notices.issue(
                self._sessions,
                idempotency_key=request.idempotency_key,
                kind=request.kind,
                recipient_atena_no=request.recipient_atena_no,
                issued_on=request.issued_on,
                data=request.data,
                issuer=self._issuer,
                issued_by="system",
                case_id=request.case_id,
                replaces_id=request.replaces_notice_id,
                render=self._render,
            )
        except notices.NoticeVoided as error:
            kind = NOTICE_UNPRINTABLE if error.void.reason == VoidReason.UNPRINTABLE else NOTICE_DATA_INVALID
            details = {"notice_id": error.record.id, "document_no": error.record.document_no}
            raise ApplicationError(str(error), details, type=kind, non_retryable=True) from error
        except UnprintableCharacterError as error:  # refused before a number was taken
            raise ApplicationError(
                f"{error} (文書番号は使っていません。宛名または内容を直してください)",
                type=NOTICE_UNPRINTABLE,
                non_retryable=True,
            ) from error
        except (NoticeDataError, UnknownNoticeKind) as error:
            raise ApplicationError(
                f"通知書の内容が正しくないため発行できません (文書番号は使っていません): {error}",
                type=NOTICE_DATA_INVALID,
                non_retryable=True,
            ) from error
        except ProblemError as error:  # no such person, not insured: retrying will not change it
            raise ApplicationError(error.detail, type=type(error).__name__, non_retryable=True) from error
        return NoticeIssued(notice_id=issued.id, document_no=issued.document_no, sha256=issued.sha256)
