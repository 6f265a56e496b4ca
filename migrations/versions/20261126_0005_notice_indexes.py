"""notice indexes for the print export's selection and the insured-number filter

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 12:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_notice_kind_issued", "notice", ["kind", "issued_on"], unique=False)
    op.create_index("ix_notice_insured", "notice", ["insured_no"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notice_insured", table_name="notice")
    op.drop_index("ix_notice_kind_issued", table_name="notice")
