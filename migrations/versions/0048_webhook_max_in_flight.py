"""webhook endpoints: how many deliveries may be out at once

`max_in_flight` (1 to 50): 1 sends an endpoint's deliveries one at a time, first attempts in
sequence order, as every endpoint did until now; more sends up to that many concurrently.
Existing endpoints get 1 (the server default), so nothing changes for them.

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0048"
down_revision: str | None = "0047"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_in_flight", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("max_in_flight")
