"""The codec session is not a login: its cookie holds a codec-only token that opens /codec/* and nothing else,
cannot renew itself, never outlives the login that opened it, and every decode it makes is audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import jwt
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.config import Settings
from kaigo.security.tokens import decode_codec_token, decode_token
from models.security import AuditEvent
from tests.factories import person_payload

PASSWORD = "test-password-2026"  # tests/conftest.py demo_password_hash
COOKIE = "kaigo_codec_token"
NUMBER = "123456789018"
EMPTY = {"payloads": []}


async def _login(api: httpx.AsyncClient, login_id: str) -> str:
    response = await api.post("/auth/token", data={"username": login_id, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _codec_cookie(api: httpx.AsyncClient, bearer: str) -> str:
    response = await api.post("/auth/codec-session", headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code == 204, response.text
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "path=/;" in set_cookie
    api.cookies.clear()  # each request below says which credential it carries
    return str(response.cookies[COOKIE])


def _with_cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={token}"}


async def test_the_cookie_is_no_staff_token_anywhere(
    api: httpx.AsyncClient, as_staff: Callable[[str], httpx.AsyncClient]
) -> None:
    intake = as_staff("intake")
    person = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    assert (await intake.put(f"/persons/{person}/my-number", json={"my_number": NUMBER})).status_code == 200
    reveal = f"/persons/{person}/my-number/reveal"

    bearer = await _login(api, "supervisor")
    # The supervisor's login reveals the number; the codec cookie of that login reveals nothing.
    ok = await api.post(reveal, json={"reason": "確認"}, headers={"Authorization": f"Bearer {bearer}"})
    assert ok.json()["my_number"] == NUMBER
    codec = await _codec_cookie(api, bearer)
    as_bearer = {"Authorization": f"Bearer {codec}"}
    for method, path in [("POST", reveal), ("GET", f"/persons/{person}"), ("GET", "/auth/me")]:
        refused = await api.request(method, path, json={"reason": "確認"}, headers=as_bearer)
        assert refused.status_code == 401, (path, refused.text)
        assert NUMBER not in refused.text
    # Not as a cookie outside /codec either, and not as a bearer token on /codec.
    assert (await api.get("/auth/me", headers=_with_cookie(codec))).status_code == 401
    assert (await api.post("/codec/decode", json=EMPTY, headers=as_bearer)).status_code == 401
    # Where it belongs, it works.
    assert (await api.post("/codec/decode", json=EMPTY, headers=_with_cookie(codec))).status_code == 200


async def test_the_codec_token_cannot_renew_itself(
    api: httpx.AsyncClient, staff_tokens: dict[str, str]
) -> None:
    codec = await _codec_cookie(api, staff_tokens["supervisor"])
    by_cookie = await api.post("/auth/codec-session", headers=_with_cookie(codec))
    by_bearer = await api.post("/auth/codec-session", headers={"Authorization": f"Bearer {codec}"})
    assert by_cookie.status_code == by_bearer.status_code == 401
    assert "set-cookie" not in by_cookie.headers and "set-cookie" not in by_bearer.headers


async def test_it_is_short_lived_and_tied_to_its_login(
    api: httpx.AsyncClient, settings: Settings, staff_tokens: dict[str, str]
) -> None:
    parent = decode_token(staff_tokens["admin"], secret=settings.secret_key)  # a 5-minute login
    codec = decode_codec_token(await _codec_cookie(api, staff_tokens["admin"]), secret=settings.secret_key)
    assert codec.session_id == parent.token_id and codec.token_id != parent.token_id
    assert codec.expires_at <= parent.expires_at  # never outlives its login
    claims = jwt.decode(await _codec_cookie(api, staff_tokens["admin"]), options={"verify_signature": False})
    assert claims["aud"] == "kaigo-flow-codec"
    assert claims["exp"] - datetime.now(UTC).timestamp() <= settings.access_token_minutes * 60


async def test_logging_out_the_login_kills_its_codec_cookie(
    api: httpx.AsyncClient, staff_tokens: dict[str, str]
) -> None:
    bearer = await _login(api, "supervisor")
    codec = await _codec_cookie(api, bearer)
    other = await _codec_cookie(api, await _login(api, "supervisor"))  # another login of the same person
    assert (await api.post("/codec/decode", json=EMPTY, headers=_with_cookie(codec))).status_code == 200

    logout = await api.post("/auth/logout", headers={"Authorization": f"Bearer {bearer}"})
    assert logout.status_code == 204
    after = await api.post("/codec/decode", json=EMPTY, headers=_with_cookie(codec))
    assert after.status_code == 401 and after.json()["reason"] == "revoked"
    # Only that login's session ends.
    assert (await api.post("/codec/decode", json=EMPTY, headers=_with_cookie(other))).status_code == 200


async def test_revoking_every_token_of_the_account_kills_it_too(
    api: httpx.AsyncClient, as_staff: Callable[[str], httpx.AsyncClient], staff_tokens: dict[str, str]
) -> None:
    codec = await _codec_cookie(api, staff_tokens["supervisor"])
    assert (await as_staff("admin").post("/staff/supervisor/revoke-tokens")).status_code == 200
    refused = await api.post("/codec/decode", json=EMPTY, headers=_with_cookie(codec))
    assert refused.status_code == 401 and refused.json()["reason"] == "revoked"


async def test_a_role_change_applies_to_the_cookie_at_once(
    api: httpx.AsyncClient, as_staff: Callable[[str], httpx.AsyncClient], staff_tokens: dict[str, str]
) -> None:
    codec = await _codec_cookie(api, staff_tokens["supervisor"])
    await as_staff("admin").patch("/staff/supervisor", json={"roles": ["intake"]})
    assert (await api.post("/codec/decode", json=EMPTY, headers=_with_cookie(codec))).status_code == 403


async def test_every_decode_through_the_cookie_is_audited(
    api: httpx.AsyncClient, staff_tokens: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    codec = await _codec_cookie(api, staff_tokens["supervisor"])
    request_ids = [f"codec-cookie-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    for request_id in request_ids:
        headers = {**_with_cookie(codec), "X-Request-ID": request_id, "X-Namespace": "default"}
        assert (await api.post("/codec/decode", json=EMPTY, headers=headers)).status_code == 200
    async with sessions() as session:
        rows = (
            await session.exec(select(AuditEvent).where(col(AuditEvent.request_id).in_(request_ids)))
        ).all()
    assert sorted((r.request_id, r.actor, r.action, r.detail["namespace"]) for r in rows) == sorted(
        (request_id, "supervisor", "codec.decode", "default") for request_id in request_ids
    )


async def test_another_origin_cannot_use_the_cookie(
    api: httpx.AsyncClient, staff_tokens: dict[str, str]
) -> None:
    codec = await _codec_cookie(api, staff_tokens["supervisor"])
    # A page on another port of the same host is "same-site", so SameSite alone would let the cookie go.
    cross = await api.post(
        "/codec/decode", json=EMPTY, headers={**_with_cookie(codec), "Sec-Fetch-Site": "same-site"}
    )
    assert cross.status_code == 401
    same = await api.post(
        "/codec/decode", json=EMPTY, headers={**_with_cookie(codec), "Sec-Fetch-Site": "same-origin"}
    )
    assert same.status_code == 200
    # No CORS at all: the UI is served from this origin.
    preflight = await api.options(
        "/codec/decode",
        headers={"Origin": "http://localhost:8233", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
