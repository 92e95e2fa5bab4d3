"""audit_log: who wrote what (and read in bulk), from where and when, chained per workspace

- `audit_log`: one entry per write request and per CSV export, inserted in the request's own
  transaction; the worker stamps each once with its per-workspace `seq` and `chain_hash`. Indexes:
  the workspace's entries by time (the list), its chain by `seq` (verification, purging; stamped
  entries only) and the unstamped entries by id (the worker's queue, across workspaces).
- `audit_chains`: per workspace, the chain's head (the last entry stamped) and its anchor (the last
  entry purged, where verification starts).
- The retention setting `retention.audit_log_days` (default 730) needs no data step: no workspace
  has entries before this revision, so its default changes nothing an existing workspace did.
- New tables only. Downgrading drops them (and the log with them).

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-07 06:01:13.042988
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSTAMPED = sa.text("seq IS NULL")
STAMPED = sa.text("seq IS NOT NULL")


def _document() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSON(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_chains",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=True),
        sa.Column("head_id", sa.Uuid(), nullable=True),
        sa.Column("anchor_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("anchor_hash", sa.String(length=64), nullable=True),
        sa.Column("anchored_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audit_chains_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_audit_chains")),
    )
    op.create_table(
        "audit_log",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("route", sa.String(length=300), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("changes", _document(), nullable=True),
        sa.Column("detail", _document(), nullable=True),
        sa.Column("personal", _document(), nullable=True),
        sa.Column("personal_digest", sa.String(length=64), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("chain_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_audit_log_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_unstamped", ["id"], unique=False, sqlite_where=UNSTAMPED, postgresql_where=UNSTAMPED
        )
        batch_op.create_index(
            batch_op.f("ix_audit_log_workspace_id_occurred_at_id"), ["workspace_id", "occurred_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_log_workspace_id_seq"),
            ["workspace_id", "seq"],
            unique=True,
            sqlite_where=STAMPED,
            postgresql_where=STAMPED,
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_workspace_id_seq"), sqlite_where=STAMPED, postgresql_where=STAMPED)
        batch_op.drop_index(batch_op.f("ix_audit_log_workspace_id_occurred_at_id"))
        batch_op.drop_index("ix_audit_log_unstamped", sqlite_where=UNSTAMPED, postgresql_where=UNSTAMPED)

    op.drop_table("audit_log")
    op.drop_table("audit_chains")
    _forget_retention_field()


def _forget_retention_field() -> None:
    """The older code's retention settings forbid unknown fields: take `audit_log_days` out of
    every stored retention section (a write after this revision stores the whole section), a page
    of workspaces at a time."""
    import json

    settings = sa.table(
        "workspace_settings",
        sa.column("workspace_id", sa.Uuid),
        sa.column("section", sa.String),
        sa.column("values", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    )
    conn = op.get_bind()
    after = None
    while True:
        statement = (
            sa.select(settings.c.workspace_id, settings.c["values"])
            .where(settings.c.section == "retention")
            .order_by(settings.c.workspace_id)
            .limit(500)
        )
        if after is not None:
            statement = statement.where(settings.c.workspace_id > after)
        rows = conn.execute(statement).all()
        if not rows:
            return
        for workspace_id, raw in rows:
            values = dict(json.loads(raw) if isinstance(raw, str) else raw)
            if "audit_log_days" in values:
                del values["audit_log_days"]
                conn.execute(
                    settings.update()
                    .where(settings.c.workspace_id == workspace_id, settings.c.section == "retention")
                    .values({"values": values})
                )
        after = rows[-1][0]
