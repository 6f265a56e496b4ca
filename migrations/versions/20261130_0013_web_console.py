"""web console: browser sessions, task drafts, board material, and a handling office per task and staff

Tasks carry their case's handling office (filled from the case header for tasks that exist already); staff
may belong to an office (the default office of what they receive). The console's browser sessions, the
server-side drafts of task forms and the secretariat's board material get tables of their own.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("task", sa.Column("office", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    op.execute("UPDATE task SET office = c.office FROM case_record AS c WHERE c.id = task.case_id")
    op.create_index("ix_task_office", "task", ["office", "state", "due_at"], unique=False)
    op.add_column("staff", sa.Column("office", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    # The dashboard's figures: decisions by date, certifications by the end of their validity.
    op.create_index("ix_certification_decided_on", "certification", ["decided_on"], unique=False)
    op.create_index("ix_certification_valid_to", "certification", ["valid_to"], unique=False)
    op.create_index("ix_board_allocation_application", "board_allocation", ["application_id"], unique=False)
    op.create_index("ix_case_record_office", "case_record", ["office", "stage"], unique=False,
                    postgresql_where=sa.text("state = 'open'"))  # fmt: skip

    op.create_table(
        "console_session",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("login_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("login_jti", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login_jti"),
    )
    op.create_index("ix_console_session_login", "console_session", ["login_id"], unique=False)

    op.create_table(
        "task_draft",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("saved_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id"),
    )

    op.create_table(
        "board_material",
        sa.Column("application_id", sa.String(length=32), nullable=False),
        sa.Column("notes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("opinion_points", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("prepared_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["certification_application.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("application_id"),
    )


def downgrade() -> None:
    op.drop_table("board_material")
    op.drop_table("task_draft")
    op.drop_index("ix_console_session_login", table_name="console_session")
    op.drop_table("console_session")
    op.drop_index(
        "ix_case_record_office", table_name="case_record", postgresql_where=sa.text("state = 'open'")
    )
    op.drop_index("ix_board_allocation_application", table_name="board_allocation")
    op.drop_index("ix_certification_valid_to", table_name="certification")
    op.drop_index("ix_certification_decided_on", table_name="certification")
    op.drop_column("staff", "office")
    op.drop_index("ix_task_office", table_name="task")
    op.drop_column("task", "office")
