"""Adopting a previous system's certifications: stream the file, check every line, write all or none.

The file is read once, in chunks of CHUNK lines: each chunk's 被保険者番号 are looked up with one query
each for the registry and the certifications already held (no query per line), and its new certifications
are inserted in one statement — inside the caller's single transaction. After a line has failed every
later line is still checked, so the staff member sees every problem at once; the caller then rolls the
transaction back and nothing of the file is kept.

A certification's id is derived from its content key (被保険者番号 + 有効期間開始日) with the city's
keyed hash (the same key as the 個人番号 blind index): importing a file twice adds nothing, and the id does
not reveal the 被保険者番号 wherever it travels (workflow ids of renewal terms).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from kaigo.security import audit
from kaigo.security.audit import AuditEntry, Outcome
from models.alwaysj import CsvIssue
from models.certification import Certification, CertificationSource
from models.certification_import import (
    COLUMNS,
    DECIDED_ON,
    INSURED_NO,
    LEVEL,
    REQUIRED_COLUMNS,
    SERVICE_USE,
    VALID_FROM,
    VALID_TO,
    CertificationImport,
    ImportChannel,
    ImportedRow,
    ImportOutcome,
)
from models.common import utcnow
from models.registry import Insured
from rules.certification import recorded_validity_problem
from rules.primary_determination import CareLevel
from workflows.renewal import RECONCILE_SCHEDULE_ID

CHUNK = 2_000
MAX_ROWS = 200_000  # a large city's certified residents several times over
MAX_CELL = 32  # the longest lawful value is a date or 要介護状態区分; anything longer is not this file
MAX_ISSUES = 1_000  # a wrong file would otherwise list every line of it
_HEAD_BYTES = 64 * 1024
_IMPORT_LOCK = "certification-import"
MAX_LINE_BYTES = 64 * 1024
_CODEC_LABELS = {"utf-8-sig": "UTF-8", "cp932": "Shift_JIS (CP932)"}
_INSURED_NO = re.compile(r"^[0-9]{10}$")
_DATE = re.compile(r"^([0-9]{4})[-/]?([0-9]{1,2})[-/]?([0-9]{1,2})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LEVELS = {level.value: level for level in CareLevel if level is not CareLevel.NOT_APPLICABLE}
_SERVICE_USE = {"有": True, "無": False, "": True}
_LEVEL_CHOICES = "、".join(_LEVELS)


class CertificationCsvError(ValueError):
    """The file was refused; `issues` lists every problem found, by line and column."""

    def __init__(self, issues: list[CsvIssue], *, rows: int = 0) -> None:
        self.issues = issues
        self.rows = rows
        super().__init__("\n".join(str(issue) for issue in issues[:20]))


# ---------------------------------------------------------------------------------------- the file's text


def _codec(name: str) -> str:
    """The codec for a name staff type. Only encodings where a newline byte is always a newline (the file
    is split into lines before decoding): UTF-8 (a BOM tolerated), Shift_JIS as Windows' CP932 (what city
    systems export, with NEC/IBM extensions such as ①), EUC-JP."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        canonical = "cp932" if name.strip().lower() == "windows-31j" else ""  # CP932's IANA name
    if canonical in ("utf-8", "utf-8-sig"):
        return "utf-8-sig"
    if canonical in ("shift_jis", "cp932", "shift_jis_2004", "shift_jisx0213"):
        return "cp932"
    if canonical == "euc_jp":
        return canonical
    raise CertificationCsvError(
        [CsvIssue(1, None, f"文字コード {name} は使えません (UTF-8、Shift_JIS (CP932)、EUC-JP)")]
    )


