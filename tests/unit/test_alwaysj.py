"""一次判定 interface: the 申請情報 export and the result import, with errors by line and column."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from models.alwaysj import (
    EXPORT_HEAD_COLUMNS,
    EXPORT_TAIL_COLUMNS,
    RESULT_COLUMNS,
    AlwaysjCsvError,
    ApplicationExportRow,
    CsvIssue,
    PrimaryResultRecord,
    export_application_record,
    export_columns,
    parse_primary_result_csv,
)
from models.physician_opinion import PhysicianOpinion
from models.survey import SURVEY_SCHEMAS, SurveyRecord, SurveySchema, get_schema, list_item_definitions
from rules.primary_determination import CareLevel, Stability
from tests.survey_fixtures import complete_opinion_payload, complete_survey_answers, complete_survey_payload


def _row(**fields: Any) -> ApplicationExportRow:
    values: dict[str, Any] = {
        "insurer_no": "012047",
        "insured_no": "0100000001",
        "applied_on": date(2025, 4, 1),
        "application_kind": "renewal",
        "insured_category": "1",
        "sex": "2",
        "birth_date": date(1940, 4, 2),
        "previous_level": "要介護1",
        "previous_valid_from": date(2024, 5, 1),
        "previous_valid_to": date(2025, 4, 30),
        "survey": complete_survey_payload(),
        "opinion": complete_opinion_payload(),
    }
    values.update(fields)
    return ApplicationExportRow.model_validate(values)


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# --------------------------------------------------------------------------------------------- export


def test_export_columns() -> None:
    columns = export_columns()
    assert len(columns) == len(EXPORT_HEAD_COLUMNS) + 74 + len(EXPORT_TAIL_COLUMNS) == 98
    assert columns[:3] == ("保険者番号", "被保険者番号", "認定申請日")
    answers = columns[len(EXPORT_HEAD_COLUMNS) : -len(EXPORT_TAIL_COLUMNS)]
    assert answers == tuple(f"調査{item.id}" for item in list_item_definitions())
    assert answers[0] == "調査1-1-1" and answers[-1] == "調査6-12"
    assert columns[-1] == "意見書_食事行為"


def test_export_row_values() -> None:
    answers = complete_survey_answers({"2-2": "3", "3-1": "2", "6-5": "2"})
    survey = complete_survey_payload(
        answers=answers, physical_independence="A2", dementia_independence="IIIa"
    )
    opinion = complete_opinion_payload(
        dementia_independence="M", short_term_memory="problem", communication="cannot_communicate"
    )
    text = export_application_record([_row(survey=survey, opinion=opinion)])
    (row,) = _read(text)
    assert row["保険者番号"] == "012047"
    assert row["被保険者番号"] == "0100000001"
    assert row["認定申請日"] == "20250401"
    assert row["申請区分"] == "2"  # 更新申請
    assert row["被保険者区分"] == "1"
    assert row["性別"] == "2"
    assert row["生年月日"] == "19400402"
    assert row["年齢"] == "85"  # the 85th year is attained on 2025-04-01, the day before the birthday
    assert row["前回要介護状態区分"] == "21"
    assert (row["前回認定有効期間開始日"], row["前回認定有効期間終了日"]) == ("20240501", "20250430")
    assert row["特定疾病コード"] == ""
    assert row["調査票版"] == "2021"
    assert row["調査実施日"] == "20250410"
    assert row["現在の状況"] == "1"
    assert (row["調査2-2"], row["調査3-1"], row["調査6-5"], row["調査6-4"]) == ("3", "2", "2", "1")
    assert row["調査_障害高齢者の日常生活自立度"] == "5"  # A2
    assert row["調査_認知症高齢者の日常生活自立度"] == "5"  # IIIa
    assert row["意見書記入日"] == "20250414"
    assert row["意見書_障害高齢者の日常生活自立度"] == "3"  # J2
    assert row["意見書_認知症高齢者の日常生活自立度"] == "8"  # M
    assert row["意見書_短期記憶"] == "2"
    assert row["意見書_認知能力"] == "1"
    assert row["意見書_伝達能力"] == "4"
    assert row["意見書_食事行為"] == "1"


def test_export_is_crlf_without_bom_and_one_line_per_application() -> None:
    text = export_application_record([_row(), _row(insured_no="0100000002", application_kind="new")])
    assert not text.startswith("\ufeff")
    assert text.count("\r\n") == 3 and "\n" not in text.replace("\r\n", "")
    assert [r["申請区分"] for r in _read(text)] == ["2", "1"]


def test_export_of_nothing_is_the_header() -> None:
    assert export_application_record([]) == ",".join(export_columns()) + "\r\n"


def test_export_for_a_second_category_applicant() -> None:
    row = _row(
        insured_category="2",
        birth_date=date(1965, 6, 1),
        application_kind="new",
        previous_level=None,
        previous_valid_from=None,
        previous_valid_to=None,
        specified_disease="13",
    )
    (exported,) = _read(export_application_record([row]))
    assert (exported["被保険者区分"], exported["年齢"], exported["特定疾病コード"]) == ("2", "59", "13")
    assert exported["前回要介護状態区分"] == exported["前回認定有効期間開始日"] == ""


def test_export_carries_no_name_address_or_phone() -> None:
    assert not {"name", "name_kanji", "name_kana", "address", "phone", "postal_code"} & set(
        ApplicationExportRow.model_fields
    )
    with pytest.raises(ValidationError):
        _row(name_kanji="旭川 花子")
    header = export_columns()
    assert not [c for c in header if any(word in c for word in ("氏名", "住所", "電話", "郵便"))]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "shift_jis"])
def test_export_encodings(encoding: str) -> None:
    text = export_application_record([_row()], encoding=encoding)
    assert text.encode(encoding).decode(encoding) == text


def test_export_refuses_unusable_encodings() -> None:
    with pytest.raises(ValueError, match="文字コード no-such-codec は使用できません"):
        export_application_record([_row()], encoding="no-such-codec")
    with pytest.raises(ValueError, match="文字コード ascii で表せない文字があります"):
        export_application_record([_row()], encoding="ascii")


def test_export_row_checks() -> None:
    with pytest.raises(ValidationError) as caught:
        _row(birth_date=date(2025, 4, 1), previous_valid_to=None)
    assert {e["loc"] for e in caught.value.errors()} == {("birth_date",), ("previous_valid_to",)}
    with pytest.raises(ValidationError) as caught:
        _row(previous_valid_from=date(2025, 5, 1))
    assert caught.value.errors()[0]["msg"] == "前回認定有効期間の終了日が開始日より前です"
    with pytest.raises(ValidationError) as caught:
        _row(insured_no="123")
    assert caught.value.errors()[0]["msg"] == "Value error, 被保険者番号は10桁の数字で入力してください"


def test_export_refuses_a_survey_schema_it_cannot_map() -> None:
    SURVEY_SCHEMAS["test-old"] = SurveySchema("test-old", "試験用", get_schema().items)
    try:
        survey = SurveyRecord.model_validate(complete_survey_payload(schema_version="test-old"))
        with pytest.raises(ValidationError) as caught:
            _row(survey=survey)
        (error,) = caught.value.errors()
        assert error["loc"] == ("survey", "schema_version")
        assert error["msg"] == "調査票の版 test-old は一次判定の連携に対応していません"
    finally:
        del SURVEY_SCHEMAS["test-old"]


def test_export_row_accepts_built_models() -> None:
    survey = SurveyRecord.model_validate(complete_survey_payload())
    opinion = PhysicianOpinion.model_validate(complete_opinion_payload())
    assert _row(survey=survey, opinion=opinion).survey is survey


# --------------------------------------------------------------------------------------------- import

RESULT_HEADER = [column for column, _, _ in RESULT_COLUMNS]
GOOD_RESULT = {
    "保険者番号": "012047",
    "被保険者番号": "0100000001",
    "認定申請日": "20250401",
    "一次判定日": "20250418",
    "一次判定結果": "13",
    "基準時間": "41.5",
    "基準時間_食事": "10.2",
    "基準時間_排泄": "5.1",
    "基準時間_移動": "3.0",
    "基準時間_清潔保持": "6.4",
    "基準時間_間接生活介助": "4.8",
    "基準時間_BPSD関連行為": "6.0",
    "基準時間_機能訓練関連行為": "3.5",
    "基準時間_医療関連行為": "2.5",
    "中間評価項目得点_第1群": "85.3",
    "中間評価項目得点_第2群": "90.0",
    "中間評価項目得点_第3群": "100.0",
    "中間評価項目得点_第4群": "98.2",
    "中間評価項目得点_第5群": "75.0",
    "状態の安定性": "1",
    "認知症自立度II以上の蓋然性": "",
    "警告コード": "",
}


def _result_csv(*rows: dict[str, str], header: list[str] | None = None, newline: str = "\r\n") -> str:
    columns = header or RESULT_HEADER
    lines = [",".join(columns)] + [",".join(row.get(column, "") for column in columns) for row in rows]
    return newline.join(lines) + newline


def _issues(data: str | bytes, **kwargs: Any) -> list[str]:
    with pytest.raises(AlwaysjCsvError) as caught:
        parse_primary_result_csv(data, **kwargs)
    return [str(issue) for issue in caught.value.issues]


def test_parse_a_good_result() -> None:
    (record,) = parse_primary_result_csv(_result_csv(GOOD_RESULT))
    assert record.insurer_no == "012047"
    assert record.insured_no == "0100000001"
    assert (record.applied_on, record.determined_on) == (date(2025, 4, 1), date(2025, 4, 18))
    assert record.level is CareLevel.SUPPORT_2
    assert record.total_minutes == Decimal("41.5")
    assert record.category_times.total == Decimal("41.5")
    assert record.transfer_minutes == Decimal("3.0") and str(record.transfer_minutes) == "3.0"
    assert [record.group1_score, record.group3_score] == [Decimal("85.3"), Decimal("100.0")]
    assert record.stability is Stability.STABLE
    assert record.dementia_probability is None
    assert record.warning_code is None


def test_round_trip_export_then_result() -> None:
    rows = [_row(), _row(insured_no="0100000002", applied_on=date(2025, 4, 3), application_kind="new")]
    exported = _read(export_application_record(rows))
    # The national software answers each exported application with one result line.
    results = [
        {
            **GOOD_RESULT,
            "被保険者番号": line["被保険者番号"],
            "認定申請日": line["認定申請日"],
            "保険者番号": line["保険者番号"],
        }
        for line in exported
    ]
    results[1].update({"一次判定結果": "21", "状態の安定性": "2", "認知症自立度II以上の蓋然性": "62.5"})
    records = parse_primary_result_csv(_result_csv(*results))
    assert [(r.insured_no, r.applied_on) for r in records] == [
        (row.insured_no, row.applied_on) for row in rows
    ]
    assert records[1].level is CareLevel.CARE_1
    assert records[1].stability is Stability.UNSTABLE
    assert records[1].dementia_probability == Decimal("62.5")


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_parse_accepts_bom_and_line_ends(newline: str, bom: str) -> None:
    text = bom + _result_csv(GOOD_RESULT, newline=newline)
    assert parse_primary_result_csv(text)[0].insured_no == "0100000001"
    assert parse_primary_result_csv(text.encode("utf-8"))[0].insured_no == "0100000001"


def test_parse_shift_jis_bytes() -> None:
    data = _result_csv(GOOD_RESULT).encode("cp932")
    assert parse_primary_result_csv(data, encoding="cp932")[0].level is CareLevel.SUPPORT_2
    assert _issues(data) == ["1行目: 文字コード utf-8 として読めません"]


def test_parse_columns_in_any_order_extra_columns_ignored_and_optional_columns_absent() -> None:
    header = ["備考", *reversed(RESULT_HEADER)]
    header.remove("保険者番号")
    header.remove("警告コード")
    (record,) = parse_primary_result_csv(_result_csv({**GOOD_RESULT, "備考": "x"}, header=header))
    assert record.insurer_no is None and record.total_minutes == Decimal("41.5")


def test_parse_iso_dates_and_blank_lines() -> None:
    text = _result_csv({**GOOD_RESULT, "一次判定日": "2025-04-18"}) + "\r\n,,,\r\n"
    assert parse_primary_result_csv(text)[0].determined_on == date(2025, 4, 18)


def test_parse_header_only_is_no_records() -> None:
    assert parse_primary_result_csv(",".join(RESULT_HEADER) + "\r\n") == []


def test_parse_empty_file() -> None:
    assert _issues("") == ["1行目: 見出し行がありません"]


def test_missing_columns_are_named() -> None:
    header = [c for c in RESULT_HEADER if c not in ("基準時間_排泄", "状態の安定性")]
    assert _issues(_result_csv(GOOD_RESULT, header=header)) == [
        "1行目 基準時間_排泄: 列がありません",
        "1行目 状態の安定性: 列がありません",
    ]


def test_duplicate_header_is_refused() -> None:
    assert _issues(_result_csv(GOOD_RESULT, header=[*RESULT_HEADER, "基準時間"])) == [
        "1行目 基準時間: 同じ見出しの列が複数あります"
    ]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("基準時間", "4x.5", "数値で入力してください"),
        ("基準時間", "41.55", "小数点以下1桁までで入力してください"),
        ("基準時間", "-1", "0〜1440 の範囲で入力してください"),
        ("中間評価項目得点_第2群", "100.1", "0〜100 の範囲で入力してください"),
        ("認知症自立度II以上の蓋然性", "NaN", "数値で入力してください"),
        ("被保険者番号", "010000001", "被保険者番号は10桁の数字で入力してください"),
        ("被保険者番号", "01000000O1", "被保険者番号は10桁の数字で入力してください"),
        ("保険者番号", "12047", "保険者番号は6桁の数字で入力してください"),
        ("一次判定日", "2025041", "日付は YYYYMMDD 形式で入力してください"),
        ("一次判定日", "20250231", "日付が正しくありません"),
        ("一次判定結果", "11", "要介護状態区分コード (01, 12, 13, 21〜25) で入力してください"),
        ("状態の安定性", "3", "1 (安定) または 2 (不安定) で入力してください"),
        ("警告コード", "A-1", "形式が正しくありません"),
        ("被保険者番号", "", "値がありません"),
        ("基準時間_医療関連行為", " ", "値がありません"),
    ],
)
def test_bad_cells_name_line_and_column(column: str, value: str, message: str) -> None:
    text = _result_csv(GOOD_RESULT, {**GOOD_RESULT, "被保険者番号": "0100000002", column: value})
    assert _issues(text) == [f"3行目 {column}: {message}"]


def test_every_bad_line_is_reported() -> None:
    text = _result_csv(
        {**GOOD_RESULT, "基準時間": "abc"},
        GOOD_RESULT,
        {**GOOD_RESULT, "被保険者番号": "12", "基準時間_食事": "x"},
    )
    assert _issues(text) == [
        "2行目 基準時間: 数値で入力してください",
        "4行目 被保険者番号: 被保険者番号は10桁の数字で入力してください",
        "4行目 基準時間_食事: 数値で入力してください",
    ]


def test_wrong_cell_count() -> None:
    text = _result_csv(GOOD_RESULT) + "0100000002,20250401\r\n"
    assert _issues(text) == [f"3行目: 列の数 (2) が見出し行 ({len(RESULT_HEADER)}) と一致しません"]


def test_category_times_must_add_up_to_the_total() -> None:
    text = _result_csv({**GOOD_RESULT, "基準時間": "45.5"})
    (issue,) = _issues(text)
    assert issue.startswith("2行目 基準時間: ")
    assert "41.5" in issue and "45.5" in issue


def test_determination_cannot_precede_the_application() -> None:
    text = _result_csv({**GOOD_RESULT, "一次判定日": "20250331"})
    assert _issues(text) == ["2行目 一次判定日: 一次判定日が認定申請日より前です"]


def test_duplicate_application_is_refused() -> None:
    assert _issues(_result_csv(GOOD_RESULT, GOOD_RESULT)) == ["3行目 被保険者番号: 2行目と同じ申請の結果です"]


def test_quoted_cells_and_line_numbers_follow_physical_lines() -> None:
    # A quoted cell with a line break spans two physical lines; the next record's number follows them.
    header = [*RESULT_HEADER, "備考"]
    first = _result_csv({**GOOD_RESULT, "備考": '"一行目\r\n二行目"'}, header=header)
    text = first + ",".join([{**GOOD_RESULT, "基準時間": "x"}.get(c, "") for c in header]) + "\r\n"
    assert _issues(text) == ["4行目 基準時間: 数値で入力してください"]


def test_issue_formatting() -> None:
    assert str(CsvIssue(3, "基準時間", "数値で入力してください")) == "3行目 基準時間: 数値で入力してください"
    assert str(CsvIssue(1, None, "見出し行がありません")) == "1行目: 見出し行がありません"
    error = AlwaysjCsvError([CsvIssue(2, "a", "x"), CsvIssue(3, None, "y")])
    assert str(error) == "2行目 a: x\n3行目: y"


def test_result_record_accepts_typed_values() -> None:
    record = PrimaryResultRecord.model_validate(
        {
            **{field: GOOD_RESULT[column] for column, field, _ in RESULT_COLUMNS if GOOD_RESULT[column]},
            "applied_on": date(2025, 4, 1),
            "level": CareLevel.SUPPORT_2,
            "total_minutes": Decimal("41.5"),
            "stability": Stability.STABLE,
            "dementia_probability": 12,
        }
    )
    assert record.dementia_probability == Decimal("12.0")
    assert PrimaryResultRecord.model_validate_json(record.model_dump_json()) == record
