"""Importing a previous system's certifications: POST /certification-imports, `kaigo import certifications`.

All or nothing per file, every problem named by line and column, a re-import adds nothing, CP932 files are
read, every import is logged with its file's SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleSpec,
    ScheduleState,
)
from typer.testing import CliRunner

from models.certification import Certification
from models.certification_import import CertificationImport
from models.common import today_in_japan
from services.certification_import import RECONCILIATION_SCHEDULE_ID
from tests.api.test_notices_api import audit_rows
from tests.certification_import_helpers import csv_text, insured_residents

Staff = Callable[[str], httpx.AsyncClient]
CSV = {"Content-Type": "text/csv"}


async def _post(client: httpx.AsyncClient, body: bytes, content_type: str = "text/csv") -> httpx.Response:
    return await client.post("/certification-imports", content=body, headers={"Content-Type": content_type})


async def _certifications(sessions: async_sessionmaker[AsyncSession]) -> list[Certification]:
    async with sessions() as session:
        query = select(Certification).order_by(col(Certification.insured_no), col(Certification.valid_from))
        return list((await session.exec(query)).all())


async def _imports(sessions: async_sessionmaker[AsyncSession]) -> list[CertificationImport]:
    async with sessions() as session:
        query = select(CertificationImport).order_by(col(CertificationImport.created_at))
        return list((await session.exec(query)).all())


async def test_a_good_file_imports_every_certification_as_imported(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b, c = await insured_residents(sessions, 3)
    body = "\ufeff" + csv_text(
        [
            f"{a},要介護2,2026-04-01,2027-03-31,2026-03-25,有",
            f"{b},要支援1,20260601,20271130,20260520,無",
            f"{c},要介護５,2026/9/1,2029/8/31,2026/8/20,",  # full-width 5, 36 months, blank: 有
        ]
    )
    response = await _post(as_staff("supervisor"), body.encode())
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows"], report["added"], report["already"]) == (3, 3, 0)
    # No renewal-reconciliation schedule on this server: the terms start at the next daily run.
    assert report["reconciliation_started"] is False
    assert report["message"] == "3 件追加, 0 件は登録済み。更新案内は翌日の定時照合から始まります"

    held = await _certifications(sessions)
    assert [
        (x.insured_no, x.level, x.valid_from, x.valid_to, x.decided_on, x.service_use_last_year, x.source)
        for x in held
    ] == [
        (a, "要介護2", date(2026, 4, 1), date(2027, 3, 31), date(2026, 3, 25), True, "imported"),
        (b, "要支援1", date(2026, 6, 1), date(2027, 11, 30), date(2026, 5, 20), False, "imported"),
        (c, "要介護5", date(2026, 9, 1), date(2029, 8, 31), date(2026, 8, 20), True, "imported"),
    ]
    # Ids reveal no 被保険者番号 (they travel into renewal workflow ids).
    assert all(x.id.startswith("imp") and len(x.id) == 32 and x.insured_no not in x.id for x in held)

    (log,) = await _imports(sessions)
    assert (log.actor, log.channel, log.outcome, log.rows, log.added, log.already) == (
        "supervisor",
        "api",
        "imported",
        3,
        3,
        0,
    )
    assert log.file_sha256 == hashlib.sha256(body.encode()).hexdigest()
    (audited,) = [
        r
        for r in await audit_rows(sessions, action="certification.import")
        if r.detail["import_id"] == log.id
    ]
    assert (audited.actor, audited.outcome, audited.detail["added"]) == ("supervisor", "success", 3)


async def test_a_file_with_bad_rows_lists_every_error_and_imports_nothing(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    r = await insured_residents(sessions, 10)
    supervisor = as_staff("supervisor")
    earlier = await _post(
        supervisor, csv_text([f"{r[7]},要介護1,2026-04-01,2027-03-31,2026-03-20,有"]).encode()
    )
    assert earlier.status_code == 201, earlier.text
    tomorrow = (today_in_japan() + timedelta(days=1)).isoformat()
    good = f"{r[0]},要介護2,2026-04-01,2027-03-31,2026-03-25,有"
    body = csv_text(
        [
            good,  # line 2
            "9999999999,要介護2,2026-04-01,2027-03-31,2026-03-25,有",  # 3: not in the registry
            f"{r[1]},要介護2,2026-02-30,2027-03-31,2026-01-25,有",  # 4: impossible date
            f"{r[2]},要介護2,2027-04-01,2026-03-31,2026-03-25,有",  # 5: start after end
            f"{r[3]},要介護2,2026-04-01,2030-06-30,2026-03-25,有",  # 6: 51 months
            f"{r[4]},要介護6,2026-04-01,2027-03-31,2026-03-25,有",  # 7: no such 区分
            f"{r[5]},要介護2,2026-04-01,2027-03-31,2026-03-25,😀",  # 8: emoji
            f"{'1' * 5000},要介護2,2026-04-01,2027-03-31,2026-03-25,有",  # 9: huge value
            good,  # 10: the same row twice
            f"{r[7]},要介護3,2026-10-01,2027-09-30,2026-09-20,有",  # 11: overlaps the earlier import
            f"{r[8]},要介護2,2026-04-01,2027-03-31,{tomorrow},有",  # 12: decided in the future
            f"{r[9]},要介護2,2026-04-01",  # 13: columns missing
            f"{r[9]},非該当,2026-04-01,2027-03-31,2026-03-25,有",  # 14: 非該当 is no certification
            f"{r[0]},要介護3,2026-10-01,2027-09-30,2026-09-20,有",  # 15: overlaps line 2 of this file
        ]
    )
    refused = await _post(supervisor, body.encode())
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert [(i["line"], i["column"]) for i in problem["issues"]] == [
        (3, "被保険者番号"),
        (4, "有効期間開始日"),
        (5, "有効期間終了日"),
        (6, "有効期間終了日"),
        (7, "要介護状態区分"),
        (8, "サービス利用"),
        (9, "被保険者番号"),
        (10, "有効期間開始日"),
        (11, "有効期間開始日"),
        (12, "認定日"),
        (13, None),
        (14, "要介護状態区分"),
        (15, "有効期間開始日"),
    ]
    messages = {i["line"]: i["message"] for i in problem["issues"]}
    assert messages[3] == "被保険者台帳にない被保険者番号です"
    assert messages[4] == "存在しない日付です"
    assert "法令上の上限は48か月" in messages[6]
    assert "2行目" in messages[10]
    assert "重なっています" in messages[11] and "2026-04-01〜2027-03-31 要介護1" in messages[11]
    assert messages[15] == "有効期間が 2行目の認定と重なっています"
    assert "何も登録していません" in problem["detail"]
    # Nothing of the file: only the earlier import's certification.
    assert [x.insured_no for x in await _certifications(sessions)] == [r[7]]
    logs = await _imports(sessions)
    assert [(x.outcome, x.errors) for x in logs] == [("imported", 0), ("refused", 13)]


async def test_a_reimport_adds_nothing_and_a_changed_row_under_the_same_key_is_refused(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b = await insured_residents(sessions, 2)
    supervisor = as_staff("supervisor")
    lines = [
        f"{a},要介護2,2026-04-01,2027-03-31,2026-03-25,有",
        f"{b},要支援2,2026-05-01,2027-04-30,2026-04-25,無",
    ]
    first = await _post(supervisor, csv_text(lines).encode())
    again = await _post(supervisor, csv_text(lines, newline="\n").encode())
    assert first.status_code == again.status_code == 201, again.text
    assert (again.json()["added"], again.json()["already"]) == (0, 2)
    assert again.json()["message"].startswith("0 件追加, 2 件は登録済み")
    before = await _certifications(sessions)
    assert len(before) == 2

    changed = await _post(
        supervisor, csv_text([lines[0], f"{b},要介護1,2026-05-01,2027-04-30,2026-04-25,無"]).encode()
    )
    assert changed.status_code == 422
    (issue,) = changed.json()["issues"]
    assert (issue["line"], issue["column"]) == (3, "有効期間開始日")
    assert "同じ有効期間開始日の認定が内容を変えて登録済みです" in issue["message"]
    assert [(x.id, x.level) for x in await _certifications(sessions)] == [(x.id, x.level) for x in before]


async def test_the_same_file_sent_twice_at_once_is_imported_once(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    numbers = await insured_residents(sessions, 50)
    body = csv_text([f"{n},要介護1,2026-04-01,2027-03-31,2026-03-25,有" for n in numbers]).encode()
    first, second = await asyncio.gather(
        _post(as_staff("supervisor"), body), _post(as_staff("supervisor"), body)
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    counts = sorted((r.json()["added"], r.json()["already"]) for r in (first, second))
    assert counts == [(0, 50), (50, 0)]
    assert len(await _certifications(sessions)) == 50


async def test_overlaps_within_the_file_are_found_across_chunks(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    from services import certification_import

    monkeypatch.setattr(certification_import, "CHUNK", 2)
    a, b, c = await insured_residents(sessions, 3)
    body = csv_text(
        [
            f"{a},要介護1,2026-04-01,2027-03-31,2026-03-25,有",  # line 2, first chunk
            f"{b},要介護1,2026-04-01,2027-03-31,2026-03-25,有",
            f"{c},要介護1,2026-04-01,2027-03-31,2026-03-25,有",  # second chunk
            f"{a},要介護3,2026-12-01,2027-11-30,2026-11-20,有",  # line 5: overlaps line 2
            f"{b},要介護2,2027-04-01,2028-03-31,2026-11-20,有",  # the next period: fine
        ]
    )
    refused = await _post(as_staff("supervisor"), body.encode())
    assert refused.status_code == 422
    assert [(i["line"], i["message"]) for i in refused.json()["issues"]] == [
        (5, "有効期間が 2行目の認定と重なっています")
    ]
    assert await _certifications(sessions) == []


async def test_a_cp932_file_is_recognised_by_its_header(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (a,) = await insured_residents(sessions, 1)
    body = csv_text([f"{a},要介護3,2026-04-01,2027-03-31,2026-03-25,無"]).encode("cp932")
    response = await _post(as_staff("supervisor"), body)
    assert response.status_code == 201, response.text
    (held,) = await _certifications(sessions)
    assert (held.level, held.service_use_last_year) == ("要介護3", False)
    # Named in Content-Type it is taken as named: a UTF-8 file declared Shift_JIS is refused, not misread.
    declared = await _post(as_staff("supervisor"), csv_text([]).encode(), "text/csv; charset=shift_jis")
    assert declared.status_code == 422
    windows = await _post(as_staff("supervisor"), body, "text/csv; charset=Windows-31J")
    assert (windows.status_code, windows.json()["already"]) == (201, 1)
    # Encodings whose characters may contain a newline byte are refused, not misread.
    wide = await _post(as_staff("supervisor"), csv_text([]).encode(), "text/csv; charset=utf-16")
    assert wide.status_code == 422
    assert wide.json()["issues"][0]["message"].startswith("文字コード utf-16 は使えません")


async def test_a_bad_byte_is_reported_on_its_own_line_even_deep_in_a_large_file(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    numbers = await insured_residents(sessions, 400)
    lines = [f"{n},要介護2,2026-04-01,2027-03-31,2026-03-25,有".encode() for n in numbers]
    lines[300] = f"{numbers[300]},要介護2,2026-04-01,2027-03-31,2026-03-25,".encode() + "有".encode("cp932")
    body = csv_text([]).encode() + b"\r\n".join(lines) + b"\r\n"
    response = await _post(as_staff("supervisor"), body)
    assert response.status_code == 422
    assert [(i["line"], i["message"]) for i in response.json()["issues"]] == [
        (302, "文字コード UTF-8 として読めない文字があります")
    ]
    assert await _certifications(sessions) == []


async def test_a_line_too_long_to_be_a_certification_stops_the_reading(as_staff: Staff) -> None:
    body = csv_text(["1" * 70_000 + ",要介護2,2026-04-01,2027-03-31,2026-03-25,有"]).encode()
    response = await _post(as_staff("supervisor"), body)
    assert response.status_code == 422
    assert [(i["line"], i["message"]) for i in response.json()["issues"]] == [
        (2, "1行が長すぎます (65536 バイトまで)")
    ]


async def test_a_file_in_neither_encoding_is_refused_with_a_hint(as_staff: Staff) -> None:
    response = await _post(as_staff("supervisor"), "被保険者番号,区分\r\n".encode("euc_jp"))
    assert response.status_code == 422
    assert "--encoding" in response.json()["issues"][0]["message"]


async def test_the_import_needs_certification_import_permission(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (a,) = await insured_residents(sessions, 1)
    body = csv_text([f"{a},要介護2,2026-04-01,2027-03-31,2026-03-25,有"]).encode()
    refused = await _post(as_staff("intake"), body)
    assert refused.status_code == 403
    assert await _certifications(sessions) == []


@asynccontextmanager
async def _idle_reconciliation_schedule(temporal: Client) -> AsyncIterator[ScheduleHandle]:
    """The daily reconciliation's Schedule, its runs going to a queue no worker polls: only triggers count."""
    handle = await temporal.create_schedule(
        RECONCILIATION_SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                "RenewalReconciliation", id=f"import-test-{uuid.uuid4().hex}", task_queue="import-test-idle"
            ),
            spec=ScheduleSpec(cron_expressions=["0 3 * * *"]),
            state=ScheduleState(paused=False),
        ),
    )
    try:
        yield handle
    finally:
        await handle.delete()


