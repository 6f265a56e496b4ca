"""Resident registry: 宛名 (person) and 被保険者 (insured), per the seed's 別添1 record items.

Only the fields the procedures need now; 宛名番号 is the join key for all business data (seed III-3).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import sqlalchemy as sa
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    field_validator,
)
from sqlmodel import Field, SQLModel

from models.common import today_in_japan, utcnow
from models.japanese_text import (
    ascii_digits,
    check_plain_text,
    normalize_kana_name,
    normalize_postal_code,
    printable_on_notices,
)
from rules.insured_status import InsuredCategory, age_attained_on, category_on
from rules.mynumber import my_number_problem

# Full-width digits (０１２…) are accepted and stored as ASCII, wherever these numbers are typed.
ATENA_NO_PATTERN = r"^[0-9]{1,15}$"
INSURED_NO_PATTERN = r"^[0-9]{10}$"
AtenaNo = Annotated[str, StringConstraints(pattern=ATENA_NO_PATTERN), BeforeValidator(ascii_digits)]
InsuredNo = Annotated[str, StringConstraints(pattern=INSURED_NO_PATTERN), BeforeValidator(ascii_digits)]
InsuredNoPrefix = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}$"), BeforeValidator(ascii_digits)]
KanaName = Annotated[
    str,
    StringConstraints(max_length=60),
    AfterValidator(normalize_kana_name),
    AfterValidator(printable_on_notices("氏名 (カナ)")),
]
# Printed in the notice's address window: only what the notice typeface can draw.
Name = Annotated[
    str,
    StringConstraints(max_length=60),
    AfterValidator(check_plain_text),
    AfterValidator(printable_on_notices("氏名")),
]
Address = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(check_plain_text),
    AfterValidator(printable_on_notices("住所")),
]
AddressExtra = Annotated[
    str,
    StringConstraints(max_length=100),
    AfterValidator(check_plain_text),
    AfterValidator(printable_on_notices("方書")),
]
PostalCode = Annotated[str, AfterValidator(normalize_postal_code)]


def _check_my_number(value: str) -> str:
    problem = my_number_problem(value)
    if problem:
        raise ValueError(problem)
    return value


MyNumber = Annotated[str, StringConstraints(max_length=32), AfterValidator(_check_my_number)]


class Sex(StrEnum):
    """JIS X 0303 codes, as the 住民基本台帳 uses them."""

    MALE = "1"
    FEMALE = "2"


class RemovalReason(StrEnum):
    """除票事由."""

    DEATH = "death"  # 死亡
    MOVED_OUT = "moved_out"  # 転出
    OTHER = "other"  # 職権消除など


class AcquisitionReason(StrEnum):
    """資格取得事由."""

    AGE_65 = "age_65"  # 65歳到達
    AGE_40 = "age_40"  # 40歳到達 (第2号)
    MOVED_IN = "moved_in"  # 転入
    EXEMPTION_ENDED = "exemption_ended"  # 適用除外非該当
    OTHER = "other"


class LossReason(StrEnum):
    """資格喪失事由."""

    DEATH = "death"  # 死亡
    MOVED_OUT = "moved_out"  # 転出
    EXEMPTION = "exemption"  # 適用除外該当
    MEDICAL_INSURANCE_ENDED = "medical_insurance_ended"  # 第2号の医療保険脱退
    OTHER = "other"


# ---------------------------------------------------------------------------------------------- tables


class Person(SQLModel, table=True):
    """宛名: one person known to the city (住民 or 住登外)."""

    __tablename__ = "person"
    __table_args__ = (
        sa.CheckConstraint("atena_no ~ '^[0-9]{1,15}$'", name="atena_no_digits"),
        sa.CheckConstraint("postal_code ~ '^[0-9]{7}$'", name="postal_code_digits"),
        sa.CheckConstraint("(removed_on IS NULL) = (removal_reason IS NULL)", name="removal_complete"),
        sa.CheckConstraint(
            "(mynumber_ciphertext IS NULL) = (mynumber_index IS NULL)", name="mynumber_sealed_and_indexed"
        ),
        # One person per 個人番号 (seed III-3 リスク1): a second link to the same number fails here.
        sa.UniqueConstraint("mynumber_index", name="uq_person_mynumber_index"),
        sa.Index("ix_person_kana_key_prefix", "kana_key", postgresql_ops={"kana_key": "text_pattern_ops"}),
    )

    atena_no: str = Field(primary_key=True, max_length=15)
    name_kanji: str = Field(max_length=60)
    name_kana: str = Field(max_length=60)
    kana_key: str = Field(max_length=60)
    birth_date: date
    sex: str = Field(sa_type=sa.String(1))
    postal_code: str = Field(max_length=7)
    address: str = Field(max_length=200)
    address_extra: str | None = Field(default=None, max_length=100)
    household_no: str | None = Field(default=None, max_length=15)
    removed_on: date | None = None
    removal_reason: str | None = Field(default=None, sa_type=sa.String(16))
    # 個人番号: AES-GCM ciphertext + its key id, and an HMAC blind index (UNIQUE: one person per number).
    mynumber_ciphertext: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    mynumber_key_id: str | None = Field(default=None, max_length=32)
    mynumber_index: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Insured(SQLModel, table=True):
    """被保険者: the insurance status of one person. One record per person; 1号/2号 changes update it."""

    __tablename__ = "insured"
    __table_args__ = (
        sa.CheckConstraint("insured_no ~ '^[0-9]{10}$'", name="insured_no_digits"),
        sa.CheckConstraint("(lost_on IS NULL) = (loss_reason IS NULL)", name="loss_complete"),
        sa.CheckConstraint("lost_on IS NULL OR lost_on >= acquired_on", name="loss_after_acquisition"),
    )

    insured_no: str = Field(primary_key=True, max_length=10)
    atena_no: str = Field(
        sa_column=sa.Column(
            sa.String(15), sa.ForeignKey("person.atena_no", ondelete="CASCADE"), unique=True, nullable=False
        )
    )
    category: str = Field(sa_type=sa.String(1))
    acquired_on: date
    acquisition_reason: str = Field(sa_type=sa.String(24))
    lost_on: date | None = None
    loss_reason: str | None = Field(default=None, sa_type=sa.String(24))
    jusho_tokurei: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


# --------------------------------------------------------------------------------------------- schemas


class PersonCreate(BaseModel):
    """宛名の登録."""

    model_config = ConfigDict(str_max_length=200, extra="forbid")

    atena_no: AtenaNo = Field(description="宛名番号 (数字15桁以内)")
    name_kanji: Name = Field(description="氏名 (漢字)")
    name_kana: KanaName = Field(description="氏名 (カナ、全角カタカナ。半角カナは全角に変換)")
    birth_date: date = Field(description="生年月日")
    sex: Sex = Field(description="性別 (1: 男, 2: 女)")
    postal_code: PostalCode = Field(description="郵便番号 (7桁、ハイフン可)")
    address: Address = Field(description="住所")
    address_extra: AddressExtra | None = Field(default=None, description="方書")
    household_no: AtenaNo | None = Field(default=None, description="世帯番号")

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, value: date) -> date:
        if not date(1868, 1, 1) <= value <= today_in_japan():
            raise ValueError("生年月日が正しくありません")
        return value


class PersonPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    atena_no: str = Field(description="宛名番号")
    name_kanji: str = Field(description="氏名 (漢字)")
    name_kana: str = Field(description="氏名 (カナ)")
    birth_date: date = Field(description="生年月日")
    sex: Sex = Field(description="性別")
    postal_code: str = Field(description="郵便番号")
    address: str = Field(description="住所")
    address_extra: str | None = Field(description="方書")
    household_no: str | None = Field(description="世帯番号")
    removed_on: date | None = Field(description="除票日 (除票でなければ null)")
    removal_reason: RemovalReason | None = Field(description="除票事由")
    has_my_number: bool = Field(description="個人番号が登録済みか")
    my_number: str | None = Field(
        description="個人番号 (mynumber:read 権限がある場合のみ下4桁を表示。全桁は reveal で取得)"
    )


class MyNumberLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    my_number: MyNumber = Field(description="個人番号 (半角数字12桁)")


class MyNumberReveal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=2, max_length=200, strip_whitespace=True)] = Field(
        description="表示する理由 (操作記録に残ります)"
    )


class MyNumberRevealed(BaseModel):
    atena_no: str
    my_number: str


class InsuredCreate(BaseModel):
    """被保険者の資格取得."""

    model_config = ConfigDict(extra="forbid")

    insured_no: InsuredNo = Field(description="被保険者番号 (数字10桁)")
    atena_no: AtenaNo = Field(description="宛名番号")
    category: InsuredCategory = Field(description="被保険者種別 (1: 第1号, 2: 第2号)")
    acquired_on: date = Field(description="資格取得日")
    acquisition_reason: AcquisitionReason = Field(description="資格取得事由")
    jusho_tokurei: bool = Field(default=False, description="住所地特例の適用")


class PersonRemoval(BaseModel):
    """除票の記録."""

    model_config = ConfigDict(extra="forbid")

    removed_on: date = Field(description="除票日 (死亡日・転出日など)")
    removal_reason: RemovalReason = Field(description="除票事由")


class InsuredLoss(BaseModel):
    """被保険者の資格喪失."""

    model_config = ConfigDict(extra="forbid")

    lost_on: date = Field(description="資格喪失日")
    loss_reason: LossReason = Field(description="資格喪失事由")


class InsuredPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    insured_no: str = Field(description="被保険者番号")
    atena_no: str = Field(description="宛名番号")
    category: InsuredCategory = Field(description="被保険者種別")
    acquired_on: date = Field(description="資格取得日")
    acquisition_reason: AcquisitionReason = Field(description="資格取得事由")
    lost_on: date | None = Field(description="資格喪失日")
    loss_reason: LossReason | None = Field(description="資格喪失事由")
    jusho_tokurei: bool = Field(description="住所地特例")
    name_kanji: str = Field(description="氏名 (漢字)")
    name_kana: str = Field(description="氏名 (カナ)")


def category_conflict(category: InsuredCategory, birth_date: date, acquired_on: date) -> str | None:
    """Japanese message when the category does not fit the person's age on the acquisition date (9条)."""
    by_age = category_on(birth_date, acquired_on)
    if by_age == category:
        return None
    if category is InsuredCategory.FIRST:
        reached = age_attained_on(birth_date, 65)
        return f"第1号被保険者は65歳到達日 ({reached.isoformat()}) 以降に資格を取得します"
    return "第2号被保険者は資格取得日に40歳以上65歳未満である必要があります"
