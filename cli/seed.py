"""Demo data for `make dev`: a handful of fictional residents, loaded once (idempotent by key).

The names include kanji that break naive systems (髙, 﨑, 𠮷) on purpose.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.db import make_engine, make_sessionmaker, transaction
from models.board import BoardMeeting, BoardPanel, BoardPanelMember, PanelRole
from models.common import today_in_japan
from models.permissions import ROLE_LABELS, Role
from models.registry import AcquisitionReason, Insured, InsuredCreate, Person, PersonCreate, Sex
from models.security import Staff, StaffCreate
from rules.insured_status import InsuredCategory, age_attained_on
from services import registry
from services import staff as staff_service

# (宛名番号, 氏名, カナ, 生年月日, 性別, 郵便番号, 住所, 方書, 被保険者番号, 種別)
DEMO_RESIDENTS: list[tuple[str, str, str, date, Sex, str, str, str | None, str, InsuredCategory]] = [
    ("100000000001", "髙橋 ハナ", "タカハシ ハナ", date(1941, 4, 3), Sex.FEMALE, "070-0031",
     "北海道旭川市一条通8丁目", None, "0100000001", InsuredCategory.FIRST),
    ("100000000002", "山﨑 太郎", "ヤマザキ タロウ", date(1950, 11, 20), Sex.MALE, "078-8201",
     "北海道旭川市東旭川町共栄12番地", "共栄ハイツ203", "0100000002", InsuredCategory.FIRST),
    ("100000000003", "𠮷田 トメ", "ヨシダ トメ", date(1936, 2, 29), Sex.FEMALE, "070-8525",
     "北海道旭川市7条通10丁目", None, "0100000003", InsuredCategory.FIRST),
    ("100000000004", "佐藤 一郎", "サトウ イチロウ", date(1962, 7, 15), Sex.MALE, "071-8131",
     "北海道旭川市末広1条3丁目", "グリーンコート105", "0100000004", InsuredCategory.SECOND),
    ("100000000005", "鈴木 美智子", "スズキ ミチコ", date(1948, 1, 9), Sex.FEMALE, "079-8412",
     "北海道旭川市永山2条5丁目", None, "0100000005", InsuredCategory.FIRST),
]  # fmt: skip


async def seed_demo_residents(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Insert the demo residents that are not there yet; returns how many were added."""
    added = 0
    for atena_no, kanji, kana, born, sex, postal, address, extra, insured_no, category in DEMO_RESIDENTS:
        async with transaction(sessions) as session:
            if await session.get(Person, atena_no) is not None:
                continue
            await registry.create_person(
                session=session,
                data=PersonCreate(
                    atena_no=atena_no,
                    name_kanji=kanji,
                    name_kana=kana,
                    birth_date=born,
                    sex=sex,
                    postal_code=postal,
                    address=address,
                    address_extra=extra,
                ),
            )
            if await session.get(Insured, insured_no) is None:
                first = category is InsuredCategory.FIRST
                await registry.create_insured(
                    session=session,
                    data=InsuredCreate(
                        insured_no=insured_no,
                        atena_no=atena_no,
                        category=category,
                        acquired_on=age_attained_on(born, 65 if first else 40),
                        acquisition_reason=AcquisitionReason.AGE_65 if first else AcquisitionReason.AGE_40,
                    ),
                )
            added += 1
    return added


# (ログインID, 表示名, 役割, 委託先). Development only: their passwords are printed and public.
DEMO_STAFF: list[tuple[str, str, Role, str | None]] = [
    ("intake", "認定 一郎", Role.INTAKE, None),
    ("surveyor", "調査 花子", Role.SURVEYOR, None),
    ("contractor", "委託 次郎", Role.SURVEYOR, "あさひかわ居宅介護支援センター (委託)"),
    ("board", "審査 三郎", Role.BOARD_MEMBER, None),
    ("board2", "審査 次子", Role.BOARD_MEMBER, None),
    ("board3", "審査 三太", Role.BOARD_MEMBER, None),
    ("restriction", "制限 四郎", Role.RESTRICTION, None),
    # The collection system's service account: it may only post payments (premium:payment).
    ("collection", "収納システム (連携)", Role.COLLECTION, "収納システム"),
    ("supervisor", "監督 五月", Role.SUPERVISOR, None),
    ("admin", "管理 六郎", Role.ADMIN, None),
]


DEMO_PANEL = "第1合議体 (デモ)"


def demo_password(login_id: str) -> str:
    return f"{login_id}-demo-2026"


async def seed_demo_staff(sessions: async_sessionmaker[AsyncSession]) -> int:
    added = 0
    for login_id, name, role, organization in DEMO_STAFF:
        async with transaction(sessions) as session:
            if await session.get(Staff, login_id) is not None:
                continue
            await staff_service.create_staff(
                session=session,
                data=StaffCreate(
                    login_id=login_id,
                    display_name=name,
                    password=demo_password(login_id),
                    roles=[role],
                    organization=organization,
                ),
            )
            added += 1
    return added


def demo_credentials_table() -> str:
    rows = [
        f"  {login:<12} {demo_password(login):<24} {ROLE_LABELS[role]}" for login, _, role, _ in DEMO_STAFF
    ]
    return "\n".join(["  demo staff (development only):", *rows])


async def seed_demo_board(sessions: async_sessionmaker[AsyncSession], today: date) -> int:
    """A panel of the three demo board members (board chairs it) meeting today — so a case filed in the
    walkthrough can be decided the same day, whatever the day — and every Thursday for eight weeks."""
    async with transaction(sessions) as session:
        panel = (await session.exec(select(BoardPanel).where(BoardPanel.name == DEMO_PANEL))).first()
        if panel is None:
            panel = BoardPanel(name=DEMO_PANEL)
            session.add(panel)
            await session.flush()
            for login_id in ("board", "board2", "board3"):
                role = PanelRole.CHAIR if login_id == "board" else PanelRole.MEMBER
                session.add(BoardPanelMember(panel_id=panel.id, login_id=login_id, role=role))  # type: ignore[arg-type]
        held = set(
            (await session.exec(select(BoardMeeting.held_on).where(BoardMeeting.panel_id == panel.id))).all()
        )
        thursdays = [today + timedelta(days=(3 - today.weekday()) % 7 + 7 * week) for week in range(8)]
        days = sorted({today, *thursdays} - held)
        new = [BoardMeeting(panel_id=panel.id, held_on=day) for day in days]  # type: ignore[arg-type]
        session.add_all(new)
        return len(new)


async def seed_all(database_url: str, *, with_staff: bool) -> int:
    """Demo residents; in development also demo staff and a demo board with upcoming meetings."""
    engine = make_engine(database_url, pool_size=1)
    try:
        sessions = make_sessionmaker(engine)
        added = await seed_demo_residents(sessions)
        if with_staff:
            added += await seed_demo_staff(sessions)
            added += await seed_demo_board(sessions, today_in_japan())
        return added
    finally:
        await engine.dispose()
