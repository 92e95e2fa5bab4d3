"""audit entries written once: chain stamps in a table of their own

An entry was stamped by an UPDATE of its `seq` and `chain_hash`: a second version of a ~330-byte
row, new entries in each of its indexes (`seq` is indexed, so never a HOT update) and a dead tuple
for vacuum, per write request. As events are numbered in `event_stamps`, the writer now queues
the entry's id and digest in `audit_queue` and the worker inserts its place in the chain in
`audit_stamps`; `audit_log` rows are inserted once and never updated to stamp them.

Data: the stamps entries already have move to `audit_stamps`, the unstamped entries to
`audit_queue` (in id order, as the worker took them); then the two columns and their indexes go.
The downgrade puts them back. On PostgreSQL the upgrade first takes the stamping pass's advisory
lock and locks `audit_log` against writes (EXCLUSIVE: reads go on), so no older worker's pass and
no older writer commits between the two copies. API processes and workers of the version before
must be stopped before it runs (as the upgrade notes say of every migration that changes what
writers write): an entry an older process writes afterwards gets no queue row and stays unchained.

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-07 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0047"
down_revision: str | None = "0046"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSTAMPED = sa.text("seq IS NULL")
STAMPED = sa.text("seq IS NOT NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT pg_advisory_xact_lock(1129467138)")  # the stamping pass's (0x43524D02)
        op.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
    op.create_table(
        "audit_queue",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_audit_queue")),
    )
    op.create_index("ix_audit_queue_id", "audit_queue", ["id"], unique=False)
    op.create_table(
        "audit_stamps",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audit_stamps_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "seq", name=op.f("pk_audit_stamps")),
    )
    op.create_index(
        op.f("ix_audit_stamps_workspace_id_entry_id"), "audit_stamps", ["workspace_id", "entry_id"], unique=True
    )
    op.execute(
        "INSERT INTO audit_stamps (workspace_id, seq, entry_id, chain_hash) "
        "SELECT workspace_id, seq, id, chain_hash FROM audit_log WHERE seq IS NOT NULL"
    )
    op.execute(
        "INSERT INTO audit_queue (workspace_id, id, digest) SELECT workspace_id, id, digest FROM audit_log "
        "WHERE seq IS NULL"
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_workspace_id_seq"), sqlite_where=STAMPED, postgresql_where=STAMPED)
        batch_op.drop_index("ix_audit_log_unstamped", sqlite_where=UNSTAMPED, postgresql_where=UNSTAMPED)
        batch_op.drop_column("chain_hash")
        batch_op.drop_column("seq")


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("chain_hash", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE audit_log SET seq = (SELECT s.seq FROM audit_stamps s WHERE s.workspace_id = audit_log.workspace_id "
        "AND s.entry_id = audit_log.id), chain_hash = (SELECT s.chain_hash FROM audit_stamps s "
        "WHERE s.workspace_id = audit_log.workspace_id AND s.entry_id = audit_log.id)"
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_unstamped", ["id"], unique=False, sqlite_where=UNSTAMPED, postgresql_where=UNSTAMPED
        )
        batch_op.create_index(
            batch_op.f("ix_audit_log_workspace_id_seq"),
            ["workspace_id", "seq"],
            unique=True,
            sqlite_where=STAMPED,
            postgresql_where=STAMPED,
        )
    op.drop_index(op.f("ix_audit_stamps_workspace_id_entry_id"), table_name="audit_stamps")
    op.drop_table("audit_stamps")
    op.drop_index("ix_audit_queue_id", table_name="audit_queue")
    op.drop_table("audit_queue")