async def _triggered_runs(handle: ScheduleHandle, expected: int) -> int:
    for _ in range(50):
        if (await handle.describe()).info.num_actions >= expected:
            break
        await asyncio.sleep(0.1)
    return (await handle.describe()).info.num_actions


async def test_an_existing_reconciliation_schedule_is_triggered_after_the_import(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession], temporal: Client
) -> None:
    (a,) = await insured_residents(sessions, 1)
    async with _idle_reconciliation_schedule(temporal) as handle:
        body = csv_text([f"{a},要介護2,2026-04-01,2027-03-31,2026-03-25,有"]).encode()
        response = await _post(as_staff("supervisor"), body)
        assert response.status_code == 201, response.text
        assert response.json()["reconciliation_started"] is True
        assert response.json()["message"].endswith("更新案内の照合を開始しました")
        assert await _triggered_runs(handle, 1) == 1


# -------------------------------------------------------------------------------------------------- CLI


async def test_the_cli_imports_a_cp932_file_and_exits_non_zero_listing_every_problem(
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli.main import app as cli
    from kaigo.config import get_settings

    a, b = await insured_residents(sessions, 2)
    good = tmp_path / "good.csv"
    good.write_bytes(
        csv_text(
            [
                f"{a},要介護2,2026-04-01,2027-03-31,2026-03-25,有",
                f"{b},要支援2,2026-05-01,2027-04-30,2026-04-25,無",
            ]
        ).encode("cp932")
    )
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_text(
            [
                f"{a},要介護3,2026-04-01,2027-03-31,2026-03-25,有",
                f"{b},要介護1,2026-07-01,2027-06-30,2026-06-2\x005,有",
            ]
        ).encode()
    )
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")  # nothing listens: the import still succeeds
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        # The command runs its own event loop, so it goes to a thread.
        result = await asyncio.to_thread(
            runner.invoke, cli, ["import", "certifications", str(good), "--no-progress"]
        )
        assert result.exit_code == 0, result.output
        assert "2 件追加, 0 件は登録済み。更新案内は翌日の定時照合から始まります" in result.output
        again = await asyncio.to_thread(
            runner.invoke, cli, ["import", "certifications", str(good), "--encoding", "shift_jis"]
        )
        assert again.exit_code == 0, again.output
        assert "0 件追加, 2 件は登録済み" in again.output
        refused = await asyncio.to_thread(
            runner.invoke, cli, ["import", "certifications", str(bad), "--no-progress"]
        )
        assert refused.exit_code == 1
        assert "2行目 有効期間開始日: 同じ有効期間開始日の認定が内容を変えて登録済みです" in refused.output
        assert "3行目 認定日: 制御文字 (NUL など) は使えません" in refused.output
        assert "誤りが 2 件あります。何も登録していません" in refused.output
    finally:
        get_settings.cache_clear()
    held = await _certifications(sessions)
    assert [(x.level, x.valid_from) for x in held] == [
        ("要介護2", date(2026, 4, 1)),
        ("要支援2", date(2026, 5, 1)),
    ]
    logs = await _imports(sessions)
    assert [(x.channel, x.outcome, x.added, x.already) for x in logs] == [
        ("cli", "imported", 2, 0),
        ("cli", "imported", 0, 2),
        ("cli", "refused", 0, 0),
    ]
    assert logs[0].actor.startswith("cli:")


