"""Leads can be listed by last activity (`sort=-last_activity_at`): an index over the leads that
have an activity (a captured lead has none, so capture writes no entry to it).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("last_activity_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leads_workspace_id_last_activity_at_id",
            ["workspace_id", "last_activity_at", "id"],
            unique=False,
            sqlite_where=WHERE,
            postgresql_where=WHERE,
        )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_workspace_id_last_activity_at_id")
