"""The `as_staff` fixture's clients are closed after each test (none left open across the suite)."""

from __future__ import annotations

from api.main import create_app
from tests.conftest import TEST_SETTINGS, staff_clients


async def test_every_client_handed_out_is_closed_when_the_test_ends() -> None:
    async with staff_clients(create_app(TEST_SETTINGS), {}, TEST_SETTINGS) as client_for:
        handed_out = [client_for("intake"), client_for("board2")]
        assert not any(client.is_closed for client in handed_out)
        assert handed_out[0].headers["authorization"].startswith("Bearer ")
    assert all(client.is_closed for client in handed_out)
