"""The audit trail for supervisors and administrators (操作記録の点検)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.auth import AuditDep, Principal, require
from api.deps import PageDep, SessionDep
from api.params import AtenaNoQuery
from models.common import Page
from models.permissions import Permission
from models.security import AuditEventPublic
from services import audit_log

router = APIRouter(tags=["audit"])


@router.get("/audit-events", summary="操作記録を検索する (職員・宛名番号・操作・期間)")
async def search_audit_events(
    _: Annotated[Principal, require(Permission.AUDIT_READ)],
    session: SessionDep,
    audit: AuditDep,
    paging: PageDep,
    actor: Annotated[str | None, Query(max_length=64, description="操作した職員のログインID")] = None,
    subject: AtenaNoQuery = None,
    action: Annotated[str | None, Query(max_length=64, description="操作 (例: person.read)")] = None,
    outcome: Literal["success", "failure", "denied", "throttled"] | None = None,
    since: Annotated[datetime | None, Query(description="この日時以降 (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="この日時より前 (ISO 8601)")] = None,
) -> Page[AuditEventPublic]:
    rows, total = await audit_log.search(
        session=session,
        actor=actor,
        subject_atena_no=subject,
        action=action,
        outcome=outcome,
        since=since,
        until=until,
        offset=paging.offset,
        limit=paging.size,
    )
    audit.record("audit.search", detail={"actor": actor, "subject": subject, "action": action})
    items = [AuditEventPublic.model_validate(r) for r in rows]
    return Page[AuditEventPublic](items=items, total=total, page=paging.page, size=paging.size)
