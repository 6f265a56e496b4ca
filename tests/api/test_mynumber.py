"""個人番号: validated, encrypted at rest, unique per person, masked, revealed only with an audited reason
(seed III-3 リスク1 and リスク2; 番号法施行規則5条)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import Resources
from api.main import create_app
from kaigo.security.field_crypto import FieldCipher
from kaigo.security.keys import Keyring
from models.registry import Person
from models.security import AuditEvent
from tests.factories import person_payload

NUMBER = "123456789018"
OTHER_NUMBER = "987654321093"


@pytest.fixture
async def person(as_staff: Callable[[str], httpx.AsyncClient]) -> str:
    response = await as_staff("intake").post("/persons", json=person_payload())
    assert response.status_code == 201
    return str(response.json()["atena_no"])


async def _link(client: httpx.AsyncClient, atena_no: str, number: str) -> httpx.Response:
    return await client.put(f"/persons/{atena_no}/my-number", json={"my_number": number})


async def test_linked_number_is_masked_for_holders_and_absent_for_others(
    as_staff: Callable[[str], httpx.AsyncClient], person: str
) -> None:
    linked = await _link(as_staff("intake"), person, NUMBER)
    assert linked.status_code == 200
    assert (linked.json()["my_number"], linked.json()["has_my_number"]) == ("********9018", True)

    restricted = (await as_staff("restriction").get(f"/persons/{person}")).json()
    assert (restricted["my_number"], restricted["has_my_number"]) == (None, True)
    assert NUMBER not in str(restricted)


async def test_a_number_linked_to_someone_else_is_refused(
    as_staff: Callable[[str], httpx.AsyncClient], person: str
) -> None:
    intake = as_staff("intake")
    other = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    assert (await _link(intake, person, NUMBER)).status_code == 200
    refused = await _link(intake, other, NUMBER)
    assert refused.status_code == 409
    assert refused.json()["errors"] == [
        {
            "field": "my_number",
            "message": "この個人番号は既に別の宛名に紐付けられています。届出書等と照合してください",
        }
    ]
    assert (await intake.get(f"/persons/{other}")).json()["has_my_number"] is False
    # Re-linking the same number to the same person is not a conflict (a correction of other data).
    assert (await _link(intake, person, NUMBER)).status_code == 200


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("１２３４５６７８９０１８", "個人番号は半角数字12桁で入力してください"),
        ("12345678901", "個人番号は半角数字12桁で入力してください"),
        ("123456789019", "個人番号のチェックデジットが一致しません。入力内容を確認してください"),
        ("1234-5678-9018", "個人番号は半角数字12桁で入力してください"),
        ("9" * 40, "32文字以内で入力してください"),
    ],
)
async def test_invalid_numbers_are_refused_with_the_field_named(
    as_staff: Callable[[str], httpx.AsyncClient], person: str, number: str, message: str
) -> None:
    response = await _link(as_staff("intake"), person, number)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "my_number", "message": message}]


async def test_reveal_needs_the_permission_and_a_reason_and_is_audited(
    as_staff: Callable[[str], httpx.AsyncClient], person: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _link(as_staff("intake"), person, NUMBER)
    supervisor = as_staff("supervisor")
    no_reason = await supervisor.post(f"/persons/{person}/my-number/reveal", json={})
    assert no_reason.status_code == 422
    revealed = await supervisor.post(
        f"/persons/{person}/my-number/reveal", json={"reason": "中間サーバー照会"}
    )
    assert revealed.json() == {"atena_no": person, "my_number": NUMBER}
    denied = await as_staff("restriction").post(
        f"/persons/{person}/my-number/reveal", json={"reason": "確認"}
    )
    assert denied.status_code == 403

    async with sessions() as session:
        rows = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.subject_atena_no == person).order_by(col(AuditEvent.id))
            )
        ).all()
    reveal = [r for r in rows if r.action == "mynumber.reveal"]
    assert [(r.actor, r.detail["reason"]) for r in reveal] == [("supervisor", "中間サーバー照会")]
    assert all(NUMBER not in str(r.detail) for r in rows)


async def test_exact_search_only_for_holders(
    as_staff: Callable[[str], httpx.AsyncClient], person: str
) -> None:
    await _link(as_staff("intake"), person, NUMBER)
    found = await as_staff("supervisor").post("/persons/search-by-my-number", json={"my_number": NUMBER})
    assert [p["atena_no"] for p in found.json()["items"]] == [person]
    missing = await as_staff("supervisor").post(
        "/persons/search-by-my-number", json={"my_number": OTHER_NUMBER}
    )
    assert missing.json()["items"] == []
    assert (
        await as_staff("restriction").post("/persons/search-by-my-number", json={"my_number": NUMBER})
    ).status_code == 403


async def test_database_holds_ciphertext_and_blind_index_only(
    as_staff: Callable[[str], httpx.AsyncClient], person: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _link(as_staff("intake"), person, NUMBER)
    async with sessions() as session:
        row = (
            (
                await session.exec(
                    text("SELECT * FROM person WHERE atena_no = :a").bindparams(a=person)  # type: ignore[call-overload]
                )
            )
            .mappings()
            .one()
        )
    assert NUMBER.encode() not in bytes(row["mynumber_ciphertext"])
    assert NUMBER not in row["mynumber_index"]
    assert row["mynumber_key_id"] == "changethis-dev"
    assert NUMBER not in str(dict(row))


async def test_ciphertext_is_bound_to_its_person(
    as_staff: Callable[[str], httpx.AsyncClient], person: str, resources: Resources
) -> None:
    await _link(as_staff("intake"), person, NUMBER)
    async with resources.sessions() as session:
        stored = await session.get(Person, person)
    assert stored is not None and stored.mynumber_ciphertext is not None
    from cryptography.exceptions import InvalidTag

    from kaigo.security.field_crypto import SealedValue

    sealed = SealedValue(stored.mynumber_key_id or "", stored.mynumber_ciphertext)
    assert resources.cipher.open(sealed, bound_to=person) == NUMBER
    with pytest.raises(InvalidTag):  # copied onto another person's row, it does not decrypt
        resources.cipher.open(sealed, bound_to="999999999999")


async def test_keys_rotate_old_ciphertexts_still_read(
    as_staff: Callable[[str], httpx.AsyncClient], person: str, resources: Resources
) -> None:
    await _link(as_staff("intake"), person, NUMBER)
    new_key = "new2026:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="
    rotated = resources.settings.model_copy(update={"data_keys": f"{new_key},{resources.settings.data_keys}"})
    app = create_app(
        resources=dataclasses.replace(resources, settings=rotated, cipher=FieldCipher.from_settings(rotated))
    )
    transport = httpx.ASGITransport(app=app)
    headers = dict(as_staff("intake").headers)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://kaigo.test", headers=headers
    ) as client:
        assert (await client.get(f"/persons/{person}")).json()["my_number"] == "********9018"  # old key reads
        other = (await client.post("/persons", json=person_payload())).json()["atena_no"]
        await _link(client, other, OTHER_NUMBER)
    async with resources.sessions() as session:
        assert (await session.get(Person, other)).mynumber_key_id == "new2026"  # type: ignore[union-attr]
    assert Keyring.parse(rotated.data_keys, name="DATA_KEYS").current_id == "new2026"


async def test_number_never_reaches_the_logs(
    as_staff: Callable[[str], httpx.AsyncClient], person: str, capsys: pytest.CaptureFixture[str]
) -> None:
    intake = as_staff("intake")
    await _link(intake, person, NUMBER)
    await intake.post(f"/persons/{person}/my-number/reveal", json={"reason": "確認"})
    await intake.post("/persons/search-by-my-number", json={"my_number": NUMBER})
    await _link(intake, person, "１２３４５６７８９０１８")
    captured = capsys.readouterr()
    assert NUMBER not in captured.out + captured.err
