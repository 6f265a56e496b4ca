"""SQLModel tables and API schemas, one module per aggregate.

Importing this package registers every table on SQLModel.metadata (alembic and tests rely on that).
"""

from models import (
    board,
    case,
    certification,
    certification_import,
    console,
    idempotency,
    notice,
    print_export,
    registry,
    renewal,
    renewal_batch,
    restriction,
    security,
    task,
)

__all__ = [
    "board",
    "case",
    "certification",
    "certification_import",
    "console",
    "idempotency",
    "notice",
    "print_export",
    "registry",
    "renewal",
    "renewal_batch",
    "restriction",
    "security",
    "task",
]
