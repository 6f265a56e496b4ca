"""certification_term: index on expiry, for the dashboard's renewals due in the next 60 days

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 21:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_certification_term_expiry", "certification_term", ["expiry"])


def downgrade() -> None:
    op.drop_index("ix_certification_term_expiry", table_name="certification_term")
