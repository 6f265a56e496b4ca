"""procedure kernel: case headers, task delegation and references, board agenda numbers

Every case of every procedure gets a header row (`case_record`): stage, next due date, office, and the
exclusive key that allows one open case of a kind per insured person. Certification applications move their
state and stage there. Tasks say whether a contractor may take them and carry a reference without personal
data; board allocations number the cases of a meeting (第n号).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:37:16.639960
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_record",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("case_type", sa.String(length=16), nullable=False),
        sa.Column("subject_atena_no", sa.String(length=15), nullable=False),
        sa.Column("insured_no", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("office", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("details", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("exclusive_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("opened_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subject_atena_no"], ["person.atena_no"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("exclusive_key"),
    )
    op.create_index("ix_case_record_insured", "case_record", ["insured_no"], unique=False)
    op.create_index(
        "ix_case_record_open",
        "case_record",
        ["case_type", "stage"],
        unique=False,
        postgresql_where=sa.text("state = 'open'"),
    )
    op.create_index("ix_case_record_subject", "case_record", ["subject_atena_no"], unique=False)
    # Existing applications become cases; if one person has several open ones, only the newest keeps the key.
    op.execute(
        """
        INSERT INTO case_record (id, case_type, subject_atena_no, insured_no, office, state, stage, outcome,
                                 due_on, details, exclusive_key, opened_by, opened_at, closed_at, updated_at)
        SELECT workflow_id, 'certification', atena_no, insured_no, 'honcho',
               CASE WHEN state = 'open' THEN 'open' ELSE 'closed' END, stage,
               CASE WHEN state = 'open' THEN NULL ELSE state END,
               CASE WHEN state = 'open' THEN decision_deadline END, NULL,
               CASE WHEN state = 'open' AND created_at = max(created_at) FILTER (WHERE state = 'open')
                         OVER (PARTITION BY insured_no)
                    THEN 'certification:' || insured_no END,
               created_by, created_at, CASE WHEN state = 'open' THEN NULL ELSE updated_at END, updated_at
        FROM certification_application
        """
    )
    op.add_column("board_allocation", sa.Column("agenda_no", sa.Integer(), nullable=True))
    op.execute(
        """
        UPDATE board_allocation AS a SET agenda_no = n.agenda_no
        FROM (SELECT id, row_number() OVER (PARTITION BY meeting_id ORDER BY id) AS agenda_no
              FROM board_allocation) AS n
        WHERE a.id = n.id
        """
    )
    op.alter_column("board_allocation", "agenda_no", nullable=False)
    op.create_unique_constraint("uq_board_allocation_agenda", "board_allocation", ["meeting_id", "agenda_no"])
    op.add_column("certification_application", sa.Column("previous_valid_from", sa.Date(), nullable=True))
    op.drop_index("ix_certification_application_subject", table_name="certification_application")
    op.create_index(
        "ix_certification_application_subject", "certification_application", ["atena_no"], unique=False
    )
    op.drop_column("certification_application", "state")
    op.drop_column("certification_application", "stage")
    op.add_column("task", sa.Column("delegable", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.alter_column("task", "delegable", server_default=None)
    op.add_column("task", sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))


def downgrade() -> None:
    op.drop_column("task", "reference")
    op.drop_column("task", "delegable")
    op.add_column(
        "certification_application",
        sa.Column("stage", sa.VARCHAR(length=16), nullable=False, server_default="intake"),
    )
    op.add_column(
        "certification_application",
        sa.Column("state", sa.VARCHAR(length=16), nullable=False, server_default="open"),
    )
    op.execute(
        """
        UPDATE certification_application AS a
        SET stage = c.stage, state = CASE WHEN c.state = 'open' THEN 'open' ELSE c.outcome END
        FROM case_record AS c WHERE c.id = a.workflow_id
        """
    )
    op.alter_column("certification_application", "stage", server_default=None)
    op.alter_column("certification_application", "state", server_default=None)
    op.drop_index("ix_certification_application_subject", table_name="certification_application")
    op.create_index(
        "ix_certification_application_subject",
        "certification_application",
        ["atena_no", "state"],
        unique=False,
    )
    op.drop_column("certification_application", "previous_valid_from")
    op.drop_constraint("uq_board_allocation_agenda", "board_allocation", type_="unique")
    op.drop_column("board_allocation", "agenda_no")
    op.drop_index("ix_case_record_subject", table_name="case_record")
    op.drop_index("ix_case_record_open", table_name="case_record", postgresql_where=sa.text("state = 'open'"))
    op.drop_index("ix_case_record_insured", table_name="case_record")
    op.drop_table("case_record")
