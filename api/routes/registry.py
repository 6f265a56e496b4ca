"""Resident registry: 宛名 (persons), 被保険者 (insured) and the protected 個人番号.

Every read of a person's data leaves one audit row per person read; 個人番号 appears only to holders of
mynumber:read (masked) and in full only through the audited reveal.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from api.auth import AuditDep, Principal, check_subject_access, require
from api.deps import PageDep, ResourcesDep, SessionDep
from api.params import AtenaNoPath, HouseholdNoQuery, InsuredNoPath, InsuredNoPrefixQuery
from api.unit_of_work import transaction
from kaigo.errors import ProblemError
from models.common import Page
from models.permissions import Permission
from models.procedure import RegistryEnd
from models.registry import (
    Insured,
    InsuredCreate,
    InsuredLoss,
    InsuredPublic,
    LossReason,
    MyNumberLink,
    MyNumberReveal,
    MyNumberRevealed,
    Person,
    PersonCreate,
    PersonPublic,
    PersonRemoval,
    RemovalReason,
)
from services import cases, mynumber, registry

router = APIRouter(tags=["registry"])

KanaQuery = Annotated[
    str | None, Query(min_length=1, max_length=60, description="カナ氏名の前方一致 (ひらがな・半角カナ可)")
]

RegistryReader = Annotated[Principal, require(Permission.REGISTRY_READ)]
RegistryWriter = Annotated[Principal, require(Permission.REGISTRY_WRITE)]
MyNumberReader = Annotated[Principal, require(Permission.MYNUMBER_READ)]
MyNumberWriter = Annotated[Principal, require(Permission.MYNUMBER_WRITE)]


def _person_public(person: Person, principal: Principal, resources: ResourcesDep) -> PersonPublic:
    has_number = person.mynumber_index is not None
    shown = mynumber.masked(person, resources.cipher) if principal.has(Permission.MYNUMBER_READ) else None
    return PersonPublic.model_validate(
        {**person.model_dump(), "has_my_number": has_number, "my_number": shown}, from_attributes=False
    )


def _scope(principal: Principal) -> str | None:
    return principal.login_id if principal.scoped_for(Permission.REGISTRY_READ) else None


# --------------------------------------------------------------------------------------------- persons


@router.post("/persons", status_code=status.HTTP_201_CREATED, summary="宛名を登録する")
async def create_person(
    data: PersonCreate,
    principal: RegistryWriter,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> PersonPublic:
    """個人番号 is linked separately (PUT …/my-number), by staff holding mynumber:write."""
    person = await registry.create_person(session=session, data=data)
    audit.record("person.create", subject=person.atena_no)
    return _person_public(person, principal, resources)


@router.get("/persons", summary="宛名を検索する (カナ前方一致・世帯番号)")
async def search_persons(
    principal: RegistryReader,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    paging: PageDep,
    kana: KanaQuery = None,
    household_no: HouseholdNoQuery = None,
) -> Page[PersonPublic]:
    rows, total = await registry.search_persons(
        session=session,
        kana=kana,
        household_no=household_no,
        offset=paging.offset,
        limit=paging.size,
        assigned_to=_scope(principal),
    )
    for person in rows:
        audit.record("person.search", subject=person.atena_no)
    items = [_person_public(p, principal, resources) for p in rows]
    return Page[PersonPublic](items=items, total=total, page=paging.page, size=paging.size)


@router.get("/persons/{atena_no}", summary="宛名を取得する")
async def get_person(
    atena_no: AtenaNoPath,
    principal: RegistryReader,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> PersonPublic:
    await check_subject_access(
        principal=principal,
        permission=Permission.REGISTRY_READ,
        atena_no=atena_no,
        resources=resources,
        trail=audit,
    )
    person = await registry.get_person(session=session, atena_no=atena_no)
    audit.record("person.read", subject=atena_no)
    return _person_public(person, principal, resources)


@router.post("/persons/{atena_no}/removal", summary="除票を記録する (死亡・転出など)")
async def remove_person(
    atena_no: AtenaNoPath,
    data: PersonRemoval,
    principal: RegistryWriter,
    resources: ResourcesDep,
    audit: AuditDep,
) -> PersonPublic:
    async with transaction(resources, audit) as session:
        person = await registry.record_removal(
            session=session, atena_no=atena_no, removed_on=data.removed_on, reason=data.removal_reason
        )
        audit.record("person.removal", subject=atena_no, detail={"reason": str(data.removal_reason)})
    reason = RegistryEnd.DEATH if data.removal_reason is RemovalReason.DEATH else RegistryEnd.LOST_STATUS
    await _end_cases(resources, audit, principal, atena_no, reason, data.removed_on)
    return _person_public(person, principal, resources)


async def _end_cases(
    resources: ResourcesDep,
    audit: AuditDep,
    principal: Principal,
    atena_no: str,
    reason: RegistryEnd,
    on: date,
) -> None:
    """Death or loss of status ends the person's open cases of every procedure; no notice follows. Runs after
    the registry change is committed, with no transaction held while the workflows are told."""
    ended = await cases.end_open_cases(
        sessions=resources.sessions,
        temporal=resources.temporal,
        atena_no=atena_no,
        reason=reason,
        actor=principal.login_id,
        on=on,
    )
    async with transaction(resources, audit):
        for case in ended:
            audit.record("case.end", subject=atena_no, detail={"case_id": case.id, "reason": str(reason)})


# ---------------------------------------------------------------------------------------------- 個人番号


@router.put("/persons/{atena_no}/my-number", summary="個人番号を紐付ける (既に他の宛名にある番号は不可)")
async def link_my_number(
    atena_no: AtenaNoPath,
    data: MyNumberLink,
    principal: MyNumberWriter,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> PersonPublic:
    person = await mynumber.link(
        session=session, cipher=resources.cipher, atena_no=atena_no, my_number=data.my_number
    )
    audit.record("mynumber.link", subject=atena_no)
    return _person_public(person, principal, resources)


@router.post("/persons/{atena_no}/my-number/reveal", summary="個人番号を全桁表示する (理由を記録)")
async def reveal_my_number(
    atena_no: AtenaNoPath,
    data: MyNumberReveal,
    _: MyNumberReader,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> MyNumberRevealed:
    person = await registry.get_person(session=session, atena_no=atena_no)
    number = mynumber.reveal(person, resources.cipher)
    if number is None:
        raise ProblemError(
            404, "mynumber-absent", "この宛名には個人番号が登録されていません", field="atena_no"
        )
    audit.record("mynumber.reveal", subject=atena_no, detail={"reason": data.reason})
    return MyNumberRevealed(atena_no=atena_no, my_number=number)


@router.post("/persons/search-by-my-number", summary="個人番号で宛名を検索する (完全一致)")
async def search_by_my_number(
    data: MyNumberLink,
    principal: MyNumberReader,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> Page[PersonPublic]:
    person = await mynumber.find_by_number(session=session, cipher=resources.cipher, my_number=data.my_number)
    audit.record(
        "mynumber.search", subject=person.atena_no if person else None, detail={"found": person is not None}
    )
    items = [_person_public(person, principal, resources)] if person else []
    return Page[PersonPublic](items=items, total=len(items), page=1, size=1)


# --------------------------------------------------------------------------------------------- insured


def _insured_with_audit(audit: AuditDep, action: str, insured: Insured, person: Person) -> InsuredPublic:
    audit.record(action, subject=person.atena_no, detail={"insured_no": insured.insured_no})
    return registry.insured_public(insured, person)


@router.post("/insured", status_code=status.HTTP_201_CREATED, summary="被保険者の資格取得を登録する")
async def create_insured(
    data: InsuredCreate, _: RegistryWriter, session: SessionDep, audit: AuditDep
) -> InsuredPublic:
    return _insured_with_audit(
        audit, "insured.create", *await registry.create_insured(session=session, data=data)
    )


@router.get("/insured", summary="被保険者を検索する (被保険者番号・カナの前方一致)")
async def search_insured(
    principal: RegistryReader,
    session: SessionDep,
    audit: AuditDep,
    paging: PageDep,
    insured_no: InsuredNoPrefixQuery = None,
    kana: KanaQuery = None,
) -> Page[InsuredPublic]:
    rows, total = await registry.search_insured(
        session=session,
        insured_no=insured_no,
        kana=kana,
        offset=paging.offset,
        limit=paging.size,
        assigned_to=_scope(principal),
    )
    items = [_insured_with_audit(audit, "insured.search", insured, person) for insured, person in rows]
    return Page[InsuredPublic](items=items, total=total, page=paging.page, size=paging.size)


@router.get("/insured/{insured_no}", summary="被保険者を取得する")
async def get_insured(
    insured_no: InsuredNoPath,
    principal: RegistryReader,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> InsuredPublic:
    insured, person = await registry.get_insured(session=session, insured_no=insured_no)
    await check_subject_access(
        principal=principal,
        permission=Permission.REGISTRY_READ,
        atena_no=person.atena_no,
        resources=resources,
        trail=audit,
    )
    return _insured_with_audit(audit, "insured.read", insured, person)


@router.post("/insured/{insured_no}/loss", summary="被保険者の資格喪失を登録する")
async def record_loss(
    insured_no: InsuredNoPath,
    data: InsuredLoss,
    principal: RegistryWriter,
    resources: ResourcesDep,
    audit: AuditDep,
) -> InsuredPublic:
    async with transaction(resources, audit) as session:
        insured, person = await registry.record_loss(session=session, insured_no=insured_no, loss=data)
        public = _insured_with_audit(audit, "insured.loss", insured, person)
    reason = RegistryEnd.DEATH if data.loss_reason is LossReason.DEATH else RegistryEnd.LOST_STATUS
    await _end_cases(resources, audit, principal, person.atena_no, reason, data.lost_on)
    return public
