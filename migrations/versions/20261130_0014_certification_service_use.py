"""certification: service use in the last year, and where the certification came from

Renewal reminders may be limited by policy to persons who used services in the last year; certifications
adopted from a previous system (kaigo import certifications) are marked as imported.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "certification",
        sa.Column("service_use_last_year", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "certification",
        sa.Column("source", sa.String(length=8), server_default="decided", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("certification", "source")
    op.drop_column("certification", "service_use_last_year")
