"""Short-lived JWTs (HS256): staff access tokens and codec-only tokens for the Temporal UI.

Staff token claims: sub (login id), jti (unique id, for logout), ver (the account's token version: bumping it
revokes every token of that account), iat, exp, aud "kaigo-flow". Roles are NOT in the token: they are read
per request, so a role change or a deactivation takes effect at once.

A codec token (aud "kaigo-flow-codec") opens only the Temporal UI and its codec (/temporal/*, /codec/*), from
a cookie. It also carries sid: the jti of the login that opened it, so logging out that login revokes it
too, and it never outlives that login. Its audience differs, so it is never a staff token and vice versa.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

_ALGORITHM = "HS256"
_AUDIENCE = "kaigo-flow"
CODEC_AUDIENCE = "kaigo-flow-codec"


@dataclass(frozen=True)
class TokenClaims:
    login_id: str
    token_id: str
    version: int
    expires_at: datetime
    session_id: str | None = None  # codec tokens: the jti of the login that opened them

    @property
    def revocation_ids(self) -> tuple[str, ...]:
        """Revoking any of these ids (a RevokedToken row) revokes this token."""
        return (self.token_id,) if self.session_id is None else (self.token_id, self.session_id)


def _encode(claims: TokenClaims, *, secret: str, audience: str, issued_at: datetime) -> str:
    payload: dict[str, Any] = {
        "sub": claims.login_id,
        "jti": claims.token_id,
        "ver": claims.version,
        "aud": audience,
        "iat": issued_at,
        "exp": claims.expires_at,
    }
    if claims.session_id is not None:
        payload["sid"] = claims.session_id
    return jwt.encode(payload, secret, algorithm=_ALGORITHM)


def issue_token(*, secret: str, login_id: str, version: int, lifetime: timedelta) -> tuple[str, TokenClaims]:
    now = datetime.now(UTC)
    claims = TokenClaims(
        login_id=login_id, token_id=uuid.uuid4().hex, version=version, expires_at=now + lifetime
    )
    return _encode(claims, secret=secret, audience=_AUDIENCE, issued_at=now), claims


def issue_codec_token(
    *, secret: str, login_id: str, version: int, session_id: str, lifetime: timedelta, not_after: datetime
) -> tuple[str, TokenClaims]:
    """A codec-only token for the login `session_id`; it expires with that login at the latest."""
    now = datetime.now(UTC)
    claims = TokenClaims(
        login_id=login_id,
        token_id=uuid.uuid4().hex,
        version=version,
        expires_at=min(now + lifetime, not_after),
        session_id=session_id,
    )
    return _encode(claims, secret=secret, audience=CODEC_AUDIENCE, issued_at=now), claims


class InvalidToken(Exception):
    """The token is malformed, forged, expired or incomplete; the message is safe to log."""


def _decode(token: str, *, secret: str, audience: str, required: list[str]) -> dict[str, Any]:
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],  # never trust the token's own "alg" (no "none", no key confusion)
            audience=audience,
            options={"require": required},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("expired") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from None
    if not isinstance(payload["sub"], str) or not isinstance(payload["ver"], int):
        raise InvalidToken("bad claim types")
    return payload


def _claims(payload: dict[str, Any], session_id: str | None = None) -> TokenClaims:
    return TokenClaims(
        login_id=payload["sub"],
        token_id=str(payload["jti"]),
        version=payload["ver"],
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        session_id=session_id,
    )


_STAFF_CLAIMS = ["sub", "jti", "ver", "exp", "iat", "aud"]


def decode_token(token: str, *, secret: str) -> TokenClaims:
    """A staff access token (never a codec token: its audience differs)."""
    return _claims(_decode(token, secret=secret, audience=_AUDIENCE, required=_STAFF_CLAIMS))


def decode_codec_token(token: str, *, secret: str) -> TokenClaims:
    """A codec-only token (never a staff token: its audience differs)."""
    payload = _decode(token, secret=secret, audience=CODEC_AUDIENCE, required=[*_STAFF_CLAIMS, "sid"])
    if not isinstance(payload["sid"], str) or not payload["sid"]:
        raise InvalidToken("bad claim types")
    return _claims(payload, session_id=payload["sid"])
