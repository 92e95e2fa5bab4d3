"""Index only the rows a lookup can find: leads' email_key, phone_e164, external_id and
last_engaged_at, and events' sequence, are null for many rows (a form lead has no external_id, no
engagement yet; an event has no sequence until the dispatcher stamps it) and nothing ever looks
them up by null. Fewer index entries per captured lead and per event (benchmarks/README.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, index name, columns, unique, the column that must not be null)
PARTIAL = [
    ("leads", "ix_leads_workspace_id_email_key", ["workspace_id", "email_key"], False, "email_key"),
    ("leads", "ix_leads_workspace_id_phone_e164", ["workspace_id", "phone_e164"], False, "phone_e164"),
    ("leads", "ix_leads_workspace_id_external_id", ["workspace_id", "external_id"], True, "external_id"),
    (
        "leads",
        "ix_leads_workspace_id_last_engaged_at_id",
        ["workspace_id", "last_engaged_at", "id"],
        False,
        "last_engaged_at",
    ),
    ("events", "ix_events_workspace_id_sequence", ["workspace_id", "sequence"], True, "sequence"),
]


def upgrade() -> None:
    for table, name, columns, unique, column in PARTIAL:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
            where = sa.text(f"{column} IS NOT NULL")
            batch_op.create_index(name, columns, unique=unique, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for table, name, columns, unique, _ in PARTIAL:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=unique)
