"""Staff account administration (管理者)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.auth import AuditDep, Principal, require
from api.deps import SessionDep, SettingsDep
from models.permissions import Permission
from models.security import StaffCreate, StaffPublic, StaffUpdate
from services import staff as staff_service

router = APIRouter(tags=["staff"])

Admin = Annotated[Principal, require(Permission.ADMIN)]
LoginIdPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{2,31}$", description="ログインID")]


@router.post("/staff", status_code=status.HTTP_201_CREATED, summary="職員アカウントを作成する")
async def create_staff(
    data: StaffCreate, _: Admin, session: SessionDep, settings: SettingsDep, audit: AuditDep
) -> StaffPublic:
    staff_service.check_office(data.office, settings.office_labels)
    staff = await staff_service.create_staff(session=session, data=data)
    audit.record("staff.create", detail={"login_id": staff.login_id, "roles": staff.roles})
    return StaffPublic.model_validate(staff)


@router.get("/staff", summary="職員アカウントの一覧")
async def list_staff(_: Admin, session: SessionDep) -> list[StaffPublic]:
    return [StaffPublic.model_validate(s) for s in await staff_service.list_staff(session=session)]


@router.patch("/staff/{login_id}", summary="職員の権限・有効状態を変更する (即時に反映)")
async def update_staff(
    login_id: LoginIdPath,
    data: StaffUpdate,
    _: Admin,
    session: SessionDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> StaffPublic:
    staff_service.check_office(data.office, settings.office_labels)
    staff = await staff_service.update_staff(session=session, login_id=login_id, data=data)
    audit.record(
        "staff.update", detail={"login_id": login_id, **data.model_dump(exclude_none=True, mode="json")}
    )
    return StaffPublic.model_validate(staff)


@router.post("/staff/{login_id}/revoke-tokens", summary="職員の全トークンを失効させる")
async def revoke_tokens(login_id: LoginIdPath, _: Admin, session: SessionDep, audit: AuditDep) -> StaffPublic:
    staff = await staff_service.revoke_all_tokens(session=session, login_id=login_id)
    audit.record("staff.revoke_tokens", detail={"login_id": login_id})
    return StaffPublic.model_validate(staff)
