"""A cookie-keeping client for the web console in tests: logs in through /ui/login like a browser and posts
forms with the page's CSRF token."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "test-password-2026"  # tests/conftest.py demo_password_hash
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def text_of(page: str) -> str:
    """The page's text without tags (what a person reads)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@dataclass
class ConsoleClient:
    client: httpx.AsyncClient
    csrf: str = ""

    async def login(self, login_id: str, password: str = PASSWORD, next: str = "") -> httpx.Response:
        page = await self.client.get("/ui/login", params={"next": next} if next else None)
        response = await self.client.post(
            "/ui/login",
            data={"login_id": login_id, "password": password, "csrf_token": csrf_of(page.text), "next": next},
        )
        if response.status_code == 303:
            await self.get("/console/", follow_redirects=True)  # picks up the session's CSRF token
        return response

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def page(self, path: str, **kwargs: Any) -> str:
        response = await self.get(path, follow_redirects=True, **kwargs)
        assert response.status_code == 200, (path, response.status_code, text_of(response.text)[:600])
        return response.text

    async def post(
        self, path: str, data: dict[str, Any] | list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> httpx.Response:
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        if not any(k == "csrf_token" for k, _ in fields):
            fields.append(("csrf_token", self.csrf))
        form: dict[str, list[str]] = {}
        for key, value in fields:
            form.setdefault(key, []).append(value)
        response = await self.client.post(path, data=form, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response
