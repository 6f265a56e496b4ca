"""開示請求 (DOMAIN.md §7): everything stored about one person, and who accessed it when."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.factories import insured_payload, person_payload

REQUEST = {"request_no": "令和8年度 開示第12号"}  # 開示請求の受付番号


async def test_report_lists_data_and_every_access(as_staff: Callable[[str], httpx.AsyncClient]) -> None:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload(name_kanji="開示 請子"))).json()["atena_no"]
    await intake.post("/insured", json=insured_payload(atena))
    await intake.put(f"/persons/{atena}/my-number", json={"my_number": "314159265352"})
    await as_staff("restriction").get(f"/persons/{atena}")

    report = (await as_staff("supervisor").get(f"/persons/{atena}/disclosure", params=REQUEST)).json()
    assert report["request_no"] == REQUEST["request_no"]
    assert report["person"]["name_kanji"] == "開示 請子"
    assert report["my_number"] == "314159265352"  # the supervisor holds mynumber:read
    assert report["insured"]["insured_no"] == insured_payload(atena)["insured_no"]
    accesses = [(a["actor"], a["action"]) for a in report["accesses"]]
    assert ("intake", "person.create") in accesses
    assert ("intake", "mynumber.link") in accesses
    assert ("restriction", "person.read") in accesses
    assert "mynumber_ciphertext" not in report["person"]

    again = (await as_staff("supervisor").get(f"/persons/{atena}/disclosure", params=REQUEST)).json()
    assert ("supervisor", "disclosure.issue") in [(a["actor"], a["action"]) for a in again["accesses"]]


async def test_the_full_number_leaves_only_against_a_recorded_request_number(
    as_staff: Callable[[str], httpx.AsyncClient],
) -> None:
    intake, supervisor = as_staff("intake"), as_staff("supervisor")
    atena = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    await intake.put(f"/persons/{atena}/my-number", json={"my_number": "314159265352"})

    refused = await supervisor.get(f"/persons/{atena}/disclosure")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "request_no"
    assert "314159265352" not in refused.text
    blank = await supervisor.get(f"/persons/{atena}/disclosure", params={"request_no": "  "})
    assert blank.status_code == 422

    issued = await supervisor.get(f"/persons/{atena}/disclosure", params=REQUEST)
    assert issued.json()["my_number"] == "314159265352"
    trail = await supervisor.get("/audit-events", params={"subject": atena, "action": "disclosure.issue"})
    [row] = trail.json()["items"]
    assert row["detail"] == {"request_no": "令和8年度 開示第12号", "format": "json", "full_my_number": True}


async def test_report_as_a_readable_document(as_staff: Callable[[str], httpx.AsyncClient]) -> None:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload(name_kanji="<b>太字</b> 花子"))).json()[
        "atena_no"
    ]
    response = await as_staff("supervisor").get(
        f"/persons/{atena}/disclosure", params={**REQUEST, "format": "html"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "保有個人情報の開示" in response.text
    assert "受付番号 令和8年度 開示第12号" in response.text
    assert "&lt;b&gt;太字&lt;/b&gt; 花子" in response.text  # escaped, not markup


async def test_report_requires_the_disclosure_permission(
    as_staff: Callable[[str], httpx.AsyncClient],
) -> None:
    atena = (await as_staff("intake").post("/persons", json=person_payload())).json()["atena_no"]
    assert (await as_staff("intake").get(f"/persons/{atena}/disclosure", params=REQUEST)).status_code == 403
