"""Which permission each route requires, read from the routes themselves (the README table is generated
from this and tests/api/test_route_permissions.py proves both the table and the behaviour)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.auth import Require, current_principal
from api.console.auth import current_console

PUBLIC = "public"
LOGGED_IN = "any staff"


@dataclass(frozen=True, order=True)
class RouteRule:
    path: str
    method: str
    permission: str  # a Permission value, PUBLIC or LOGGED_IN
    summary: str


def requirement(dependant: Dependant) -> str:
    """The permission a route requires: its `Require`, else "any staff" when it needs a login, else public."""
    found: set[str] = set()
    authenticated = False

    def walk(node: Dependant) -> None:
        nonlocal authenticated
        for child in node.dependencies:
            if isinstance(child.call, Require):
                found.add(str(child.call.permission))
            if child.call in (current_principal, current_console):
                authenticated = True
            walk(child)

    walk(dependant)
    if len(found) > 1:
        raise ValueError(f"route requires several permissions: {sorted(found)}")
    return found.pop() if found else (LOGGED_IN if authenticated else PUBLIC)


def route_rules(routers: Iterable[APIRouter]) -> list[RouteRule]:
    rules = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            for method in sorted(route.methods - {"HEAD"}):
                rules.append(RouteRule(route.path, method, requirement(route.dependant), route.summary or ""))
    return sorted(rules)


def markdown_table(routers: Iterable[APIRouter]) -> str:
    lines = ["| method | path | permission | what |", "|---|---|---|---|"]
    lines += [f"| {r.method} | `{r.path}` | {r.permission} | {r.summary} |" for r in route_rules(routers)]
    return "\n".join(lines)
