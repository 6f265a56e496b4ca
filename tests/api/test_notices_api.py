"""Issued notices over HTTP: list, metadata, the stored PDF (reprints are byte-identical), the HTML preview,
corrections (a new notice; the original never changes), permissions and the audit trail — and 文書番号
numbering under concurrent issuing."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.config import Settings
from models.notice import NoticePdf, NoticeRecord
from models.registry import Person
from models.security import AuditEvent
from notices.models.common import Issuer
from notices.pool import Renderer, RenderPool, render_in_thread
from notices.render import RenderedNotice, UnprintableCharacterError, render_notice
from services import notices
from services.notices import IssuedNotice, NoticeVoided
from tests.factories import insured_payload, person_payload

EXPIRY_DATA: dict[str, Any] = {
    "care_level": "要介護3",
    "valid_from": "2025-03-01",
    "valid_to": "2026-02-28",
    "second_notice": False,
}
ISSUED_ON = date(2026, 12, 1)  # 令和8年度


async def register_person(intake: httpx.AsyncClient, **overrides: Any) -> str:
    """A person with a 被保険者番号 (notices go only to the insured); returns the 宛名番号."""
    person = await intake.post("/persons", json=person_payload(**overrides))
    assert person.status_code == 201, person.text
    atena_no = str(person.json()["atena_no"])
    insured = await intake.post("/insured", json=insured_payload(atena_no))
    assert insured.status_code == 201, insured.text
    return atena_no


async def with_legacy_name(sessions: async_sessionmaker[AsyncSession], atena_no: str, name: str) -> str:
    """The registry refuses unprintable names now; a name written before it checked them stays in the data."""
    async with sessions() as session, session.begin():
        person = await session.get(Person, atena_no)
        assert person is not None
        person.name_kanji = name
    return atena_no


async def issue_notice(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    atena_no: str,
    *,
    kind: str = "expiry_reminder",
    data: dict[str, Any] | None = None,
    issued_on: date = ISSUED_ON,
    case_id: str | None = None,
    replaces_id: str | None = None,
    key: str | None = None,
    render: Renderer = render_in_thread,
) -> IssuedNotice:
    return await notices.issue(
        sessions,
        idempotency_key=key or f"test:{uuid.uuid4().hex}",
        kind=kind,
        recipient_atena_no=atena_no,
        issued_on=issued_on,
        data=EXPIRY_DATA if data is None else data,
        issuer=Issuer.from_settings(settings),
        issued_by="test",
        case_id=case_id,
        replaces_id=replaces_id,
        render=render,
    )


async def audit_rows(
    sessions: async_sessionmaker[AsyncSession], *, action: str, subject: str | None = None
) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action)
    if subject is not None:
        query = query.where(AuditEvent.subject_atena_no == subject)
    async with sessions() as session:
        return list((await session.exec(query.order_by(col(AuditEvent.id)))).all())


@pytest.fixture
def intake(as_staff: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    return as_staff("intake")


@pytest.fixture
async def notice(
    intake: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> IssuedNotice:
    atena_no = await register_person(intake, name_kanji="髙橋 <b>花子</b>")
    return await issue_notice(sessions, settings, atena_no, case_id="renewal-" + "a" * 32)


# ---------------------------------------------------------------------------------------------- listing


async def test_list_by_person_case_or_insured_number_audits_each_recipient_once(
    intake: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    first, second = await register_person(intake), await register_person(intake)
    case_id = "renewal-" + "b" * 32
    a1 = await issue_notice(sessions, settings, first, case_id=case_id)
    a2 = await issue_notice(sessions, settings, first, issued_on=date(2026, 12, 2))
    b1 = await issue_notice(sessions, settings, second, case_id=case_id)
    reader = intake

    by_person = (await reader.get("/notices", params={"atena_no": first})).json()
    assert [n["id"] for n in by_person["items"]] == [a2.id, a1.id]  # newest first
    assert by_person["total"] == 2
    assert by_person["items"][0]["title"] == "要介護認定・要支援認定有効期間終了のお知らせ"
    assert by_person["items"][0]["document_no"] == "令和8年度 介更第2号"
    assert "pdf" not in by_person["items"][0] and "data" not in by_person["items"][0]

    by_case = (await reader.get("/notices", params={"case_id": case_id})).json()
    assert {n["id"] for n in by_case["items"]} == {a1.id, b1.id}
    by_insured = (await reader.get("/notices", params={"insured_no": b1.insured_no})).json()
    assert [n["id"] for n in by_insured["items"]] == [b1.id]
    paged = (await reader.get("/notices", params={"atena_no": first, "size": 1, "page": 2})).json()
    assert ([n["id"] for n in paged["items"]], paged["total"]) == ([a1.id], 2)

    searched = await audit_rows(sessions, action="notice.search", subject=first)
    assert [sorted(r.detail["notice_ids"]) for r in searched] == [sorted([a1.id, a2.id]), [a1.id], [a1.id]]
    assert [
        r.detail["notice_ids"] for r in await audit_rows(sessions, action="notice.search", subject=second)
    ] == [
        [b1.id],
        [b1.id],
    ]


async def test_a_list_needs_a_filter(intake: httpx.AsyncClient) -> None:
    response = await intake.get("/notices")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "case_id"
    only_kind = await intake.get("/notices", params={"kind": "expiry_reminder"})
    assert only_kind.status_code == 422


# ------------------------------------------------------------------------------------ one notice: reads


async def test_pdf_is_the_stored_record_and_a_reprint_is_byte_identical(
    as_staff: Callable[[str], httpx.AsyncClient],
    notice: IssuedNotice,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await as_staff("intake").get(f"/notices/{notice.id}/pdf")
    again = await as_staff("supervisor").get(f"/notices/{notice.id}/pdf")
    assert first.status_code == 200 and again.status_code == 200
    assert first.content == again.content == notice.pdf
    assert first.headers["content-type"] == "application/pdf"
    assert first.headers["etag"] == f'"{hashlib.sha256(first.content).hexdigest()}"' == f'"{notice.sha256}"'
    assert first.headers["repr-digest"].startswith("sha-256=:")
    disposition = first.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="notice-2026-expiry_reminder-1.pdf"')
    assert disposition.isascii()
    assert f"filename*=UTF-8''{quote('令和8年度 介更第1号.pdf', safe='')}" in disposition

    rows = await audit_rows(sessions, action="notice.pdf", subject=notice.recipient_atena_no)
    assert [(r.actor, r.detail["document_no"]) for r in rows] == [
        ("intake", notice.document_no),
        ("supervisor", notice.document_no),
    ]


async def test_metadata_and_html_preview(
    intake: httpx.AsyncClient, notice: IssuedNotice, sessions: async_sessionmaker[AsyncSession]
) -> None:
    meta = await intake.get(f"/notices/{notice.id}")
    assert meta.status_code == 200
    assert meta.json()["sha256"] == notice.sha256 and meta.json()["replaces_id"] is None
    assert meta.json()["case_id"] == notice.case_id

    preview = await intake.get(f"/notices/{notice.id}/html")
    assert preview.status_code == 200
    assert preview.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in preview.headers["content-security-policy"]
    assert preview.headers["kaigo-template-current"] == "?1"
    assert "令和8年度 介更第1号" in preview.text
    assert "髙橋 &lt;b&gt;花子&lt;/b&gt;" in preview.text and "<b>花子" not in preview.text  # escaped

    subject = notice.recipient_atena_no
    assert len(await audit_rows(sessions, action="notice.read", subject=subject)) == 1
    assert len(await audit_rows(sessions, action="notice.preview", subject=subject)) == 1


@pytest.mark.parametrize(
    ("login_id", "status"),
    [
        ("intake", 200),
        ("restriction", 200),
        ("supervisor", 200),
        ("board", 403),
        ("surveyor", 403),
        ("contractor", 403),
        ("admin", 403),
    ],
)
async def test_only_notice_readers_get_a_notice(
    as_staff: Callable[[str], httpx.AsyncClient], notice: IssuedNotice, login_id: str, status: int
) -> None:
    client = as_staff(login_id)
    for suffix in ("", "/pdf", "/html"):
        response = await client.get(f"/notices/{notice.id}{suffix}")
        assert response.status_code == status, (suffix, response.text[:200])
    listed = await client.get("/notices", params={"atena_no": notice.recipient_atena_no})
    assert listed.status_code == status


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/notices/" + "0" * 32, 404),
        ("/notices/" + "0" * 32 + "/pdf", 404),
        ("/notices/" + "F" * 32, 422),
        ("/notices/..%2F..%2Fetc%2Fpasswd", 404),
        ("/notices/%27%20OR%201%3D1--/pdf", 422),
        ("/notices/" + "0" * 33 + "/html", 422),
        ("/notices?atena_no=1%27%3B%20DROP%20TABLE%20notice", 422),
        ("/notices?case_id=" + "x" * 129, 422),
        ("/notices?insured_no=123", 422),
        ("/notices?atena_no=1&kind=bogus", 422),
    ],
)
async def test_hostile_ids_are_refused_without_a_server_error(
    intake: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await intake.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_missing_notice_names_the_field(intake: httpx.AsyncClient) -> None:
    response = await intake.get("/notices/" + "0" * 32)
    assert response.json()["errors"] == [
        {"field": "notice_id", "message": f"通知書 {'0' * 32} は見つかりません"}
    ]


# ---------------------------------------------------------------------------------------------- corrections


async def test_a_correction_is_a_new_notice_and_the_original_is_unchanged(
    intake: httpx.AsyncClient, notice: IssuedNotice, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = {"data": {**EXPIRY_DATA, "care_level": "要介護4"}, "reason": "要介護度の転記誤り"}
    corrected = await intake.post(
        f"/notices/{notice.id}/corrections", json=body, headers={"Idempotency-Key": "fix-care-level-1"}
    )
    assert corrected.status_code == 201, corrected.text
    new = corrected.json()
    assert corrected.headers["location"] == f"/notices/{new['id']}"
    assert (new["replaces_id"], new["kind"], new["recipient_atena_no"], new["case_id"]) == (
        notice.id,
        notice.kind,
        notice.recipient_atena_no,
        notice.case_id,
    )
    assert new["document_no"] == "令和8年度 介更第2号" and new["issued_by"] == "intake"
    assert new["sha256"] != notice.sha256

    async with sessions() as session:
        original = await session.get(NoticeRecord, notice.id)
        original_pdf = await session.get(NoticePdf, notice.id)
        stored_new = await session.get(NoticeRecord, new["id"])
    assert original is not None and original_pdf is not None and stored_new is not None
    assert (original_pdf.pdf, original_pdf.sha256, original.data) == (notice.pdf, notice.sha256, notice.data)
    assert stored_new.data["care_level"] == "要介護4"
    assert (await intake.get(f"/notices/{notice.id}/pdf")).content == notice.pdf

    rows = await audit_rows(sessions, action="notice.correct", subject=notice.recipient_atena_no)
    assert [(r.detail["replaces_id"], r.detail["reason"]) for r in rows] == [
        (notice.id, "要介護度の転記誤り")
    ]

    # A retry with the same key gets the same correction, not a second one.
    retry = await intake.post(
        f"/notices/{notice.id}/corrections", json=body, headers={"Idempotency-Key": "fix-care-level-1"}
    )
    assert (retry.status_code, retry.json()["id"], retry.headers["idempotent-replayed"]) == (
        200,
        new["id"],
        "true",
    )
    changed = await intake.post(
        f"/notices/{notice.id}/corrections",
        json={**body, "data": {**EXPIRY_DATA, "care_level": "要介護5"}},
        headers={"Idempotency-Key": "fix-care-level-1"},
    )
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "Idempotency-Key"
    # The original is corrected once; a further correction goes to the newest notice.
    again = await intake.post(f"/notices/{notice.id}/corrections", json=body)
    assert again.status_code == 409 and again.json()["replaced_by"] == new["id"]
    chained = await intake.post(f"/notices/{new['id']}/corrections", json=body)
    assert chained.status_code == 201 and chained.json()["replaces_id"] == new["id"]


async def test_the_database_refuses_to_change_an_issued_notice(
    notice: IssuedNotice, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError):
        async with sessions() as session, session.begin():
            await session.exec(  # type: ignore[call-overload]
                text("UPDATE notice SET issued_by = 'someone' WHERE id = :id").bindparams(id=notice.id)
            )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": {**EXPIRY_DATA, "care_level": ""}, "reason": "誤り"}, "data.care_level"),
        ({"data": {**EXPIRY_DATA, "colour": "red"}, "reason": "誤り"}, "data.colour"),
        ({"data": {**EXPIRY_DATA, "recipient": {}}, "reason": "誤り"}, "data.recipient"),
        ({"data": EXPIRY_DATA, "reason": ""}, "reason"),
        ({"data": EXPIRY_DATA}, "reason"),
    ],
)
async def test_bad_corrections_name_the_field(
    intake: httpx.AsyncClient, notice: IssuedNotice, body: dict[str, Any], field: str
) -> None:
    response = await intake.post(f"/notices/{notice.id}/corrections", json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_two_staff_correcting_one_notice_at_once_get_one_correction(
    as_staff: Callable[[str], httpx.AsyncClient],
    notice: IssuedNotice,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    body = {"data": {**EXPIRY_DATA, "care_level": "要介護4"}, "reason": "転記誤り"}
    responses = await asyncio.gather(
        as_staff("intake").post(
            f"/notices/{notice.id}/corrections", json=body, headers={"Idempotency-Key": "desk-a-0001"}
        ),
        as_staff("restriction").post(
            f"/notices/{notice.id}/corrections", json=body, headers={"Idempotency-Key": "desk-b-0001"}
        ),
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    winner = next(r for r in responses if r.status_code == 201).json()
    loser = next(r for r in responses if r.status_code == 409).json()
    assert loser["replaced_by"] == winner["id"] and winner["document_no"] == "令和8年度 介更第2号"
    async with sessions() as session:
        numbers = (
            await session.exec(select(NoticeRecord.sequence).order_by(col(NoticeRecord.sequence)))
        ).all()
    assert list(numbers) == [1, 2]  # the refused correction took no number


async def test_corrections_need_notice_issue(
    as_staff: Callable[[str], httpx.AsyncClient], notice: IssuedNotice
) -> None:
    body = {"data": EXPIRY_DATA, "reason": "誤り"}
    refused = await as_staff("supervisor").post(f"/notices/{notice.id}/corrections", json=body)
    assert refused.status_code == 403
    bad_key = await as_staff("intake").post(
        f"/notices/{notice.id}/corrections", json=body, headers={"Idempotency-Key": "short"}
    )
    assert bad_key.status_code == 400 and bad_key.json()["errors"][0]["field"] == "Idempotency-Key"
    missing = await as_staff("intake").post("/notices/" + "0" * 32 + "/corrections", json=body)
    assert missing.status_code == 404


# ------------------------------------------------------------------------------------ numbering under load


async def test_twenty_concurrent_issuers_get_numbers_one_to_twenty(
    intake: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    recipients = [await register_person(intake) for _ in range(4)]
    issued = await asyncio.gather(
        *(issue_notice(sessions, settings, recipients[i % 4]) for i in range(20))
    )  # each in a transaction of its own, all at once
    assert sorted(n.sequence for n in issued) == list(range(1, 21))
    assert len({n.document_no for n in issued}) == 20
    async with sessions() as session:
        stored = (
            await session.exec(
                select(NoticeRecord.sequence, NoticeRecord.document_no)
                .where(NoticeRecord.kind == "expiry_reminder", NoticeRecord.fiscal_year == 2026)
                .order_by(col(NoticeRecord.sequence))
            )
        ).all()
    assert [row[0] for row in stored] == list(range(1, 21))
    assert [row[1] for row in stored] == [f"令和8年度 介更第{n}号" for n in range(1, 21)]


async def test_twenty_concurrent_issuers_rendering_in_worker_processes_share_one_counter(
    intake: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """As the notice worker issues: numbers taken in short transactions, PDFs rendered in a process pool."""
    recipients = [await register_person(intake) for _ in range(4)]
    pool = RenderPool(2)
    try:
        issued = await asyncio.gather(
            *(issue_notice(sessions, settings, recipients[i % 4], render=pool.render) for i in range(20))
        )
    finally:
        pool.close()
    assert sorted(n.sequence for n in issued) == list(range(1, 21))
    for notice in issued[:3]:  # each PDF prints its own number, and is what the stored data renders
        again = render_notice(notice.kind, notice.record.data, notice.record.issuer or {})
        assert again.pdf == notice.pdf and notice.document_no in notice.record.data["document_no"]


# ------------------------------------------------------------------------ 作成中, 欠番, and numbers kept


async def _failing(error: Exception) -> Renderer:
    async def render(kind: str, data: Any, issuer: Any) -> RenderedNotice:
        raise error

    return render


async def test_unprintable_input_is_refused_before_a_number_is_taken(
    intake: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    gaiji = await with_legacy_name(
        sessions, await register_person(intake), "山田 \ue000子"
    )  # a 外字 code point
    with pytest.raises(UnprintableCharacterError, match="U\\+E000"):
        await issue_notice(sessions, settings, gaiji)
    with pytest.raises(notices.NoticeDataError):
        await issue_notice(sessions, settings, gaiji, data={**EXPIRY_DATA, "care_level": ""})
    first = await issue_notice(sessions, settings, await register_person(intake))
    assert first.document_no == "令和8年度 介更第1号"  # neither refusal used a number


async def test_a_number_that_can_never_print_is_a_recorded_void_and_stays_used(
    intake: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    atena_no = await register_person(intake)
    # Checked before numbering, it still fails at render time (e.g. templates changed between the steps).
    broken = await _failing(UnprintableCharacterError("通知書の書体で印刷できない文字があります: X (U+E000)"))
    with pytest.raises(NoticeVoided) as voided:
        await issue_notice(sessions, settings, atena_no, key="void-me-1", render=broken)
    void_id = voided.value.record.id
    assert voided.value.record.document_no == "令和8年度 介更第1号"
    assert "欠番" in str(voided.value) and voided.value.void.voided_by == "test"
    # A retry with the same key neither renders again nor takes a number: the 欠番 stands.
    with pytest.raises(NoticeVoided):
        await issue_notice(sessions, settings, atena_no, key="void-me-1")
    after = await issue_notice(sessions, settings, atena_no)
    assert after.document_no == "令和8年度 介更第2号"

    listed = (await intake.get("/notices", params={"atena_no": atena_no})).json()["items"]
    void_view = next(n for n in listed if n["id"] == void_id)
    assert (void_view["state"], void_view["sha256"], void_view["void_reason"]) == (
        "void",
        None,
        "unprintable",
    )
    assert "U+E000" in void_view["void_detail"]
    pdf = await intake.get(f"/notices/{void_id}/pdf")
    assert pdf.status_code == 410 and "欠番" in pdf.json()["detail"]


async def test_a_crashed_render_leaves_the_notice_in_progress_until_a_retry_completes_it(
    intake: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    atena_no = await register_person(intake)
    with pytest.raises(RuntimeError):
        await issue_notice(
            sessions, settings, atena_no, key="crash-1", render=await _failing(RuntimeError("killed"))
        )
    (pending,) = (await intake.get("/notices", params={"atena_no": atena_no})).json()["items"]
    assert (pending["state"], pending["document_no"], pending["pages"]) == (
        "rendering",
        "令和8年度 介更第1号",
        None,
    )
    refused = await intake.get(f"/notices/{pending['id']}/pdf")
    assert refused.status_code == 409 and refused.headers["retry-after"] == "5"
    assert "作成中" in refused.json()["detail"]

    done = await issue_notice(sessions, settings, atena_no, key="crash-1")
    assert (done.id, done.document_no) == (pending["id"], "令和8年度 介更第1号")
    served = await intake.get(f"/notices/{done.id}/pdf")
    assert served.status_code == 200 and served.content == done.pdf
    # The row was written before rendering; rendering its stored data again gives the same bytes.
    assert render_notice(done.kind, done.record.data, done.record.issuer or {}).pdf == done.pdf


async def test_concurrent_attempts_store_one_pdf(
    intake: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    atena_no = await register_person(intake)
    results = await asyncio.gather(
        *(issue_notice(sessions, settings, atena_no, key="same-key-1") for _ in range(5))
    )
    assert len({(r.id, r.sha256) for r in results}) == 1
    async with sessions() as session:
        count = (
            await session.exec(select(sa.func.count()).select_from(NoticePdf))  # type: ignore[call-overload]
        ).one()
    assert count == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE notice_pdf SET pages = 9",
        "DELETE FROM notice_pdf",
        "DELETE FROM notice",
        "UPDATE notice_void SET detail = 'x'",
        "DELETE FROM notice_void",
    ],
)
async def test_the_database_refuses_to_change_or_remove_notices_pdfs_and_voids(
    notice: IssuedNotice,
    intake: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    statement: str,
) -> None:
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(NoticeVoided):
        await issue_notice(
            sessions,
            settings,
            notice.recipient_atena_no,
            render=await _failing(UnprintableCharacterError("x")),
        )
    with pytest.raises(DBAPIError, match="insert-only"):
        async with sessions() as session, session.begin():
            await session.exec(sa.text(statement))  # type: ignore[call-overload]


async def test_the_retention_purge_removes_a_persons_notices_pdfs_and_voids(
    intake: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    database_url: str,
) -> None:
    from cli.operator_jobs import run_purge

    gone, kept = await register_person(intake), await register_person(intake)
    issued = await issue_notice(sessions, settings, gone)
    with pytest.raises(NoticeVoided):
        await issue_notice(sessions, settings, gone, render=await _failing(UnprintableCharacterError("x")))
    staying = await issue_notice(sessions, settings, kept)
    removal = {"removed_on": "2015-03-31", "removal_reason": "death"}
    assert (await intake.post(f"/persons/{gone}/removal", json=removal)).status_code < 300
    await run_purge(settings, database_url, dry_run=False)
    async with sessions() as session:
        left = {
            table: (await session.exec(sa.text(f"SELECT count(*) FROM {table}"))).one()[0]  # type: ignore[call-overload]
            for table in ("notice", "notice_pdf", "notice_void")
        }
        assert await session.get(NoticeRecord, issued.id) is None
        assert await session.get(NoticePdf, staying.id) is not None
    assert left == {"notice": 1, "notice_pdf": 1, "notice_void": 0}


async def test_cli_lists_unfinished_numbers_and_completes_the_ones_in_progress(
    intake: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from cli.main import app as cli
    from kaigo.config import get_settings

    atena_no = await register_person(intake)
    with pytest.raises(RuntimeError):
        await issue_notice(sessions, settings, atena_no, render=await _failing(RuntimeError("killed")))
    with pytest.raises(NoticeVoided):
        await issue_notice(
            sessions, settings, atena_no, render=await _failing(UnprintableCharacterError("x"))
        )
    await issue_notice(sessions, settings, atena_no)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        listed = await asyncio.to_thread(runner.invoke, cli, ["notices", "unfinished"])
        assert listed.exit_code == 0, listed.output
        lines = [line.split("\t") for line in listed.stdout.splitlines()]
        assert [(line[0], line[-1][:2]) for line in lines] == [
            ("令和8年度 介更第1号", "作成"),  # 作成中
            ("令和8年度 介更第2号", "欠番"),
        ]
        completed = await asyncio.to_thread(
            runner.invoke, cli, ["notices", "unfinished", "--complete", "--operator", "yamada"]
        )
        assert completed.exit_code == 0, completed.output
        assert "作成しました" in completed.stdout.splitlines()[0]
        after = await asyncio.to_thread(runner.invoke, cli, ["notices", "unfinished"])
        assert [line.split("\t")[0] for line in after.stdout.splitlines()] == ["令和8年度 介更第2号"]
    finally:
        get_settings.cache_clear()
    (first,) = [
        n
        for n in (await intake.get("/notices", params={"atena_no": atena_no})).json()["items"]
        if n["sequence"] == 1
    ]
    assert first["state"] == "issued" and (await intake.get(f"/notices/{first['id']}/pdf")).status_code == 200
