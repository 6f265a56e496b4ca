"""notices in steps: the PDF in its own insert-only table, 欠番 (void numbers) recorded, the issuer kept

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-27 10:00:00

The number is now taken in a short transaction and the PDF stored after rendering, so the PDF moves from
`notice` (which refuses UPDATE) to `notice_pdf`; existing PDFs are copied over. `notice`, `notice_pdf` and
`notice_void` refuse UPDATE and DELETE, except a DELETE inside the retention purge, which says so with
`SET LOCAL kaigo.retention_purge = 'on'` (services/retention.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INSERT_ONLY = ("notice", "notice_pdf", "notice_void")


def upgrade() -> None:
    op.create_table(
        "notice_pdf",
        sa.Column("notice_id", sa.String(length=32), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("template_version", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notice_id"),
    )
    op.create_table(
        "notice_void",
        sa.Column("notice_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("voided_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notice_id"),
    )
    op.execute(
        "INSERT INTO notice_pdf (notice_id, pdf, sha256, pages, template_version, created_at) "
        "SELECT id, pdf, sha256, pages, template_version, created_at FROM notice"
    )
    op.add_column("notice", sa.Column("issuer", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.drop_column("notice", "pdf")
    op.drop_column("notice", "sha256")
    op.drop_column("notice", "pages")

    op.execute(
        """
        CREATE FUNCTION notice_keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND current_setting('kaigo.retention_purge', true) = 'on' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION '% is insert-only (% refused)', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute("DROP TRIGGER notice_immutable ON notice")
    for table in _INSERT_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_insert_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION notice_keep()"
        )
    op.execute("REVOKE UPDATE ON notice_pdf, notice_void FROM PUBLIC, CURRENT_USER")


def downgrade() -> None:
    for table in _INSERT_ONLY:
        op.execute(f"DROP TRIGGER {table}_insert_only ON {table}")
    op.execute("DROP FUNCTION notice_keep()")
    op.execute(
        "CREATE TRIGGER notice_immutable BEFORE UPDATE ON notice "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()"
    )
    # Numbers without a stored PDF (作成中 or 欠番) cannot go back into a table whose PDF is required.
    op.execute("DELETE FROM notice WHERE id NOT IN (SELECT notice_id FROM notice_pdf)")
    op.add_column("notice", sa.Column("pdf", sa.LargeBinary(), nullable=True))
    op.add_column("notice", sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.add_column("notice", sa.Column("pages", sa.Integer(), nullable=True))
    op.execute("GRANT UPDATE ON notice TO CURRENT_USER")  # 0003 revoked it, as it does again below
    op.execute("ALTER TABLE notice DISABLE TRIGGER notice_immutable")
    op.execute(
        "UPDATE notice SET pdf = p.pdf, sha256 = p.sha256, pages = p.pages "
        "FROM notice_pdf p WHERE p.notice_id = notice.id"
    )
    op.execute("ALTER TABLE notice ENABLE TRIGGER notice_immutable")
    op.execute("REVOKE UPDATE ON notice FROM PUBLIC, CURRENT_USER")
    for column in ("pdf", "sha256", "pages"):
        op.alter_column("notice", column, nullable=False)
    op.drop_column("notice", "issuer")
    op.drop_table("notice_void")
    op.drop_table("notice_pdf")
