"""Resident registry: 宛名 (persons) and 被保険者 (insured)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import PageDep, SessionDep
from models.common import Page
from models.registry import (
    InsuredCreate,
    InsuredLoss,
    InsuredPublic,
    PersonCreate,
    PersonPublic,
    PersonRemoval,
)
from services import registry

router = APIRouter(tags=["registry"])

AtenaNoPath = Annotated[str, Path(pattern=r"^[0-9]{1,15}$", description="宛名番号")]
InsuredNoPath = Annotated[str, Path(pattern=r"^[0-9]{10}$", description="被保険者番号 (10桁)")]
KanaQuery = Annotated[
    str | None, Query(min_length=1, max_length=60, description="カナ氏名の前方一致 (ひらがな・半角カナ可)")
]


@router.post("/persons", status_code=status.HTTP_201_CREATED, summary="宛名を登録する")
async def create_person(data: PersonCreate, session: SessionDep) -> PersonPublic:
    person = await registry.create_person(session=session, data=data)
    return PersonPublic.model_validate(person)


@router.get("/persons", summary="宛名を検索する (カナ前方一致・世帯番号)")
async def search_persons(
    session: SessionDep,
    paging: PageDep,
    kana: KanaQuery = None,
    household_no: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$", description="世帯番号")] = None,
) -> Page[PersonPublic]:
    return await registry.search_persons(
        session=session,
        kana=kana,
        household_no=household_no,
        offset=paging.offset,
        limit=paging.size,
        page=paging.page,
    )


@router.get("/persons/{atena_no}", summary="宛名を取得する")
async def get_person(atena_no: AtenaNoPath, session: SessionDep) -> PersonPublic:
    return PersonPublic.model_validate(await registry.get_person(session=session, atena_no=atena_no))


@router.post("/persons/{atena_no}/removal", summary="除票を記録する (死亡・転出など)")
async def remove_person(atena_no: AtenaNoPath, data: PersonRemoval, session: SessionDep) -> PersonPublic:
    person = await registry.record_removal(
        session=session, atena_no=atena_no, removed_on=data.removed_on, reason=data.removal_reason
    )
    return PersonPublic.model_validate(person)


@router.post("/insured", status_code=status.HTTP_201_CREATED, summary="被保険者の資格取得を登録する")
async def create_insured(data: InsuredCreate, session: SessionDep) -> InsuredPublic:
    return await registry.create_insured(session=session, data=data)


@router.get("/insured", summary="被保険者を検索する (被保険者番号・カナの前方一致)")
async def search_insured(
    session: SessionDep,
    paging: PageDep,
    insured_no: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,10}$", description="被保険者番号 (前方一致)")
    ] = None,
    kana: KanaQuery = None,
) -> Page[InsuredPublic]:
    return await registry.search_insured(
        session=session,
        insured_no=insured_no,
        kana=kana,
        offset=paging.offset,
        limit=paging.size,
        page=paging.page,
    )


@router.get("/insured/{insured_no}", summary="被保険者を取得する")
async def get_insured(insured_no: InsuredNoPath, session: SessionDep) -> InsuredPublic:
    return await registry.get_insured(session=session, insured_no=insured_no)


@router.post("/insured/{insured_no}/loss", summary="被保険者の資格喪失を登録する")
async def record_loss(insured_no: InsuredNoPath, data: InsuredLoss, session: SessionDep) -> InsuredPublic:
    return await registry.record_loss(session=session, insured_no=insured_no, loss=data)
