"""certification_term.workflow_started: the rows are written before the workflow starts; the reconciliation
starts a term whose workflow is not yet known to run (instead of a header left without a due date)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Terms written before this column had their workflow started with them (or, stalled, were started by
    # the reconciliation's old check): they count as started.
    op.add_column(
        "certification_term",
        sa.Column("workflow_started", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.alter_column("certification_term", "workflow_started", server_default=None)


def downgrade() -> None:
    op.drop_column("certification_term", "workflow_started")
