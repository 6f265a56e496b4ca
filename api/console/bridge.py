"""The console acts through the JSON API's own endpoints — no second path to the data.

`call(console, endpoint, **arguments)` runs an API route function as the API would: the permission its route
declares (read from the route, like the README's table) is checked and a refusal audited; the principal,
resources, audit trail and — when the endpoint takes one — a database session in one transaction that also
writes the request's audit entries are filled in. Everything else the endpoint checks (visibility, If-Match
versions, payload validation, the workflow's update validator, scoped access) runs unchanged.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, TypeVar

from fastapi import Response
from fastapi.routing import APIRoute
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import AuditTrail, Principal, deny
from api.console.auth import Console
from api.deps import Resources
from api.idempotency import Idempotency
from api.route_table import LOGGED_IN, PUBLIC, requirement
from api.unit_of_work import transaction
from kaigo.config import Settings
from models.permissions import Permission

R = TypeVar("R")


@cache
def _permissions() -> dict[Callable[..., Any], str]:
    from api.main import ROUTERS  # the app's routers (imported late: api.main mounts the console too)

    found: dict[Callable[..., Any], str] = {}
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                found[route.endpoint] = requirement(route.dependant)
    return found


def permission_of(endpoint: Callable[..., Any]) -> str:
    try:
        return _permissions()[endpoint]
    except KeyError:
        raise ValueError(f"{endpoint.__qualname__} is not an API route") from None


def _base(hint: Any) -> Any:
    if typing.get_origin(hint) is typing.Annotated:
        return typing.get_args(hint)[0]
    return hint


async def call(console: Console, endpoint: Callable[..., Awaitable[R]], /, **arguments: Any) -> R:
    permission = permission_of(endpoint)
    if permission not in (PUBLIC, LOGGED_IN) and not console.may(Permission(permission)):
        await deny(
            console.resources,
            console.audit,
            f"権限がありません ({permission})",
            permission=Permission(permission),
        )
    kwargs = dict(arguments)
    session_parameter = None
    for name, hint in typing.get_type_hints(endpoint, include_extras=True).items():
        if name == "return" or name in kwargs:
            continue
        base = _base(hint)
        if base is Principal:
            kwargs[name] = console.principal
        elif base is Resources:
            kwargs[name] = console.resources
        elif base is AuditTrail:
            kwargs[name] = console.audit
        elif base is Response:
            kwargs[name] = Response()
        elif base is Settings:
            kwargs[name] = console.settings
        elif base is Idempotency:
            kwargs[name] = Idempotency(console.request, console.resources)
        elif base is AsyncSession:
            session_parameter = name
    if session_parameter is None:
        return await endpoint(**kwargs)
    async with transaction(console.resources, console.audit) as session:
        kwargs[session_parameter] = session
        return await endpoint(**kwargs)
