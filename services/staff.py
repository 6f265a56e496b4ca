"""Staff accounts and login checks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.concurrency import run_in_threadpool

from kaigo.errors import ProblemError
from kaigo.security.passwords import hash_password, password_problem, verify_password
from models.common import utcnow
from models.security import AuditEvent, Staff, StaffCreate, StaffUpdate

LOGIN_ACTION = "auth.login"


def staff_not_found(login_id: str) -> ProblemError:
    return ProblemError(404, "staff-not-found", f"職員 {login_id} は登録されていません", field="login_id")


def check_office(office: str | None, offices: Mapping[str, str]) -> None:
    """An office code must be one of the configured offices (OFFICES)."""
    if office is not None and office not in offices:
        names = "、".join(f"{code} ({label})" for code, label in offices.items())
        raise ProblemError(422, "office-unknown", f"事務所は次のいずれかです: {names}", field="office")


async def create_staff(*, session: AsyncSession, data: StaffCreate) -> Staff:
    problem = password_problem(data.password)
    if problem:
        raise ProblemError(422, "weak-password", problem, field="password")
    if await session.get(Staff, data.login_id) is not None:
        raise ProblemError(
            409, "staff-exists", f"ログインID {data.login_id} は既に使われています", field="login_id"
        )
    staff = Staff(
        login_id=data.login_id,
        display_name=data.display_name,
        password_hash=await run_in_threadpool(hash_password, data.password),
        roles=[str(r) for r in dict.fromkeys(data.roles)],
        organization=data.organization,
        office=data.office,
    )
    session.add(staff)
    await session.flush()
    return staff


async def update_staff(*, session: AsyncSession, login_id: str, data: StaffUpdate) -> Staff:
    staff = await get_staff(session=session, login_id=login_id)
    if data.display_name is not None:
        staff.display_name = data.display_name
    if data.roles is not None:
        staff.roles = [str(r) for r in dict.fromkeys(data.roles)]
    if data.office is not None:
        staff.office = data.office
    if data.active is not None:
        staff.active = data.active
    staff.updated_at = utcnow()
    session.add(staff)
    await session.flush()
    return staff


async def revoke_all_tokens(*, session: AsyncSession, login_id: str) -> Staff:
    staff = await get_staff(session=session, login_id=login_id)
    staff.token_version += 1
    staff.updated_at = utcnow()
    session.add(staff)
    await session.flush()
    return staff


async def get_staff(*, session: AsyncSession, login_id: str) -> Staff:
    staff = await session.get(Staff, login_id)
    if staff is None:
        raise staff_not_found(login_id)
    return staff


async def list_staff(*, session: AsyncSession) -> list[Staff]:
    return list((await session.exec(select(Staff).order_by(Staff.login_id))).all())


async def check_password(*, session: AsyncSession, login_id: str, password: str) -> Staff | None:
    """The account if the password is right and the account active. Same argon2 cost for every miss."""
    staff = await session.get(Staff, login_id)
    usable = staff if staff is not None and staff.active else None
    ok = await run_in_threadpool(verify_password, password, usable.password_hash if usable else None)
    return usable if ok else None


async def login_retry_after(
    *,
    session: AsyncSession,
    login_id: str,
    client_addr: str | None,
    window: timedelta,
    max_per_account: int,
    max_per_client: int,
) -> int | None:
    """Seconds until another attempt is allowed, or None. Failures are read from the audit trail."""
    since = utcnow() - window

    async def oldest_of_recent(condition: sa.ColumnElement[bool], limit: int) -> datetime | None:
        recent = (
            select(AuditEvent.at)
            .where(
                AuditEvent.action == LOGIN_ACTION,
                col(AuditEvent.outcome) == "failure",
                col(AuditEvent.at) > since,
                condition,
            )
            .order_by(col(AuditEvent.at).desc())
            .limit(limit)
        )
        times = list((await session.exec(recent)).all())
        return min(times) if len(times) >= limit else None

    blocking = [await oldest_of_recent(col(AuditEvent.actor) == login_id, max_per_account)]
    if client_addr:
        blocking.append(await oldest_of_recent(col(AuditEvent.client_addr) == client_addr, max_per_client))
    waits = [int((at + window - utcnow()).total_seconds()) + 1 for at in blocking if at is not None]
    return max(waits) if waits else None
