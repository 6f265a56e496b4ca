"""audit rows chained after commit by one chainer; inbox indexes

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-30 16:00:00

Requests now only INSERT audit rows (no lock, no read of the chain head); the chainer sets chain_seq,
prev_hash and hash once. Rows chained before this revision keep their hashes: they were chained in id
order, so they are numbered in id order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHAIN_COLUMNS = "ARRAY['chain_seq', 'prev_hash', 'hash']"


def upgrade() -> None:
    op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
    op.add_column("audit_event", sa.Column("chain_seq", sa.BigInteger(), nullable=True))
    op.alter_column("audit_event", "prev_hash", nullable=True)
    op.alter_column("audit_event", "hash", nullable=True)
    op.alter_column("audit_event", "id", server_default=sa.text("nextval('audit_event_id_seq')"))
    op.execute("ALTER SEQUENCE audit_event_id_seq OWNED BY audit_event.id")
    # The owner gave up UPDATE in 0002; it takes back exactly the chain columns (the triggers below still
    # allow setting them only once, on a row that has none).
    op.execute("GRANT UPDATE (chain_seq, prev_hash, hash) ON audit_event TO CURRENT_USER")
    op.execute(
        "UPDATE audit_event SET chain_seq = n.seq FROM "
        "(SELECT id, row_number() OVER (ORDER BY id) AS seq FROM audit_event) AS n "
        "WHERE audit_event.id = n.id"
    )
    op.create_index("uq_audit_event_chain_seq", "audit_event", ["chain_seq"], unique=True)
    op.create_index(
        "ix_audit_event_unchained", "audit_event", ["id"], postgresql_where=sa.text("chain_seq IS NULL")
    )
    op.execute(
        f"""
        CREATE FUNCTION audit_event_insert_unchained() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.chain_seq IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL THEN
                RAISE EXCEPTION 'audit_event rows are inserted unchained; the chainer links them'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$;

        CREATE FUNCTION audit_event_chain_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
               AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
               AND to_jsonb(NEW) - {_CHAIN_COLUMNS} = to_jsonb(OLD) - {_CHAIN_COLUMNS} THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;

        CREATE TRIGGER audit_event_insert_unchained BEFORE INSERT ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_insert_unchained();
        CREATE TRIGGER audit_event_chain_once BEFORE UPDATE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_chain_once();
        CREATE TRIGGER audit_event_append_only BEFORE DELETE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
        """
    )
    op.create_index(
        "ix_task_open_due",
        "task",
        ["due_at", "created_at", "id"],
        postgresql_where=sa.text("state = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_task_open_due", table_name="task")
    op.execute(
        """
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM audit_event WHERE chain_seq IS NULL) THEN
                RAISE EXCEPTION 'audit_event has unchained rows: let the chainer finish before downgrading';
            END IF;
        END $$
        """
    )
    op.execute(
        """
        DROP TRIGGER audit_event_append_only ON audit_event;
        DROP TRIGGER audit_event_chain_once ON audit_event;
        DROP TRIGGER audit_event_insert_unchained ON audit_event;
        DROP FUNCTION audit_event_chain_once();
        DROP FUNCTION audit_event_insert_unchained();
        CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
        REVOKE UPDATE ON audit_event FROM CURRENT_USER;
        """
    )
    op.drop_index("ix_audit_event_unchained", table_name="audit_event")
    op.drop_index("uq_audit_event_chain_seq", table_name="audit_event")
    op.execute("ALTER SEQUENCE audit_event_id_seq OWNED BY NONE")
    op.alter_column("audit_event", "id", server_default=None)
    op.alter_column("audit_event", "hash", nullable=False)
    op.alter_column("audit_event", "prev_hash", nullable=False)
    op.drop_column("audit_event", "chain_seq")
