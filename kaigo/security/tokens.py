"""Short-lived staff access tokens (JWT, HS256).

Claims: sub (login id), jti (unique id, for logout), ver (the account's token version: bumping it revokes
every token of that account), iat, exp. Roles are NOT in the token: they are read per request, so a role
change or a deactivation takes effect at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

_ALGORITHM = "HS256"
_AUDIENCE = "kaigo-flow"


@dataclass(frozen=True)
class TokenClaims:
    login_id: str
    token_id: str
    version: int
    expires_at: datetime


def issue_token(*, secret: str, login_id: str, version: int, lifetime: timedelta) -> tuple[str, TokenClaims]:
    now = datetime.now(UTC)
    claims = TokenClaims(
        login_id=login_id, token_id=uuid.uuid4().hex, version=version, expires_at=now + lifetime
    )
    token = jwt.encode(
        {
            "sub": login_id,
            "jti": claims.token_id,
            "ver": version,
            "aud": _AUDIENCE,
            "iat": now,
            "exp": claims.expires_at,
        },
        secret,
        algorithm=_ALGORITHM,
    )
    return token, claims


class InvalidToken(Exception):
    """The token is malformed, forged, expired or incomplete; the message is safe to log."""


def decode_token(token: str, *, secret: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],  # never trust the token's own "alg" (no "none", no key confusion)
            audience=_AUDIENCE,
            options={"require": ["sub", "jti", "ver", "exp", "iat", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("expired") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from None
    if not isinstance(payload["sub"], str) or not isinstance(payload["ver"], int):
        raise InvalidToken("bad claim types")
    return TokenClaims(
        login_id=payload["sub"],
        token_id=str(payload["jti"]),
        version=payload["ver"],
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
    )
