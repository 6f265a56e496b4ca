"""Hostile input gets a clear 4xx naming the field — never a 500, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.factories import person_payload

Client = Callable[[str], httpx.AsyncClient]


def _refusal(response: httpx.Response, field: str, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field], body
    return body


@pytest.mark.parametrize(
    ("who", "url", "field"),
    [
        ("intake", "/persons?kana=%E3%82%A2%00", "kana"),
        ("intake", "/insured?kana=%00", "kana"),
        ("supervisor", "/audit-events?actor=a%00b", "actor"),
        ("intake", "/persons?household_no=1&kana=%1B%5B31m", "kana"),
        ("intake", "/notices?case_id=a%00b", "case_id"),
    ],
)
async def test_nul_or_control_character_in_a_query_is_a_422_naming_the_parameter(
    as_staff: Client, who: str, url: str, field: str
) -> None:
    body = _refusal(await as_staff(who).get(url), field)
    assert "制御文字" in body["errors"][0]["message"]


async def test_nul_in_a_url_path_is_a_422(as_staff: Client) -> None:
    _refusal(await as_staff("intake").get("/persons/1%002"), "path")


async def test_nul_in_a_json_body_is_a_422_naming_the_field_by_its_path(as_staff: Client) -> None:
    searched = await as_staff("supervisor").post("/tasks/search", json={"case_id": "a\u0000b"})
    assert _refusal(searched, "case_id")["errors"][0]["message"] == "制御文字 (U+0000) は使用できません"
    panel = {
        "name": "第1合議体",
        "members": [{"login_id": "board", "role": "chair", "affiliation": "病院\x00"}],
    }
    _refusal(await as_staff("intake").post("/board/panels", json=panel), "members.0.affiliation")


async def test_nul_in_a_reveal_reason_is_refused_and_nothing_is_revealed(as_staff: Client) -> None:
    intake = as_staff("intake")
    person = person_payload()
    assert (await intake.post("/persons", json=person)).status_code == 201
    await intake.put(f"/persons/{person['atena_no']}/my-number", json={"my_number": "123456789018"})
    refused = await intake.post(
        f"/persons/{person['atena_no']}/my-number/reveal", json={"reason": "本人確認\u0000"}
    )
    assert "my_number" not in _refusal(refused, "reason")


async def test_nul_in_a_person_name_is_refused_and_the_person_is_not_created(as_staff: Client) -> None:
    intake = as_staff("intake")
    person = person_payload(name_kanji="試験\u0000花子")
    _refusal(await intake.post("/persons", json=person), "name_kanji")
    assert (await intake.get(f"/persons/{person['atena_no']}")).status_code == 404


async def test_a_lone_surrogate_is_refused_as_a_broken_character(as_staff: Client) -> None:
    raw = b'{"case_id": "\\ud800"}'
    response = await as_staff("supervisor").post(
        "/tasks/search", content=raw, headers={"content-type": "application/json"}
    )
    assert "サロゲート" in _refusal(response, "case_id")["errors"][0]["message"]


async def test_nul_in_the_login_form_is_a_422_not_a_500(api: httpx.AsyncClient) -> None:
    response = await api.post("/auth/token", data={"username": "intake\x00", "password": "x"})
    _refusal(response, "username")


async def test_nul_byte_in_a_csv_upload_is_refused(as_staff: Client) -> None:
    response = await as_staff("intake").post(
        "/certification-applications/0123456789abcdef0123456789abcdef/primary-result",
        content="被保険者番号\r\n0100000001\x00\r\n".encode(),
        headers={"content-type": "text/csv"},
    )
    _refusal(response, "body")


async def test_json_syntax_error_names_the_body_with_line_and_column(as_staff: Client) -> None:
    response = await as_staff("supervisor").post(
        "/tasks/search",
        content=b'{\n  "kind": "survey",\n  "state" "open"\n}',
        headers={"content-type": "application/json"},
    )
    body = _refusal(response, "body")
    assert body["errors"][0]["message"] == "JSON の形式が正しくありません (3行目 11列目)"


@pytest.mark.parametrize("number", [b"NaN", b"1" * 5000, b"[" * 5000])
async def test_json_numbers_python_would_choke_on_are_a_422(as_staff: Client, number: bytes) -> None:
    response = await as_staff("supervisor").post(
        "/tasks/search", content=b'{"page": ' + number + b"}", headers={"content-type": "application/json"}
    )
    _refusal(response, "body")


async def test_control_character_in_a_header_is_a_400(as_staff: Client) -> None:
    response = await as_staff("supervisor").post(
        "/tasks/search", json={}, headers={"Idempotency-Key": "abc\x00defgh"}
    )
    _refusal(response, "idempotency-key", status=400)


async def test_multi_line_free_text_keeps_its_line_breaks(as_staff: Client) -> None:
    # Only the characters nobody types are refused: a reason over two lines is fine.
    intake = as_staff("intake")
    person = person_payload()
    assert (await intake.post("/persons", json=person)).status_code == 201
    await intake.put(f"/persons/{person['atena_no']}/my-number", json={"my_number": "123456789018"})
    revealed = await intake.post(
        f"/persons/{person['atena_no']}/my-number/reveal", json={"reason": "本人確認\n\t窓口にて"}
    )
    assert revealed.status_code == 200, revealed.text


@pytest.mark.parametrize("panel_id", [2**31, -1, 0, 10**30])
async def test_a_panel_id_beyond_an_integer_column_is_a_422_naming_it(
    as_staff: Client, panel_id: int
) -> None:
    meeting = {"panel_id": panel_id, "held_on": "2026-12-10"}
    _refusal(await as_staff("intake").post("/board/meetings", json=meeting), "panel_id")


async def test_the_largest_panel_id_is_simply_not_found(as_staff: Client) -> None:
    meeting = {"panel_id": 2**31 - 1, "held_on": "2026-12-10"}
    response = await as_staff("intake").post("/board/meetings", json=meeting)
    assert response.status_code == 404 and response.json()["errors"][0]["field"] == "panel_id"
