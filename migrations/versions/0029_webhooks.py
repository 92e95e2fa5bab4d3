"""webhooks: the delivery log keeps up to 4 KiB of each reply

- `webhook_attempts.response_excerpt` widens from 1,024 to 4,096 characters (the worker keeps
  the first 4,096 bytes of a reply, which decode to at most as many characters).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.alter_column(
            "response_excerpt",
            existing_type=sa.String(length=1024),
            type_=sa.String(length=4096),
            existing_nullable=True,
        )


def downgrade() -> None:
    op.execute(
        "UPDATE webhook_attempts SET response_excerpt = substr(response_excerpt, 1, 1024) "
        "WHERE length(response_excerpt) > 1024"  # only the rows that need it: the log is the largest table
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.alter_column(
            "response_excerpt",
            existing_type=sa.String(length=4096),
            type_=sa.String(length=1024),
            existing_nullable=True,
        )
