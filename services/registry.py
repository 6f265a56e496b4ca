"""Resident registry data access: keyword-only functions over one session.

The caller owns the transaction; nothing here commits.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.errors import ProblemError
from models.common import utcnow
from models.japanese_text import kana_search_key
from models.registry import (
    Insured,
    InsuredCreate,
    InsuredLoss,
    InsuredPublic,
    Person,
    PersonCreate,
    RemovalReason,
    category_conflict,
)
from models.task import Task, TaskState


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def person_not_found(atena_no: str) -> ProblemError:
    return ProblemError(
        404, "person-not-found", f"宛名番号 {atena_no} の宛名は登録されていません", field="atena_no"
    )


def insured_not_found(insured_no: str) -> ProblemError:
    return ProblemError(
        404, "insured-not-found", f"被保険者番号 {insured_no} は登録されていません", field="insured_no"
    )


# --------------------------------------------------------------------------------------------- persons


async def create_person(*, session: AsyncSession, data: PersonCreate) -> Person:
    if await session.get(Person, data.atena_no) is not None:
        raise ProblemError(
            409, "person-exists", f"宛名番号 {data.atena_no} は既に登録されています", field="atena_no"
        )
    person = Person(**data.model_dump(), kana_key=kana_search_key(data.name_kana))
    session.add(person)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same number won the race
        raise ProblemError(
            409, "person-exists", f"宛名番号 {data.atena_no} は既に登録されています", field="atena_no"
        ) from exc
    return person


async def get_person(*, session: AsyncSession, atena_no: str) -> Person:
    person = await session.get(Person, atena_no)
    if person is None:
        raise person_not_found(atena_no)
    return person


def _assigned_to(login_id: str) -> sa.ColumnElement[bool]:
    """Persons on an open task assigned to `login_id` (the scope of a contracted surveyor)."""
    return col(Person.atena_no).in_(
        select(Task.subject_atena_no).where(Task.assignee == login_id, Task.state == TaskState.OPEN)
    )


async def search_persons(
    *,
    session: AsyncSession,
    kana: str | None,
    household_no: str | None,
    offset: int,
    limit: int,
    assigned_to: str | None = None,
) -> tuple[list[Person], int]:
    conditions: list[sa.ColumnElement[bool]] = []
    if kana:
        conditions.append(col(Person.kana_key).like(_like_prefix(kana_search_key(kana)), escape="\\"))
    if household_no:
        conditions.append(col(Person.household_no) == household_no)
    if not conditions:
        raise ProblemError(422, "search-criteria", "検索条件を1つ以上指定してください", field="kana")
    if assigned_to is not None:
        conditions.append(_assigned_to(assigned_to))
    total = (await session.exec(select(sa.func.count()).select_from(Person).where(*conditions))).one()
    rows = await session.exec(
        select(Person)
        .where(*conditions)
        .order_by(Person.kana_key, Person.atena_no)
        .offset(offset)
        .limit(limit)
    )
    return list(rows.all()), total


async def record_removal(
    *, session: AsyncSession, atena_no: str, removed_on: date, reason: RemovalReason
) -> Person:
    """除票: the person left the 住民基本台帳 (death, moving out). Kept until the retention purge."""
    person = await get_person(session=session, atena_no=atena_no)
    if person.removed_on is not None:
        raise ProblemError(409, "person-removed", "この宛名は既に除票されています", field="removed_on")
    person.removed_on, person.removal_reason, person.updated_at = removed_on, reason, utcnow()
    session.add(person)
    await session.flush()
    return person


# --------------------------------------------------------------------------------------------- insured


def insured_public(insured: Insured, person: Person) -> InsuredPublic:
    return InsuredPublic.model_validate(
        {**insured.model_dump(), "name_kanji": person.name_kanji, "name_kana": person.name_kana}
    )


async def create_insured(*, session: AsyncSession, data: InsuredCreate) -> tuple[Insured, Person]:
    person = await get_person(session=session, atena_no=data.atena_no)
    if person.removed_on is not None:
        raise ProblemError(422, "person-removed", "除票された宛名は被保険者にできません", field="atena_no")
    problem = category_conflict(data.category, person.birth_date, data.acquired_on)
    if problem:
        raise ProblemError(422, "category-age", problem, field="category")
    if await session.get(Insured, data.insured_no) is not None:
        raise ProblemError(
            409, "insured-exists", f"被保険者番号 {data.insured_no} は既に使われています", field="insured_no"
        )
    existing = (await session.exec(select(Insured).where(Insured.atena_no == data.atena_no))).first()
    if existing is not None:
        raise ProblemError(
            409,
            "person-already-insured",
            f"この宛名には既に被保険者番号 {existing.insured_no} があります",
            field="atena_no",
        )
    insured = Insured(**data.model_dump())
    session.add(insured)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ProblemError(
            409, "insured-exists", "被保険者番号または宛名が同時に登録されました", field="insured_no"
        ) from exc
    return insured, person


async def get_insured(*, session: AsyncSession, insured_no: str) -> tuple[Insured, Person]:
    row = (
        await session.exec(
            select(Insured, Person).join(Person).where(Insured.insured_no == insured_no)  # type: ignore[arg-type]
        )
    ).first()
    if row is None:
        raise insured_not_found(insured_no)
    insured, person = row
    return insured, person


async def search_insured(
    *,
    session: AsyncSession,
    insured_no: str | None,
    kana: str | None,
    offset: int,
    limit: int,
    assigned_to: str | None = None,
) -> tuple[list[tuple[Insured, Person]], int]:
    conditions: list[sa.ColumnElement[bool]] = []
    if insured_no:
        conditions.append(col(Insured.insured_no).like(_like_prefix(insured_no), escape="\\"))
    if kana:
        conditions.append(col(Person.kana_key).like(_like_prefix(kana_search_key(kana)), escape="\\"))
    if not conditions:
        raise ProblemError(422, "search-criteria", "検索条件を1つ以上指定してください", field="insured_no")
    if assigned_to is not None:
        conditions.append(_assigned_to(assigned_to))
    joined = select(Insured, Person).join(Person).where(*conditions)  # type: ignore[arg-type]
    total = (await session.exec(select(sa.func.count()).select_from(joined.subquery()))).one()
    rows = await session.exec(
        joined.order_by(Person.kana_key, Insured.insured_no).offset(offset).limit(limit)
    )
    return [(insured, person) for insured, person in rows.all()], total


async def record_loss(*, session: AsyncSession, insured_no: str, loss: InsuredLoss) -> tuple[Insured, Person]:
    insured = await session.get(Insured, insured_no)
    if insured is None:
        raise insured_not_found(insured_no)
    if insured.lost_on is not None:
        raise ProblemError(409, "insured-lost", "この被保険者は既に資格を喪失しています", field="lost_on")
    if loss.lost_on < insured.acquired_on:
        raise ProblemError(
            422, "loss-before-acquisition", "資格喪失日が資格取得日より前です", field="lost_on"
        )
    insured.lost_on, insured.loss_reason, insured.updated_at = loss.lost_on, loss.loss_reason, utcnow()
    session.add(insured)
    await session.flush()
    person = await get_person(session=session, atena_no=insured.atena_no)
    return insured, person
