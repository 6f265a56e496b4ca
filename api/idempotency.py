"""Idempotency-Key on POSTs that start things: a retry gets the first response instead of a second case.

- same key, same body, first request finished → the stored response (status and body);
- same key, different body → 422; same key while the first request is still running → 409;
- a request that failed releases its key, so the client may retry it.
Keys are scoped to the staff member and kept 24 hours (`kaigo purge` drops older ones).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import delete
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import Resources, ResourcesDep
from kaigo.errors import ProblemError
from models.idempotency import IdempotencyRecord

_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")


class Idempotency:
    def __init__(self, request: Request, resources: Resources) -> None:
        self._resources = resources
        self._route = f"{request.method} {request.url.path}"
        self._key = request.headers.get("idempotency-key")
        self._principal: str | None = None
        self._reserved = False
        if self._key is not None and not _KEY.fullmatch(self._key):
            raise ProblemError(
                400,
                "idempotency-key",
                "Idempotency-Key は英数字と ._:- の8〜100文字にしてください",
                field="Idempotency-Key",
            )

    async def begin(self, principal: str, body: Any) -> JSONResponse | None:
        """Reserve the key, or return the stored response of the request that already used it."""
        if self._key is None:
            return None
        self._principal = principal
        fingerprint = hashlib.sha256(
            json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        async with self._resources.sessions() as session, session.begin():
            inserted = await session.exec(
                insert(IdempotencyRecord)
                .values(key=self._key, principal=principal, route=self._route, fingerprint=fingerprint)
                .on_conflict_do_nothing()
                .returning(IdempotencyRecord.key)
            )
            if inserted.first() is not None:
                self._reserved = True
                return None
            stored = await session.get(IdempotencyRecord, (self._key, principal))
        assert stored is not None
        if stored.fingerprint != fingerprint or stored.route != self._route:
            raise ProblemError(
                422,
                "idempotency-mismatch",
                "この Idempotency-Key は別の内容の要求で使われています",
                field="Idempotency-Key",
            )
        if stored.status_code is None:
            raise ProblemError(
                409, "idempotency-in-flight", "同じ要求を処理中です。しばらく待って再度お試しください"
            )
        return JSONResponse(
            stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
        )

    async def complete(self, session: AsyncSession, status_code: int, body: dict[str, Any]) -> None:
        """Store the response in the request's own transaction (it commits with the work it describes)."""
        if not self._reserved:
            return
        record = await session.get(IdempotencyRecord, (self._key, self._principal))
        assert record is not None
        record.status_code, record.response = status_code, body
        session.add(record)
        self._reserved = False

    async def release(self) -> None:
        if not self._reserved:
            return
        async with self._resources.sessions() as session, session.begin():
            await session.exec(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.key == self._key, IdempotencyRecord.principal == self._principal
                )
            )


async def get_idempotency(request: Request, resources: ResourcesDep) -> AsyncIterator[Idempotency]:
    idempotency = Idempotency(request, resources)
    try:
        yield idempotency
    except Exception:
        await idempotency.release()
        raise


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency, scope="function")]
