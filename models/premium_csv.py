"""The collection system's daily 消込 file: one payment per line, validated line by line.

UTF-8 (BOM allowed), CRLF or LF, a header row with these columns in any order (extra columns are ignored):

    領収番号,被保険者番号,年度,期別,納付額,納付日

Dates are YYYYMMDD or YYYY-MM-DD, amounts whole yen without separators. Every problem is reported with its
line (the header is line 1) and column; a file with any problem is refused as a whole.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from pydantic import ValidationError

from models.alwaysj import CsvIssue
from models.restriction import PaymentIn

MAX_ROWS = 20_000
# column → PaymentIn field
COLUMNS: dict[str, str] = {
    "領収番号": "receipt_no",
    "被保険者番号": "insured_no",
    "年度": "fiscal_year",
    "期別": "period",
    "納付額": "amount",
    "納付日": "paid_on",
}
_COLUMN_OF = {field: column for column, field in COLUMNS.items()}
_INTEGER = re.compile(r"^[0-9]{1,9}$")
_DATE = re.compile(r"^([0-9]{4})-?([0-9]{2})-?([0-9]{2})$")


class PaymentCsvError(ValueError):
    def __init__(self, issues: list[CsvIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


def _cell(column: str, raw: str) -> object:
    value = raw.strip()
    field = COLUMNS[column]
    if field in ("fiscal_year", "period", "amount"):
        if not _INTEGER.match(value):
            raise ValueError("半角数字 (桁区切りなし) で入力してください")
        return int(value)
    if field == "paid_on":
        match = _DATE.match(value)
        if not match:
            raise ValueError("日付は YYYYMMDD または YYYY-MM-DD で入力してください")
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            raise ValueError("存在しない日付です") from None
    return value


def parse_payment_csv(data: bytes) -> list[tuple[int, PaymentIn]]:
    """(line, payment) for every line of the file; PaymentCsvError lists every problem found."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PaymentCsvError([CsvIssue(1, None, "UTF-8 として読めません")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise PaymentCsvError([CsvIssue(1, None, "見出し行がありません")]) from None
    except csv.Error as exc:
        raise PaymentCsvError([CsvIssue(1, None, f"CSV の形式が正しくありません ({exc})")]) from None
    issues = [CsvIssue(1, column, "列がありません") for column in COLUMNS if column not in header]
    issues += [
        CsvIssue(1, column, "同じ見出しの列が複数あります") for column in COLUMNS if header.count(column) > 1
    ]
    if issues:
        raise PaymentCsvError(issues)
    positions = {column: header.index(column) for column in COLUMNS}
    rows: list[tuple[int, PaymentIn]] = []
    seen: dict[str, int] = {}
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
            continue
        if len(rows) + len(issues) >= MAX_ROWS:
            issues.append(CsvIssue(line, None, f"1ファイル {MAX_ROWS} 行までです。分けて取り込んでください"))
            break
        if len(cells) != len(header):
            issues.append(
                CsvIssue(line, None, f"列の数 ({len(cells)}) が見出し行 ({len(header)}) と一致しません")
            )
            continue
        values: dict[str, object] = {}
        bad = False
        for column, position in positions.items():
            try:
                values[COLUMNS[column]] = _cell(column, cells[position])
            except ValueError as error:
                issues.append(CsvIssue(line, column, str(error)))
                bad = True
        if bad:
            continue
        try:
            payment = PaymentIn.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else ""
                ctx = error.get("ctx") or {}
                message = str(ctx["error"]) if "error" in ctx else str(error["msg"])
                issues.append(CsvIssue(line, _COLUMN_OF.get(field), message))
            continue
        if payment.receipt_no in seen:
            message = f"領収番号 {payment.receipt_no} が {seen[payment.receipt_no]}行目と重複しています"
            issues.append(CsvIssue(line, "領収番号", message))
            continue
        seen[payment.receipt_no] = line
        rows.append((line, payment))
    if issues:
        raise PaymentCsvError(issues)
    if not rows:
        raise PaymentCsvError([CsvIssue(2, None, "明細行がありません")])
    return rows
