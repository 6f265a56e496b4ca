"""開示請求 (DOMAIN.md §7): everything stored about one person, and who accessed it when."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.factories import insured_payload, person_payload


async def test_report_lists_data_and_every_access(as_staff: Callable[[str], httpx.AsyncClient]) -> None:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload(name_kanji="開示 請子"))).json()["atena_no"]
    await intake.post("/insured", json=insured_payload(atena))
    await intake.put(f"/persons/{atena}/my-number", json={"my_number": "314159265352"})
    await as_staff("restriction").get(f"/persons/{atena}")

    report = (await as_staff("supervisor").get(f"/persons/{atena}/disclosure")).json()
    assert report["person"]["name_kanji"] == "開示 請子"
    assert report["my_number"] == "314159265352"  # the supervisor holds mynumber:read
    assert report["insured"]["insured_no"] == insured_payload(atena)["insured_no"]
    accesses = [(a["actor"], a["action"]) for a in report["accesses"]]
    assert ("intake", "person.create") in accesses
    assert ("intake", "mynumber.link") in accesses
    assert ("restriction", "person.read") in accesses
    assert "mynumber_ciphertext" not in report["person"]

    again = (await as_staff("supervisor").get(f"/persons/{atena}/disclosure")).json()
    assert ("supervisor", "disclosure.issue") in [(a["actor"], a["action"]) for a in again["accesses"]]


async def test_report_as_a_readable_document(as_staff: Callable[[str], httpx.AsyncClient]) -> None:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload(name_kanji="<b>太字</b> 花子"))).json()[
        "atena_no"
    ]
    response = await as_staff("supervisor").get(f"/persons/{atena}/disclosure", params={"format": "html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "保有個人情報の開示" in response.text
    assert "&lt;b&gt;太字&lt;/b&gt; 花子" in response.text  # escaped, not markup


async def test_report_requires_the_disclosure_permission(
    as_staff: Callable[[str], httpx.AsyncClient],
) -> None:
    atena = (await as_staff("intake").post("/persons", json=person_payload())).json()["atena_no"]
    assert (await as_staff("intake").get(f"/persons/{atena}/disclosure")).status_code == 403