def detect_encoding(head: bytes) -> str:
    """UTF-8 or CP932, decided by the header row: it must read as either and name 被保険者番号."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    header = head.split(b"\n", 1)[0]
    for codec in ("utf-8", "cp932"):
        try:
            if INSURED_NO in header.decode(codec):
                return "utf-8-sig" if codec == "utf-8" else codec
        except UnicodeDecodeError:
            continue
    raise CertificationCsvError(
        [
            CsvIssue(
                1,
                None,
                "見出し行を UTF-8 としても Shift_JIS (CP932) としても読めないか、被保険者番号の列がありません"
                " (文字コードは --encoding / Content-Type の charset で指定できます)",
            )
        ]
    )


class _Unreadable(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class TextLines:
    """The file's physical lines as text, decoded one at a time so a bad byte is reported on its own line
    (a whole-buffer decoder would fail thousands of lines early). Newline bytes never occur inside a UTF-8
    or CP932 character, so splitting the bytes first is safe."""

    stream: IO[bytes]
    codec: str
    read: int = 0

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.codec)("strict")
        while raw := self.stream.readline(MAX_LINE_BYTES + 1):
            self.read += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise _Unreadable(self.read, f"1行が長すぎます ({MAX_LINE_BYTES} バイトまで)")
            try:
                yield decoder.decode(raw)
            except UnicodeDecodeError:
                label = _CODEC_LABELS.get(self.codec, self.codec)
                raise _Unreadable(self.read, f"文字コード {label} として読めない文字があります") from None


def open_text(stream: IO[bytes], encoding: str | None) -> TextLines:
    """The file as lines of text, streamed; `encoding` None detects it from the header row (then rewinds)."""
    if encoding is None:
        head = stream.read(_HEAD_BYTES)
        stream.seek(0)
        return TextLines(stream, detect_encoding(head))
    return TextLines(stream, _codec(encoding))


def sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------- line checks


def _date(raw: str) -> date:
    match = _DATE.match(raw)
    if not match:
        raise ValueError("日付は YYYY-MM-DD、YYYY/MM/DD または YYYYMMDD で入力してください")
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise ValueError("存在しない日付です") from None


def _parse_line(line: int, cells: dict[str, str], today: date) -> ImportedRow | list[CsvIssue]:
    """The line's certification, or every problem of its cells."""
    issues: list[CsvIssue] = []
    clean: dict[str, str] = {}
    for column, raw in cells.items():
        if _CONTROL.search(raw):
            issues.append(CsvIssue(line, column, "制御文字 (NUL など) は使えません"))
        elif len(raw) > MAX_CELL:
            issues.append(CsvIssue(line, column, f"長すぎます ({len(raw)}文字; {MAX_CELL}文字まで)"))
        else:
            clean[column] = unicodedata.normalize("NFKC", raw).strip()
    values: dict[str, object] = {}
    if INSURED_NO in clean:
        if _INSURED_NO.match(clean[INSURED_NO]):
            values[INSURED_NO] = clean[INSURED_NO]
        else:
            issues.append(CsvIssue(line, INSURED_NO, "半角数字10桁で入力してください"))
    if LEVEL in clean:
        level = _LEVELS.get(clean[LEVEL])
        if level is None:
            message = f"要介護状態区分は {_LEVEL_CHOICES} のいずれかです"
            if clean[LEVEL] == CareLevel.NOT_APPLICABLE.value:
                message = "非該当は認定ではないため取り込めません"
            issues.append(CsvIssue(line, LEVEL, message))
        else:
            values[LEVEL] = level
    for column in (VALID_FROM, VALID_TO, DECIDED_ON):
        if column in clean:
            try:
                values[column] = _date(clean[column])
            except ValueError as error:
                issues.append(CsvIssue(line, column, str(error)))
    service_use = True
    if SERVICE_USE in clean:
        if clean[SERVICE_USE] in _SERVICE_USE:
            service_use = _SERVICE_USE[clean[SERVICE_USE]]
        else:
            issues.append(CsvIssue(line, SERVICE_USE, "有 または 無 で入力してください (空欄は有)"))
    valid_from, valid_to, decided_on = (values.get(c) for c in (VALID_FROM, VALID_TO, DECIDED_ON))
    if isinstance(valid_from, date) and isinstance(valid_to, date):
        problem = recorded_validity_problem(valid_from, valid_to)
        if problem:
            issues.append(CsvIssue(line, VALID_TO, problem))
    if isinstance(decided_on, date):
        if decided_on > today:
            issues.append(CsvIssue(line, DECIDED_ON, "認定日が今日より後です"))
        elif isinstance(valid_to, date) and decided_on > valid_to:
            issues.append(CsvIssue(line, DECIDED_ON, "認定日が有効期間の終了日より後です"))
    if issues:
        return issues
    return ImportedRow(
        line=line,
        insured_no=str(values[INSURED_NO]),
        level=values[LEVEL],  # type: ignore[arg-type]
        valid_from=valid_from,  # type: ignore[arg-type]
        valid_to=valid_to,  # type: ignore[arg-type]
        decided_on=decided_on,  # type: ignore[arg-type]
        service_use_last_year=service_use,
    )


