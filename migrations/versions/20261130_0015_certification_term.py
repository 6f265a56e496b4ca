"""certification_term: the renewal reminders' read model, one term per certification

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certification_term",
        sa.Column(
            "case_id",
            sa.String(length=64),
            sa.ForeignKey("case_record.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "certification_id",
            sa.String(length=32),
            sa.ForeignKey("certification.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("insured_no", sa.String(length=10), nullable=False),
        sa.Column(
            "atena_no",
            sa.String(length=15),
            sa.ForeignKey("person.atena_no", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("expiry", sa.Date(), nullable=False),
        sa.Column("last_filing_day", sa.Date(), nullable=False),
        sa.Column("next_reminder_on", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("first_notice_no", sa.String(length=40), nullable=True),
        sa.Column("second_notice_no", sa.String(length=40), nullable=True),
        sa.Column("application_id", sa.String(length=32), nullable=True),
        sa.Column("successor_certification_id", sa.String(length=32), nullable=True),
        sa.Column("follow_up_outcome", sa.String(length=16), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("certification_id"),
    )
    op.create_index("ix_certification_term_insured", "certification_term", ["insured_no"])
    op.create_index("ix_certification_term_next", "certification_term", ["next_reminder_on"])


def downgrade() -> None:
    op.drop_index("ix_certification_term_next", table_name="certification_term")
    op.drop_index("ix_certification_term_insured", table_name="certification_term")
    op.drop_table("certification_term")
