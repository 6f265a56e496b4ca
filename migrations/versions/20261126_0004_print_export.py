"""print export: jobs, their batches, and each notice's place in one batch

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 11:42:54.644293
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_export",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("issued_from", sa.Date(), nullable=False),
        sa.Column("issued_to", sa.Date(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("include_exported", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("notice_count", sa.Integer(), nullable=False),
        sa.Column("batch_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "notice_export_batch",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("pdf_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("manifest_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("notice_count", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("pdf_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("manifest_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["notice_export.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "batch_no"),
    )
    op.create_table(
        "notice_export_item",
        sa.Column("job_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("notice_id", sa.String(length=32), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id", "batch_no"],
            ["notice_export_batch.job_id", "notice_export_batch.batch_no"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "notice_id"),
        sa.UniqueConstraint("job_id", "batch_no", "position", name="uq_notice_export_position"),
    )
    op.create_index("ix_notice_export_item_notice", "notice_export_item", ["notice_id"], unique=False)

    # A done batch records what left (file names and hashes): it is never rewritten.
    op.execute(
        """
        CREATE FUNCTION notice_export_batch_keep_done() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.done_at IS NOT NULL THEN
                RAISE EXCEPTION 'notice_export_batch %/% is done and cannot change', OLD.job_id, OLD.batch_no;
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER notice_export_batch_done_is_final BEFORE UPDATE ON notice_export_batch "
        "FOR EACH ROW EXECUTE FUNCTION notice_export_batch_keep_done()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER notice_export_batch_done_is_final ON notice_export_batch")
    op.execute("DROP FUNCTION notice_export_batch_keep_done()")
    op.drop_index("ix_notice_export_item_notice", table_name="notice_export_item")
    op.drop_table("notice_export_item")
    op.drop_table("notice_export_batch")
    op.drop_table("notice_export")