def read_rows(text: TextLines, today: date) -> Iterator[ImportedRow | CsvIssue]:
    """Every line's certification or its problems, streamed; duplicate keys in the file are problems."""
    reader = csv.reader(text)
    try:
        header = [cell.strip().lstrip("\ufeff") for cell in next(reader)]
    except StopIteration:
        yield CsvIssue(1, None, "見出し行がありません")
        return
    except csv.Error as exc:
        yield CsvIssue(1, None, f"見出し行を読めません ({exc})")
        return
    except _Unreadable as exc:
        yield CsvIssue(exc.line, None, exc.message)
        return
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    doubled = [column for column in COLUMNS if header.count(column) > 1]
    if missing or doubled:
        yield from (CsvIssue(1, column, "列がありません") for column in missing)
        yield from (CsvIssue(1, column, "同じ見出しの列が複数あります") for column in doubled)
        return
    positions = {column: header.index(column) for column in COLUMNS if column in header}
    seen: dict[tuple[str, date], int] = {}
    rows = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield CsvIssue(text.read, None, f"CSV の形式が正しくありません ({exc})")
            return
        except _Unreadable as exc:
            yield CsvIssue(exc.line, None, exc.message)
            return
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        rows += 1
        if rows > MAX_ROWS:
            yield CsvIssue(line, None, f"1ファイル {MAX_ROWS} 行までです。分けて取り込んでください")
            return
        if len(cells) != len(header):
            yield CsvIssue(line, None, f"列の数 ({len(cells)}) が見出し行 ({len(header)}) と一致しません")
            continue
        parsed = _parse_line(line, {column: cells[at] for column, at in positions.items()}, today)
        if isinstance(parsed, list):
            yield from parsed
            continue
        key = (parsed.insured_no, parsed.valid_from)
        if key in seen:
            yield CsvIssue(
                line, VALID_FROM, f"同じ被保険者・同じ有効期間開始日の行が {seen[key]}行目にもあります"
            )
            continue
        seen[key] = line
        yield parsed


# ------------------------------------------------------------------------------------------ the database


@dataclass
class ImportCounts:
    rows: int = 0
    added: int = 0
    already: int = 0
    issues: list[CsvIssue] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # id → line, for the certifications of this file


@dataclass(frozen=True, slots=True)
class _Held:
    id: str
    level: str
    valid_from: date | None
    valid_to: date | None
    decided_on: date
    service_use_last_year: bool


def certification_id(key: Callable[[str], str], insured_no: str, valid_from: date) -> str:
    """The imported certification's id: a keyed hash of its content key (32 characters)."""
    return "imp" + key(f"certification-import:{insured_no}:{valid_from.isoformat()}")[:29]


def _same(held: _Held, row: ImportedRow) -> bool:
    return (held.level, held.valid_from, held.valid_to, held.decided_on, held.service_use_last_year) == (
        row.level.value,
        row.valid_from,
        row.valid_to,
        row.decided_on,
        row.service_use_last_year,
    )


