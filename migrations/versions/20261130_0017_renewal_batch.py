"""renewal_batch: the day's print batch of renewal reminders and its issue list (発行一覧表)

One row per day with reminders to print: the notices export job holding them and the SHA-256 of the issue
list's CSV and PDF (rebuilt from the stored notices on download, like the export's own files).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 19:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "renewal_batch",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column(
            "export_id",
            sa.String(length=32),
            sa.ForeignKey("notice_export.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("notice_count", sa.Integer(), nullable=False),
        sa.Column("list_csv_name", sa.String(length=120), nullable=False),
        sa.Column("list_pdf_name", sa.String(length=120), nullable=False),
        sa.Column("list_csv_sha256", sa.String(length=64), nullable=True),
        sa.Column("list_pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("renewal_batch")
