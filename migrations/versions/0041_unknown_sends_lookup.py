"""unknown sends looked up at their provider; a channel's rate shared by the workers

- `messages.lookup_at`: for a message `unknown` at a provider that finds sends by our own id
  (Kavenegar's `localid`), when the worker next asks it whether the send arrived (null: never
  again, as for every existing message: they stay `unknown` as before).
- `ix_messages_lookup`: the unknown messages by `lookup_at` (the worker's reconciliation claims
  the due ones).
- `channels.next_send_at`: the earliest instant a send not yet reserved may go, so every worker
  keeps to the channel's `max_per_second` together (null: now).
- Nullable columns and an index only: no existing row changes.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-07 02:28:38.396173
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.types

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNKNOWN = sa.text("status = 'unknown'")


def upgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_send_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lookup_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_messages_lookup", ["lookup_at"], unique=False, postgresql_where=UNKNOWN, sqlite_where=UNKNOWN
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_lookup", postgresql_where=UNKNOWN, sqlite_where=UNKNOWN)
        batch_op.drop_column("lookup_at")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("next_send_at")
