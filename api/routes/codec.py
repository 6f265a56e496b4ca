"""Remote codec for the Temporal UI: decrypts payloads for staff allowed to see them, audited per call.

Protocol (Temporal "codec server"): POST /codec/decode or /codec/encode with {"payloads": [Payload JSON]}.
The Temporal UI is served from this origin (/temporal/), so its codec calls are same-origin.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.auth import AuditDep, Principal, require
from api.deps import ResourcesDep, SessionDep
from kaigo.errors import ProblemError
from models.permissions import Permission

router = APIRouter(prefix="/codec", tags=["codec"])

CodecUser = Annotated[Principal, require(Permission.CODEC_DECODE)]
PayloadsBody = Annotated[
    dict[str, Any], Body(description='{"payloads": [...]} (Temporal Payload の JSON 表現)')
]


def _parse(body: dict[str, Any]) -> Payloads:
    try:
        return json_format.ParseDict(body, Payloads())
    except json_format.ParseError as exc:
        raise ProblemError(
            422, "codec-payloads", "payloads の形式が正しくありません", field="payloads"
        ) from exc


def _dump(payloads: list[Any]) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


@router.post("/decode", summary="Temporal UI 用: ペイロードを復号する (監査記録あり)")
async def decode(
    body: PayloadsBody,
    _: CodecUser,
    resources: ResourcesDep,
    audit: AuditDep,
    session: SessionDep,  # noqa: ARG001  (its transaction writes the audit entry)
    x_namespace: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    payloads = _parse(body)
    codec = resources.temporal.data_converter.payload_codec
    assert codec is not None  # the kaigo data converter always encrypts
    try:
        decoded = await codec.decode(payloads.payloads)
    except Exception as exc:  # wrong key, tampered ciphertext: the UI shows the raw payload instead
        raise ProblemError(422, "codec-decode", "ペイロードを復号できません", field="payloads") from exc
    audit.record("codec.decode", detail={"payloads": len(decoded), "namespace": x_namespace})
    return _dump(decoded)


@router.post("/encode", summary="Temporal UI 用: ペイロードを暗号化する (UI からのシグナル送信など)")
async def encode(body: PayloadsBody, _: CodecUser, resources: ResourcesDep) -> dict[str, Any]:
    codec = resources.temporal.data_converter.payload_codec
    assert codec is not None
    return _dump(await codec.encode(_parse(body).payloads))
