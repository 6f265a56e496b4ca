"""SQLModel tables and API schemas, one module per aggregate.

Importing this package registers every table on SQLModel.metadata (alembic and tests rely on that).
"""

from models import (
    board,
    case,
    certification,
    console,
    idempotency,
    notice,
    print_export,
    registry,
    renewal,
    restriction,
    security,
    task,
)

__all__ = [
    "board",
    "case",
    "certification",
    "console",
    "idempotency",
    "notice",
    "print_export",
    "registry",
    "renewal",
    "restriction",
    "security",
    "task",
]
