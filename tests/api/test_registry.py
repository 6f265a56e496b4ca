"""Registry routes over HTTP against the real app and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.factories import insured_payload, person_payload


@pytest.fixture
def clerk(as_staff: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    """認定係: may read and write the registry."""
    return as_staff("intake")


async def _create_person(clerk: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await clerk.post("/persons", json=person_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


async def test_person_is_created_and_read_back(clerk: httpx.AsyncClient) -> None:
    created = await _create_person(
        clerk, name_kana="ﾀｶﾊｼ ﾊﾅ", name_kanji="髙橋 ハナ", postal_code="〒070-0031"
    )
    assert created["name_kana"] == "タカハシ\u3000ハナ"  # normalised kana
    assert created["postal_code"] == "0700031"

    fetched = await clerk.get(f"/persons/{created['atena_no']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert fetched.json()["name_kanji"] == "髙橋 ハナ"  # stored exactly as entered


async def test_compatibility_ideograph_in_name_survives_the_round_trip(clerk: httpx.AsyncClient) -> None:
    created = await _create_person(clerk, name_kanji="\ufa10本 𠮷子", name_kana="ツカモト ヨシコ")
    fetched = (await clerk.get(f"/persons/{created['atena_no']}")).json()
    assert fetched["name_kanji"] == "\ufa10本 𠮷子"


async def test_duplicate_atena_no_is_refused_and_the_first_is_unchanged(clerk: httpx.AsyncClient) -> None:
    first = await _create_person(clerk)
    again = await clerk.post(
        "/persons", json=person_payload(atena_no=first["atena_no"], name_kanji="別人 一郎")
    )
    assert again.status_code == 409
    body = again.json()
    assert body["errors"] == [{"field": "atena_no", "message": body["detail"]}]
    assert "既に登録" in body["detail"]
    assert (await clerk.get(f"/persons/{first['atena_no']}")).json()["name_kanji"] == first["name_kanji"]


async def test_invalid_person_names_each_field_in_japanese(clerk: httpx.AsyncClient) -> None:
    response = await clerk.post(
        "/persons",
        json=person_payload(
            name_kana="山田", postal_code="12", birth_date="1945-13-01", sex="3", atena_no="A1"
        ),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert messages["name_kana"] == "全角カタカナで入力してください"
    assert messages["postal_code"] == "郵便番号は7桁の数字で入力してください"
    assert messages["birth_date"].startswith("日付は YYYY-MM-DD")
    assert messages["sex"].startswith("次のいずれかを指定してください")
    assert messages["atena_no"] == "形式が正しくありません"


async def test_over_long_and_future_values_are_refused(clerk: httpx.AsyncClient) -> None:
    response = await clerk.post(
        "/persons", json=person_payload(name_kanji="山" * 61, birth_date="2999-01-01", unknown_field=1)
    )
    assert response.status_code == 422
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert messages["name_kanji"] == "60文字以内で入力してください"
    assert messages["birth_date"] == "生年月日が正しくありません"
    assert messages["unknown_field"] == "この項目は受け付けません"


async def test_missing_person_is_a_japanese_404(clerk: httpx.AsyncClient) -> None:
    response = await clerk.get("/persons/999999999999")
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "urn:kaigo-flow:problem:person-not-found"
    assert body["detail"] == "宛名番号 999999999999 の宛名は登録されていません"
    assert body["instance"] == "/persons/999999999999"


async def test_kana_prefix_search_accepts_hiragana_and_half_width_and_pages(clerk: httpx.AsyncClient) -> None:
    for given in ("イチロウ", "ジロウ", "サブロウ"):
        await _create_person(clerk, name_kana=f"ケンサク {given}")
    await _create_person(clerk, name_kana="ベツジン タロウ")

    page1 = (await clerk.get("/persons", params={"kana": "けんさく", "size": 2})).json()
    page2 = (await clerk.get("/persons", params={"kana": "ｹﾝｻｸ", "size": 2, "page": 2})).json()
    assert (page1["total"], page2["total"]) == (3, 3)
    names = [p["name_kana"] for p in page1["items"] + page2["items"]]
    assert sorted(names) == names and len(names) == 3
    assert all(n.startswith("ケンサク") for n in names)


async def test_search_wildcards_are_literal(clerk: httpx.AsyncClient) -> None:
    await _create_person(clerk, name_kana="ワイルド カード")
    for pattern in ("%", "_", "ワ%ド"):
        assert (await clerk.get("/persons", params={"kana": pattern})).json()["total"] == 0


async def test_search_without_criteria_is_refused(clerk: httpx.AsyncClient) -> None:
    response = await clerk.get("/persons")
    assert response.status_code == 422
    assert response.json()["detail"] == "検索条件を1つ以上指定してください"


async def test_insured_lifecycle_and_search(clerk: httpx.AsyncClient) -> None:
    person = await _create_person(clerk, name_kana="ヒホケン タロウ", birth_date="1945-06-01")
    created = await clerk.post("/insured", json=insured_payload(person["atena_no"], acquired_on="2010-05-31"))
    assert created.status_code == 201, created.text
    insured = created.json()
    assert insured["name_kana"] == "ヒホケン\u3000タロウ"

    by_number = (await clerk.get("/insured", params={"insured_no": insured["insured_no"][:6]})).json()
    assert insured["insured_no"] in [i["insured_no"] for i in by_number["items"]]
    by_kana = (await clerk.get("/insured", params={"kana": "ひほけん"})).json()
    assert [i["insured_no"] for i in by_kana["items"]] == [insured["insured_no"]]

    lost = await clerk.post(
        f"/insured/{insured['insured_no']}/loss", json={"lost_on": "2026-01-10", "loss_reason": "moved_out"}
    )
    assert lost.status_code == 200
    assert (await clerk.get(f"/insured/{insured['insured_no']}")).json()["lost_on"] == "2026-01-10"
    again = await clerk.post(
        f"/insured/{insured['insured_no']}/loss", json={"lost_on": "2026-01-11", "loss_reason": "death"}
    )
    assert again.status_code == 409


async def test_9_first_category_before_age_65_is_refused(clerk: httpx.AsyncClient) -> None:
    person = await _create_person(clerk, birth_date="1960-04-01")
    response = await clerk.post(
        "/insured", json=insured_payload(person["atena_no"], acquired_on="2025-03-30")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "category"
    assert "2025-03-31" in response.json()["detail"]  # 65歳到達日 (誕生日の前日)


async def test_one_insured_number_per_person_and_per_number(clerk: httpx.AsyncClient) -> None:
    a = await _create_person(clerk)
    b = await _create_person(clerk)
    first = insured_payload(a["atena_no"])
    assert (await clerk.post("/insured", json=first)).status_code == 201
    second_for_a = await clerk.post("/insured", json=insured_payload(a["atena_no"], insured_no="0999999999"))
    assert second_for_a.status_code == 409
    assert second_for_a.json()["errors"][0]["field"] == "atena_no"
    same_number_for_b = await clerk.post(
        "/insured", json={**insured_payload(b["atena_no"]), "insured_no": first["insured_no"]}
    )
    assert same_number_for_b.status_code == 409
    assert same_number_for_b.json()["errors"][0]["field"] == "insured_no"


async def test_removed_person_cannot_become_insured(clerk: httpx.AsyncClient) -> None:
    person = await _create_person(clerk)
    removal = await clerk.post(
        f"/persons/{person['atena_no']}/removal", json={"removed_on": "2026-02-01", "removal_reason": "death"}
    )
    assert removal.status_code == 200
    response = await clerk.post("/insured", json=insured_payload(person["atena_no"]))
    assert response.status_code == 422
    assert response.json()["detail"] == "除票された宛名は被保険者にできません"


async def test_insured_for_unknown_person_is_404(clerk: httpx.AsyncClient) -> None:
    response = await clerk.post("/insured", json=insured_payload("888888888888"))
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "atena_no"
