"""Importing certifications from a previous system (kaigo import certifications, POST /certification-imports).

The file: a header row with these columns in any order (extra columns are ignored), UTF-8 (BOM allowed) or
Shift_JIS/CP932, CRLF or LF:

    被保険者番号,要介護状態区分,有効期間開始日,有効期間終了日,認定日[,サービス利用]

Every import, taken or refused, leaves a row in `certification_import` (who, when, the file's SHA-256, the
counts) beside its audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from models.common import utcnow
from rules.primary_determination import CareLevel

INSURED_NO = "被保険者番号"
LEVEL = "要介護状態区分"
VALID_FROM = "有効期間開始日"
VALID_TO = "有効期間終了日"
DECIDED_ON = "認定日"
SERVICE_USE = "サービス利用"
REQUIRED_COLUMNS = (INSURED_NO, LEVEL, VALID_FROM, VALID_TO, DECIDED_ON)
COLUMNS = (*REQUIRED_COLUMNS, SERVICE_USE)

EXAMPLE_CSV = (
    ",".join(COLUMNS)
    + "\r\n0100000123,要介護2,2026-04-01,2027-03-31,2026-03-25,有"
    + "\r\n0100000124,要支援1,20260601,20271130,20260520,無\r\n"
)


class ImportChannel(StrEnum):
    CLI = "cli"
    API = "api"


class ImportOutcome(StrEnum):
    IMPORTED = "imported"
    REFUSED = "refused"


class CertificationImport(SQLModel, table=True):
    """One import of a certifications file: the audit's view of what came in, from whom, and when."""

    __tablename__ = "certification_import"
    __table_args__ = (sa.Index("ix_certification_import_file", "file_sha256"),)

    id: str = Field(primary_key=True, max_length=32)
    actor: str = Field(max_length=64)
    channel: str = Field(sa_type=sa.String(8))
    file_sha256: str = Field(max_length=64)
    outcome: str = Field(sa_type=sa.String(8))
    rows: int = 0
    added: int = 0
    already: int = 0
    errors: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class ImportedRow:
    """One validated line of the file."""

    line: int
    insured_no: str
    level: CareLevel
    valid_from: date
    valid_to: date
    decided_on: date
    service_use_last_year: bool


class ImportReport(BaseModel):
    """What an import did (API response; the CLI prints the same)."""

    import_id: str = PydanticField(description="取り込みの記録番号 (certification_import.id)")
    rows: int = PydanticField(description="明細行の数")
    added: int = PydanticField(description="追加した認定の数")
    already: int = PydanticField(description="登録済みで同じ内容だった認定の数 (再取り込み)")
    reconciliation_started: bool = PydanticField(
        description="更新案内の照合を今すぐ始めたか (false: 翌日の定時照合で始まります)"
    )
    message: str = PydanticField(description="結果の説明")