async def test_the_cli_beside_make_dev_triggers_the_reconciliation_on_the_embedded_temporal(
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    temporal: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator's plain shell has no TEMPORAL_ADDRESS; the terms must still start today, not tomorrow."""
    from cli.main import app as cli
    from kaigo.config import get_settings

    (a,) = await insured_residents(sessions, 1)
    good = tmp_path / "good.csv"
    good.write_bytes(csv_text([f"{a},要介護2,2026-04-01,2027-03-31,2026-03-25,有"]).encode())
    host, port = temporal.service_client.config.target_host.rsplit(":", 1)
    assert host in {"localhost", "127.0.0.1"}
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    monkeypatch.setenv("TEMPORAL_PORT", port)  # where `make dev` runs its embedded server
    get_settings.cache_clear()
    try:
        async with _idle_reconciliation_schedule(temporal) as handle:
            result = await asyncio.to_thread(
                CliRunner().invoke, cli, ["import", "certifications", str(good), "--no-progress"]
            )
            assert result.exit_code == 0, result.output
            assert "1 件追加, 0 件は登録済み。更新案内の照合を開始しました" in result.output
            assert await _triggered_runs(handle, 1) == 1
    finally:
        get_settings.cache_clear()


async def test_the_readme_example_file_imports_on_the_demo_residents(
    as_staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from cli.seed import seed_demo_residents

    await seed_demo_residents(sessions)
    example = Path(__file__).resolve().parents[2] / "docs" / "certification-import-example.csv"
    response = await _post(as_staff("supervisor"), example.read_bytes())
    assert response.status_code == 201, response.text
    assert (response.json()["added"], response.json()["already"]) == (3, 0)
