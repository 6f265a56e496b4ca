"""Every console router, in the order they are mounted (the README's console route table is read from them).

A procedure's console module (its forms, case panel, charts and routes) is imported here, which registers it.
"""

from __future__ import annotations

from api.console import board, cases, certification, dashboard, home, restriction, tasks
from api.console import renewal as _renewal  # noqa: F401  (no routes of its own: its panel, form and chart)

CONSOLE_ROUTERS = tuple(
    module.router for module in (home, tasks, cases, certification, restriction, board, dashboard)
)
