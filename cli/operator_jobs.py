"""Operator jobs run from the command line, each in its own transaction with an audit entry."""

from __future__ import annotations

from kaigo.config import Settings
from kaigo.db import make_engine, make_sessionmaker, transaction
from kaigo.security import audit
from kaigo.security.audit import AuditEntry
from models.common import today_in_japan
from models.security import StaffCreate
from services import retention
from services import staff as staff_service


async def run_purge(settings: Settings, database_url: str, *, dry_run: bool) -> retention.PurgeResult:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            result = await retention.purge(
                session=session, today=today_in_japan(), years=settings.retention_years, dry_run=dry_run
            )
            if not dry_run:
                await audit.append(
                    session,
                    [
                        AuditEntry(
                            actor="system",
                            action="retention.purge",
                            outcome="success",
                            resource="kaigo purge",
                            detail={
                                "cutoff": result.cutoff.isoformat(),
                                "persons": result.persons,
                                "tasks": result.tasks,
                            },
                        )
                    ],
                )
        return result
    finally:
        await engine.dispose()


async def create_staff_account(
    database_url: str, login_id: str, display_name: str, roles: list[str], password: str
) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            data = StaffCreate.model_validate(
                {"login_id": login_id, "display_name": display_name, "roles": roles, "password": password}
            )
            await staff_service.create_staff(session=session, data=data)
            await audit.append(
                session,
                [
                    AuditEntry(
                        actor="system",
                        action="staff.create",
                        outcome="success",
                        resource="kaigo staff create",
                        detail={"login_id": login_id, "roles": roles},
                    )
                ],
            )
    finally:
        await engine.dispose()