def _span(held: _Held) -> str:
    return f"{held.valid_from}〜{held.valid_to} {held.level}"


async def _check_and_write(
    session: AsyncSession,
    chunk: list[ImportedRow],
    counts: ImportCounts,
    key: Callable[[str], str],
) -> None:
    numbers = list({row.insured_no for row in chunk})
    atena_of = dict(
        (
            await session.exec(
                select(Insured.insured_no, Insured.atena_no).where(col(Insured.insured_no).in_(numbers))
            )
        ).all()
    )
    held: dict[str, list[_Held]] = {}
    for found in (
        await session.exec(
            select(
                Certification.insured_no,
                Certification.id,
                Certification.level,
                Certification.valid_from,
                Certification.valid_to,
                Certification.decided_on,
                Certification.service_use_last_year,
            ).where(col(Certification.insured_no).in_(numbers))
        )
    ).all():
        held.setdefault(found[0], []).append(_Held(*found[1:]))
    new: list[dict[str, object]] = []
    now = utcnow()
    for row in chunk:
        atena_no = atena_of.get(row.insured_no)
        if atena_no is None:
            counts.issues.append(CsvIssue(row.line, INSURED_NO, "被保険者台帳にない被保険者番号です"))
            continue
        mine = held.setdefault(row.insured_no, [])
        overlapping = [
            h
            for h in mine
            if h.valid_from is not None
            and h.valid_to is not None
            and h.valid_from <= row.valid_to
            and row.valid_from <= h.valid_to
        ]
        if (
            any(h.valid_from == row.valid_from and _same(h, row) for h in overlapping)
            and len(overlapping) == 1
        ):
            counts.already += 1
            continue
        if overlapping:
            in_file = [counts.lines[h.id] for h in overlapping if h.id in counts.lines]
            shown = "、".join(_span(h) for h in overlapping[:3])
            if in_file:
                message = f"有効期間が {in_file[0]}行目の認定と重なっています"
            elif any(h.valid_from == row.valid_from for h in overlapping):
                message = f"同じ有効期間開始日の認定が内容を変えて登録済みです ({shown})"
            else:
                message = f"有効期間が登録済みの認定と重なっています ({shown})"
            counts.issues.append(CsvIssue(row.line, VALID_FROM, message))
            continue
        new_id = certification_id(key, row.insured_no, row.valid_from)
        counts.lines[new_id] = row.line
        mine.append(
            _Held(
                new_id,
                row.level.value,
                row.valid_from,
                row.valid_to,
                row.decided_on,
                row.service_use_last_year,
            )
        )
        new.append(
            {
                "id": new_id,
                "atena_no": atena_no,
                "insured_no": row.insured_no,
                "level": row.level.value,
                "valid_from": row.valid_from,
                "valid_to": row.valid_to,
                "decided_on": row.decided_on,
                "service_types": [],
                "service_use_last_year": row.service_use_last_year,
                "source": CertificationSource.IMPORTED.value,
                "created_at": now,
            }
        )
    if new:  # also after a problem: later chunks then see these rows too; the caller rolls back
        await (await session.connection()).execute(sa.insert(Certification), new)
    counts.added += len(new)


