"""What a clerk types into the registry: names the notice can print, numbers typed in full-width digits."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.factories import insured_payload, next_atena_no, person_payload

Client = Callable[[str], httpx.AsyncClient]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
PRIVATE_USE = "\U000f0001"  # a private-use character: no font has it


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name_kanji", "試験 😀子", "氏名に通知書で印刷できない文字があります: 😀 (U+1F600)"),
        ("address", "北海道旭川市🏠1条", "住所に通知書で印刷できない文字があります: 🏠 (U+1F3E0)"),
        (
            "address_extra",
            f"ハイツ{PRIVATE_USE}",
            f"方書に通知書で印刷できない文字があります: {PRIVATE_USE} (U+F0001)",
        ),
    ],
)
async def test_a_character_the_notice_cannot_print_is_refused_naming_it(
    as_staff: Client, field: str, value: str, message: str
) -> None:
    intake = as_staff("intake")
    person = person_payload(**{field: value})
    response = await intake.post("/persons", json=person)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": field, "message": message}]
    assert (await intake.get(f"/persons/{person['atena_no']}")).status_code == 404


async def test_names_the_notice_can_print_are_kept_exactly_as_typed(as_staff: Client) -> None:
    # 塚 (U+FA10, a compatibility ideograph), 𠮷 (outside the BMP) and 髙 must survive unchanged.
    created = await as_staff("intake").post("/persons", json=person_payload(name_kanji="髙塚 𠮷子"))
    assert created.status_code == 201, created.text
    assert created.json()["name_kanji"] == "髙塚 𠮷子"


async def test_an_unprintable_applicant_name_is_refused_at_intake(as_staff: Client) -> None:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    insured_no = (await intake.post("/insured", json=insured_payload(atena))).json()["insured_no"]
    body = {
        "insured_no": insured_no,
        "kind": "new",
        "applied_on": "2026-11-02",
        "applicant_kind": "family",
        "applicant_name": "試験 🙂",
    }
    response = await intake.post("/certification-applications", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0] == {
        "field": "applicant_name",
        "message": "申請者氏名に通知書で印刷できない文字があります: 🙂 (U+1F642)",
    }


async def test_full_width_digits_find_the_same_person_and_insured(as_staff: Client) -> None:
    intake = as_staff("intake")
    atena = next_atena_no()
    created = await intake.post(
        "/persons", json=person_payload(atena_no=atena.translate(FULL_WIDTH), household_no="１２３")
    )
    assert created.status_code == 201, created.text
    assert (created.json()["atena_no"], created.json()["household_no"]) == (atena, "123")
    insured = insured_payload(atena)
    wide_insured_no = insured["insured_no"].translate(FULL_WIDTH)
    stored = await intake.post(
        "/insured", json={**insured, "insured_no": wide_insured_no, "atena_no": atena.translate(FULL_WIDTH)}
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["insured_no"] == insured["insured_no"]

    by_path = await intake.get(f"/persons/{atena.translate(FULL_WIDTH)}")
    assert (by_path.status_code, by_path.json()["atena_no"]) == (200, atena)
    insured_by_path = await intake.get(f"/insured/{wide_insured_no}")
    assert (insured_by_path.status_code, insured_by_path.json()["atena_no"]) == (200, atena)
    by_prefix = await intake.get("/insured", params={"insured_no": wide_insured_no[:6]})
    assert [i["insured_no"] for i in by_prefix.json()["items"]] == [insured["insured_no"]]
    by_household = await intake.get("/persons", params={"household_no": "１２３"})
    assert [p["atena_no"] for p in by_household.json()["items"]] == [atena]
    notices = await intake.get("/notices", params={"insured_no": wide_insured_no})
    assert notices.status_code == 200, notices.text
    audit = await as_staff("supervisor").get("/audit-events", params={"subject": atena.translate(FULL_WIDTH)})
    assert audit.status_code == 200 and audit.json()["total"] >= 1
    tasks = await as_staff("supervisor").post("/tasks/search", json={"insured_no": wide_insured_no})
    assert tasks.status_code == 200, tasks.text


async def test_my_number_stays_ascii_only(as_staff: Client) -> None:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    refused = await intake.put(f"/persons/{atena}/my-number", json={"my_number": "１２３４５６７８９０１８"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "my_number"


async def test_a_case_id_given_as_the_application_id_says_which_form_it_expects(as_staff: Client) -> None:
    application_id = "0123456789abcdef0123456789abcdef"
    response = await as_staff("supervisor").post("/tasks/search", json={"case_id": application_id})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "case_id"
    assert "ワークフローID" in error["message"] and f"certification-{application_id}" in error["message"]
