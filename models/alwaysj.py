"""The 一次判定 interface: export 申請情報 for the national 一次判定 software, import its result records.

The seed's システム2 (要介護認定業務支援システム ALWAYSJ, seed I-2) sits between the 介護保険 system and the
national software: it receives 申請情報 and returns 認定情報. kaigo-flow exchanges CSV files with it:

- Export (`export_application_record`): one row per application, the fields the 一次判定 needs — the
  application keys, sex, birth date and age, the 74 基本調査 answers in national order, both 日常生活自立度
  ratings and the 主治医意見書 items the software reads. The seed's 申請情報 also carries names, addresses
  and telephone numbers (the support system prints 依頼書 and 審査会資料 with them); the computation needs
  none of them, so this export leaves them out (data minimisation, DOMAIN.md §7).
- Import (`parse_primary_result_csv`): the 一次判定 part of the returned 認定情報 (seed: 保険者番号,
  被保険者番号, 認定申請日, 一次判定日, 一次判定結果) plus the result details the board reads (基準時間 and
  its 8 categories, 中間評価項目得点, 状態の安定性, 認知症自立度II以上の蓋然性; research/domain.md §1.4).

File format (both directions): CSV per RFC 4180, a header row of the Japanese column names below, CRLF line
ends, dates as YYYYMMDD, codes as the national code values, minutes with at most one decimal. The text is
UTF-8 without BOM by default; pass encoding="cp932" (Shift_JIS) or "utf-8-sig" when the receiving side
needs it. Import accepts a BOM, LF or CRLF, ISO dates (YYYY-MM-DD) and columns in any order.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from models.physician_opinion import PhysicianOpinion
from models.registry import Sex
from models.survey import SURVEY_SCHEMA_VERSION, SurveyRecord, get_schema, raise_at
from rules.certification import ApplicationKind
from rules.insured_status import InsuredCategory, age_attained_on
from rules.primary_determination import (
    CareLevel,
    CategoryTimes,
    DementiaIndependence,
    PhysicalIndependence,
    Stability,
    validate_category_times,
)
from rules.specified_diseases import SpecifiedDisease

# ------------------------------------------------------------------------------------ value parsing


def _digits(length: int, label: str) -> Callable[[Any], Any]:
    pattern = re.compile(rf"^[0-9]{{{length}}}$")

    def check(value: Any) -> Any:
        if value is None:
            raise ValueError("値がありません")
        text = str(value).strip()
        if not pattern.fullmatch(text):
            raise ValueError(f"{label}は{length}桁の数字で入力してください")
        return text

    return check


_DATE = re.compile(r"^(\d{4})[-/]?(\d{2})[-/]?(\d{2})$")


def _csv_date(value: Any) -> Any:
    """YYYYMMDD (the national files) or YYYY-MM-DD; date objects pass through."""
    if value is None:
        raise ValueError("値がありません")
    if isinstance(value, date):
        return value
    match = _DATE.fullmatch(str(value).strip())
    if match is None:
        raise ValueError("日付は YYYYMMDD 形式で入力してください")
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise ValueError("日付が正しくありません") from None


def _one_decimal(low: Decimal, high: Decimal) -> Callable[[Any], Decimal]:
    """A number with at most one decimal place within [low, high] (the software prints minutes so)."""

    def check(value: Any) -> Decimal:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("値がありません")
        if isinstance(value, bool):
            raise ValueError("数値で入力してください")
        try:
            number = Decimal(value.strip() if isinstance(value, str) else str(value))
        except InvalidOperation:
            raise ValueError("数値で入力してください") from None
        if not number.is_finite():
            raise ValueError("数値で入力してください")
        if not low <= number <= high:
            raise ValueError(f"{low}〜{high} の範囲で入力してください")
        rounded = number.quantize(Decimal("0.1"))
        if rounded != number:
            raise ValueError("小数点以下1桁までで入力してください")
        return rounded

    return check


def _care_level(value: Any) -> Any:
    if isinstance(value, CareLevel) or value is None:
        return value
    text = str(value).strip()
    for level in CareLevel:
        if level.code == text or level.value == text:
            return level
    raise ValueError("要介護状態区分コード (01, 12, 13, 21〜25) で入力してください")


_STABILITY_CODES = {"1": Stability.STABLE, "2": Stability.UNSTABLE}


def _stability(value: Any) -> Any:
    if value is None or isinstance(value, Stability):
        return value
    text = str(value).strip()
    if text in _STABILITY_CODES:
        return _STABILITY_CODES[text]
    if text in Stability._value2member_map_:
        return Stability(text)
    raise ValueError("1 (安定) または 2 (不安定) で入力してください")


InsurerNo = Annotated[str, BeforeValidator(_digits(6, "保険者番号"))]
InsuredNo = Annotated[str, BeforeValidator(_digits(10, "被保険者番号"))]
CsvDate = Annotated[date, BeforeValidator(_csv_date)]
Minutes = Annotated[Decimal, BeforeValidator(_one_decimal(Decimal(0), Decimal(1440)))]  # ≤ one day
Score = Annotated[Decimal, BeforeValidator(_one_decimal(Decimal(0), Decimal(100)))]
Percent = Annotated[Decimal, BeforeValidator(_one_decimal(Decimal(0), Decimal(100)))]
Level = Annotated[CareLevel, BeforeValidator(_care_level)]
StabilityCode = Annotated[Stability, BeforeValidator(_stability)]
WarningCode = Annotated[str, Field(pattern=r"^[0-9A-Za-z,]{1,60}$")]


# ------------------------------------------------------------------------------------------- export

# National code values of the interface (申請区分(申請時), 日常生活自立度コード): 1-based in the form's order.
_APPLICATION_KIND_CODES = {
    ApplicationKind.NEW: "1",
    ApplicationKind.RENEWAL: "2",
    ApplicationKind.CHANGE: "3",
}
_DEMENTIA_CODES = {
    level: str(n)
    for n, level in enumerate(
        (
            DementiaIndependence.INDEPENDENT,
            DementiaIndependence.I,
            DementiaIndependence.IIA,
            DementiaIndependence.IIB,
            DementiaIndependence.IIIA,
            DementiaIndependence.IIIB,
            DementiaIndependence.IV,
            DementiaIndependence.M,
        ),
        start=1,
    )
}
_PHYSICAL_CODES = {
    level: str(n)
    for n, level in enumerate(
        (
            PhysicalIndependence.INDEPENDENT,
            PhysicalIndependence.J1,
            PhysicalIndependence.J2,
            PhysicalIndependence.A1,
            PhysicalIndependence.A2,
            PhysicalIndependence.B1,
            PhysicalIndependence.B2,
            PhysicalIndependence.C1,
            PhysicalIndependence.C2,
        ),
        start=1,
    )
}


class ApplicationExportRow(BaseModel):
    """One application as the 一次判定 needs it. No name, address or telephone number (see module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    insurer_no: InsurerNo = Field(description="保険者番号 (6桁)")
    insured_no: InsuredNo = Field(description="被保険者番号 (10桁)")
    applied_on: date = Field(description="認定申請日")
    application_kind: ApplicationKind = Field(description="申請区分")
    insured_category: InsuredCategory = Field(description="被保険者区分 (1: 第1号, 2: 第2号)")
    sex: Sex = Field(description="性別")
    birth_date: date = Field(description="生年月日")
    previous_level: CareLevel | None = Field(default=None, description="前回認定の要介護状態区分")
    previous_valid_from: date | None = Field(default=None, description="前回認定有効期間の開始日")
    previous_valid_to: date | None = Field(default=None, description="前回認定有効期間の終了日")
    specified_disease: SpecifiedDisease | None = Field(default=None, description="特定疾病 (第2号)")
    survey: SurveyRecord = Field(description="認定調査票")
    opinion: PhysicianOpinion = Field(description="主治医意見書")

    @model_validator(mode="after")
    def _consistent(self) -> ApplicationExportRow:
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        if self.birth_date >= self.applied_on:
            problems.append((("birth_date",), "生年月日が認定申請日以降になっています", self.birth_date))
        if (self.previous_valid_from is None) != (self.previous_valid_to is None):
            problems.append(
                (("previous_valid_to",), "前回認定有効期間は開始日と終了日をそろえて入力してください", None)
            )
        elif (
            self.previous_valid_from
            and self.previous_valid_to
            and self.previous_valid_from > self.previous_valid_to
        ):
            problems.append((("previous_valid_to",), "前回認定有効期間の終了日が開始日より前です", None))
        if self.survey.schema_version not in _EXPORTABLE_VERSIONS:
            message = f"調査票の版 {self.survey.schema_version} は一次判定の連携に対応していません"
            problems.append((("survey", "schema_version"), message, self.survey.schema_version))
        raise_at("ApplicationExportRow", problems)
        return self

    @property
    def age(self) -> int:
        """Age on the application date (年齢計算ニ関スル法律: attained the day before the birthday)."""
        years = self.applied_on.year - self.birth_date.year
        return years if age_attained_on(self.birth_date, years) <= self.applied_on else years - 1


_EXPORTABLE_VERSIONS = frozenset({SURVEY_SCHEMA_VERSION})
_SURVEY_PREFIX = "調査"


def _yyyymmdd(value: date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def _head(row: ApplicationExportRow) -> list[str]:
    return [
        row.insurer_no,
        row.insured_no,
        _yyyymmdd(row.applied_on),
        _APPLICATION_KIND_CODES[row.application_kind],
        row.insured_category.value,
        row.sex.value,
        _yyyymmdd(row.birth_date),
        str(row.age),
        row.previous_level.code if row.previous_level else "",
        _yyyymmdd(row.previous_valid_from),
        _yyyymmdd(row.previous_valid_to),
        row.specified_disease.value if row.specified_disease else "",
        row.survey.schema_version,
        _yyyymmdd(row.survey.overview.conducted_on),
        row.survey.overview.current_situation.value,
    ]


def _tail(row: ApplicationExportRow) -> list[str]:
    opinion = row.opinion
    return [
        _PHYSICAL_CODES[row.survey.physical_independence],
        _DEMENTIA_CODES[row.survey.dementia_independence],
        _yyyymmdd(opinion.written_on),
        _PHYSICAL_CODES[opinion.physical_independence],
        _DEMENTIA_CODES[opinion.dementia_independence],
        opinion.short_term_memory.national_code,
        opinion.decision_making.national_code,
        opinion.communication.national_code,
        opinion.eating.national_code,
    ]


EXPORT_HEAD_COLUMNS = (
    "保険者番号",
    "被保険者番号",
    "認定申請日",
    "申請区分",
    "被保険者区分",
    "性別",
    "生年月日",
    "年齢",
    "前回要介護状態区分",
    "前回認定有効期間開始日",
    "前回認定有効期間終了日",
    "特定疾病コード",
    "調査票版",
    "調査実施日",
    "現在の状況",
)
EXPORT_TAIL_COLUMNS = (
    "調査_障害高齢者の日常生活自立度",
    "調査_認知症高齢者の日常生活自立度",
    "意見書記入日",
    "意見書_障害高齢者の日常生活自立度",
    "意見書_認知症高齢者の日常生活自立度",
    "意見書_短期記憶",
    "意見書_認知能力",
    "意見書_伝達能力",
    "意見書_食事行為",
)


def export_columns(version: str = SURVEY_SCHEMA_VERSION) -> tuple[str, ...]:
    """The export header: fixed fields, then 調査1-1-1 … 調査6-12 in national order, then the ratings."""
    answers = tuple(f"{_SURVEY_PREFIX}{item.id}" for item in get_schema(version).items)
    return EXPORT_HEAD_COLUMNS + answers + EXPORT_TAIL_COLUMNS


def export_application_record(rows: Iterable[ApplicationExportRow], *, encoding: str = "utf-8") -> str:
    """CSV text of the 申請情報 rows (header + one line per application, CRLF).

    `encoding` is the encoding the caller will write the file in; every cell is checked to be encodable
    in it so that a bad file is refused here rather than by the receiving system.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = export_columns()
    writer.writerow(header)
    for row in rows:
        writer.writerow(_head(row) + row.survey.ordered_answers() + _tail(row))
    text = buffer.getvalue()
    try:
        text.encode(encoding)
    except LookupError:
        raise ValueError(f"文字コード {encoding} は使用できません") from None
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"文字コード {encoding} で表せない文字があります: {exc.object[exc.start : exc.end]!r}"
        ) from None
    return text


# ------------------------------------------------------------------------------------------- import


class PrimaryResultRecord(BaseModel):
    """一次判定 result of one application, as returned by the national software."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    insurer_no: InsurerNo | None = Field(default=None, description="保険者番号")
    insured_no: InsuredNo = Field(description="被保険者番号")
    applied_on: CsvDate = Field(description="認定申請日")
    determined_on: CsvDate = Field(description="一次判定日")
    level: Level = Field(description="一次判定結果 (要介護状態区分)")
    total_minutes: Minutes = Field(description="要介護認定等基準時間 (分)")
    meal_minutes: Minutes = Field(description="基準時間: 食事")
    excretion_minutes: Minutes = Field(description="基準時間: 排泄")
    transfer_minutes: Minutes = Field(description="基準時間: 移動")
    hygiene_minutes: Minutes = Field(description="基準時間: 清潔保持")
    indirect_minutes: Minutes = Field(description="基準時間: 間接生活介助")
    bpsd_minutes: Minutes = Field(description="基準時間: BPSD関連行為")
    rehabilitation_minutes: Minutes = Field(description="基準時間: 機能訓練関連行為")
    medical_minutes: Minutes = Field(description="基準時間: 医療関連行為")
    group1_score: Score = Field(description="中間評価項目得点 第1群")
    group2_score: Score = Field(description="中間評価項目得点 第2群")
    group3_score: Score = Field(description="中間評価項目得点 第3群")
    group4_score: Score = Field(description="中間評価項目得点 第4群")
    group5_score: Score = Field(description="中間評価項目得点 第5群")
    stability: StabilityCode | None = Field(default=None, description="状態の安定性")
    dementia_probability: Percent | None = Field(default=None, description="認知症自立度II以上の蓋然性 (%)")
    warning_code: WarningCode | None = Field(default=None, description="警告コード")

    @property
    def category_times(self) -> CategoryTimes:
        return CategoryTimes(
            meal=self.meal_minutes,
            excretion=self.excretion_minutes,
            transfer=self.transfer_minutes,
            hygiene=self.hygiene_minutes,
            indirect=self.indirect_minutes,
            bpsd=self.bpsd_minutes,
            rehabilitation=self.rehabilitation_minutes,
            medical=self.medical_minutes,
        )

    @model_validator(mode="after")
    def _consistent(self) -> PrimaryResultRecord:
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        if self.determined_on < self.applied_on:
            problems.append((("determined_on",), "一次判定日が認定申請日より前です", self.determined_on))
        # A sum off the total means shifted columns or a truncated line, not a different opinion.
        for message in validate_category_times(self.category_times, self.total_minutes):
            problems.append((("total_minutes",), message, str(self.total_minutes)))
        raise_at("PrimaryResultRecord", problems)
        return self


class _Presence(StrEnum):
    REQUIRED = "required"  # the column must exist and the cell must have a value
    NULLABLE = "nullable"  # the column must exist; the cell may be blank
    OPTIONAL = "optional"  # the column may be missing


# (column, field, presence) in the order the 一次判定 result sheet prints them.
RESULT_COLUMNS: tuple[tuple[str, str, _Presence], ...] = (
    ("保険者番号", "insurer_no", _Presence.OPTIONAL),
    ("被保険者番号", "insured_no", _Presence.REQUIRED),
    ("認定申請日", "applied_on", _Presence.REQUIRED),
    ("一次判定日", "determined_on", _Presence.REQUIRED),
    ("一次判定結果", "level", _Presence.REQUIRED),
    ("基準時間", "total_minutes", _Presence.REQUIRED),
    ("基準時間_食事", "meal_minutes", _Presence.REQUIRED),
    ("基準時間_排泄", "excretion_minutes", _Presence.REQUIRED),
    ("基準時間_移動", "transfer_minutes", _Presence.REQUIRED),
    ("基準時間_清潔保持", "hygiene_minutes", _Presence.REQUIRED),
    ("基準時間_間接生活介助", "indirect_minutes", _Presence.REQUIRED),
    ("基準時間_BPSD関連行為", "bpsd_minutes", _Presence.REQUIRED),
    ("基準時間_機能訓練関連行為", "rehabilitation_minutes", _Presence.REQUIRED),
    ("基準時間_医療関連行為", "medical_minutes", _Presence.REQUIRED),
    ("中間評価項目得点_第1群", "group1_score", _Presence.REQUIRED),
    ("中間評価項目得点_第2群", "group2_score", _Presence.REQUIRED),
    ("中間評価項目得点_第3群", "group3_score", _Presence.REQUIRED),
    ("中間評価項目得点_第4群", "group4_score", _Presence.REQUIRED),
    ("中間評価項目得点_第5群", "group5_score", _Presence.REQUIRED),
    ("状態の安定性", "stability", _Presence.NULLABLE),
    ("認知症自立度II以上の蓋然性", "dementia_probability", _Presence.NULLABLE),
    ("警告コード", "warning_code", _Presence.OPTIONAL),
)
_COLUMN_OF_FIELD = {field: column for column, field, _ in RESULT_COLUMNS}


@dataclass(frozen=True)
class CsvIssue:
    """One problem in an imported file: the physical line (the header is line 1) and the column."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        return (
            f"{self.line}行目 {self.column}: {self.message}"
            if self.column
            else f"{self.line}行目: {self.message}"
        )


class AlwaysjCsvError(ValueError):
    """The result file was refused; `issues` lists every problem found, by line and column."""

    def __init__(self, issues: Sequence[CsvIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def _decode(data: str | bytes, encoding: str) -> str:
    if isinstance(data, str):
        return data
    codec = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        raise AlwaysjCsvError([CsvIssue(1, None, f"文字コード {encoding} として読めません")]) from None


def parse_primary_result_csv(data: str | bytes, *, encoding: str = "utf-8") -> list[PrimaryResultRecord]:
    """The 一次判定 result records of a CSV file; AlwaysjCsvError names every bad line and column.

    Unknown extra columns are ignored (the software prints more than kaigo-flow keeps).
    """
    text = _decode(data, encoding).removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise AlwaysjCsvError([CsvIssue(1, None, "見出し行がありません")]) from None
    except csv.Error as exc:
        raise AlwaysjCsvError([CsvIssue(1, None, f"CSV の形式が正しくありません ({exc})")]) from None

    issues: list[CsvIssue] = []
    positions: dict[str, int] = {}
    for column, _, presence in RESULT_COLUMNS:
        if column in header:
            if header.count(column) > 1:
                issues.append(CsvIssue(1, column, "同じ見出しの列が複数あります"))
            positions[column] = header.index(column)
        elif presence is not _Presence.OPTIONAL:
            issues.append(CsvIssue(1, column, "列がありません"))
    if issues:
        raise AlwaysjCsvError(issues)

    records: list[PrimaryResultRecord] = []
    seen: dict[tuple[str, date], int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.append(CsvIssue(reader.line_num, None, f"CSV の形式が正しくありません ({exc})"))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, e.g. a trailing one
        if len(cells) != len(header):
            message = f"列の数 ({len(cells)}) が見出し行 ({len(header)}) と一致しません"
            issues.append(CsvIssue(line, None, message))
            continue
        values = {
            field: cells[positions[column]].strip() or None
            for column, field, _ in RESULT_COLUMNS
            if column in positions
        }
        blanks = [
            CsvIssue(line, column, "値がありません")
            for column, field, presence in RESULT_COLUMNS
            if presence is _Presence.REQUIRED and values[field] is None
        ]
        if blanks:
            issues.extend(blanks)
            continue
        try:
            record = PrimaryResultRecord.model_validate(values)
        except ValidationError as exc:
            issues.extend(_issues_of(line, exc))
            continue
        key = (record.insured_no, record.applied_on)
        if key in seen:
            issues.append(CsvIssue(line, "被保険者番号", f"{seen[key]}行目と同じ申請の結果です"))
            continue
        seen[key] = line
        records.append(record)
    if issues:
        raise AlwaysjCsvError(issues)
    return records


def _issues_of(line: int, exc: ValidationError) -> list[CsvIssue]:
    issues = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        ctx = error.get("ctx") or {}
        message = str(ctx["error"]) if "error" in ctx else "形式が正しくありません"
        issues.append(CsvIssue(line, _COLUMN_OF_FIELD.get(field), message))
    return issues
