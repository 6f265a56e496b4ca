"""Liveness and readiness probes (for compose/Kubernetes healthchecks and for operators)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import ResourcesDep
from api.errors import problem_response
from kaigo.db import ping

router = APIRouter(tags=["health"])

_CHECK_TIMEOUT_S = 3.0
_PART_NAMES = {"postgresql": "PostgreSQL", "temporal": "Temporal"}


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, str]


@router.get("/healthz", summary="生存確認 (プロセスが応答するか)")
async def healthz() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="準備完了確認 (PostgreSQL と Temporal に接続できるか)",
    responses={503: {"description": "接続できない構成要素がある (problem+json、checks に内訳)"}},
)
async def readyz(request: Request, resources: ResourcesDep) -> Readiness | JSONResponse:
    async def check(name: str, probe: Awaitable[object]) -> tuple[str, str]:
        try:
            await asyncio.wait_for(probe, timeout=_CHECK_TIMEOUT_S)
        except Exception as exc:
            return name, f"error: {type(exc).__name__}"
        return name, "ok"

    results = dict(
        await asyncio.gather(
            check("postgresql", ping(resources.engine)),
            check("temporal", resources.temporal.service_client.check_health()),
        )
    )
    failing = [name for name, result in results.items() if result != "ok"]
    if failing:
        parts = "、".join(_PART_NAMES[name] for name in failing)
        return problem_response(
            request,
            503,
            "not-ready",
            f"{parts} に接続できません",
            extra={"checks": results, "failing": failing},
        )
    return Readiness(checks=results)