async def import_rows(
    session: AsyncSession,
    rows: Iterator[ImportedRow | CsvIssue],
    *,
    key: Callable[[str], str],
    on_chunk: Callable[[int], None] | None = None,
) -> ImportCounts:
    """Check every line and insert the new certifications in the caller's transaction.

    Raises CertificationCsvError with every problem if any line fails: the caller must then roll back
    (nothing of the file is kept). `on_chunk(rows so far)` reports progress.
    """
    counts = ImportCounts()
    chunk: list[ImportedRow] = []
    for item in rows:
        if isinstance(item, CsvIssue):
            counts.issues.append(item)
            if len(counts.issues) >= MAX_ISSUES:
                counts.issues.append(
                    CsvIssue(item.line, None, f"誤りが {MAX_ISSUES} 件を超えたため中止しました")
                )
                break
            continue
        counts.rows += 1
        chunk.append(item)
        if len(chunk) >= CHUNK:
            await _check_and_write(session, chunk, counts, key)
            chunk = []
            if on_chunk is not None:
                on_chunk(counts.rows)
    if chunk:
        await _check_and_write(session, chunk, counts, key)
    if on_chunk is not None:
        on_chunk(counts.rows)
    if counts.issues:
        counts.issues.sort(key=lambda issue: issue.line)
        raise CertificationCsvError(counts.issues, rows=counts.rows)
    if counts.rows == 0:
        raise CertificationCsvError([CsvIssue(2, None, "明細行がありません")])
    return counts


def summary(added: int, already: int, reconciliation_started: bool) -> str:
    then = (
        "更新案内の照合を開始しました" if reconciliation_started else "更新案内は翌日の定時照合から始まります"
    )
    return f"{added} 件追加, {already} 件は登録済み。{then}"


# ------------------------------------------------------------------------------------------- one import

AuditFactory = Callable[[Outcome, dict[str, Any]], AuditEntry]


async def import_file(
    sessions: async_sessionmaker[AsyncSession],
    stream: IO[bytes],
    *,
    encoding: str | None,
    key: Callable[[str], str],
    actor: str,
    channel: ImportChannel,
    audit_entry: AuditFactory,
    today: date,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[str, ImportCounts]:
    """Import a whole file in one transaction, with its log row and audit entry; (import id, counts).

    A refused file raises CertificationCsvError after its refusal is logged and audited in a transaction
    of its own (the import's own was rolled back: nothing of the file is kept).
    """
    import_id = uuid.uuid4().hex
    sha256 = sha256_of(stream)
    log = CertificationImport(
        id=import_id, actor=actor[:64], channel=channel.value, file_sha256=sha256, outcome=""
    )
    try:
        text = open_text(stream, encoding)
        codec = text.codec
        async with sessions() as session, session.begin():
            # One import at a time: two at once could both find a key free and collide on insert.
            await session.exec(  # type: ignore[call-overload]
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))").bindparams(key=_IMPORT_LOCK)
            )
            counts = await import_rows(session, read_rows(text, today), key=key, on_chunk=on_chunk)
            log.outcome = ImportOutcome.IMPORTED.value
            log.rows, log.added, log.already = counts.rows, counts.added, counts.already
            session.add(log)
            detail = {"import_id": import_id, "file_sha256": sha256, "encoding": codec}
            detail |= {"rows": counts.rows, "added": counts.added, "already": counts.already}
            await audit.append(session, [audit_entry("success", detail)])
    except CertificationCsvError as error:
        log.outcome, log.rows, log.errors = ImportOutcome.REFUSED.value, error.rows, len(error.issues)
        async with sessions() as session, session.begin():
            session.add(log)
            detail = {"import_id": import_id, "file_sha256": sha256, "rows": error.rows}
            await audit.append(session, [audit_entry("failure", detail | {"errors": len(error.issues)})])
        raise
    return import_id, counts


# ------------------------------------------------------------------------------- after a committed import

RECONCILIATION_SCHEDULE_ID = RECONCILE_SCHEDULE_ID  # the renewal procedure's daily reconciliation
_TRIGGER_TIMEOUT_SECONDS = 5.0


async def trigger_reconciliation(client: Client) -> bool:
    """Ask the renewal reconciliation to run now (terms start today, not tomorrow); False if it cannot —
    no such schedule yet, or Temporal down: then the next daily run starts them. Called after the commit,
    never inside the import's transaction."""
    try:
        async with asyncio.timeout(_TRIGGER_TIMEOUT_SECONDS):
            await client.get_schedule_handle(RECONCILIATION_SCHEDULE_ID).trigger()
    except (RPCError, TimeoutError, RuntimeError):
        return False
    return True
