"""Open leads' emails and phones are indexed by the unique identity indexes of 0013; the plain
email and phone indexes now cover only the other leads (qualified, disqualified, archived,
merged), so capturing a lead writes two index entries fewer (benchmarks/README.md).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('new', 'contacted', 'nurturing') AND archived_at IS NULL AND merged_into_id IS NULL"


def _closed(column: str) -> dict[str, sa.TextClause]:
    where = sa.text(f"{column} IS NOT NULL AND NOT ({OPEN})")
    return {"sqlite_where": where, "postgresql_where": where}


def _not_null(column: str) -> dict[str, sa.TextClause]:
    where = sa.text(f"{column} IS NOT NULL")
    return {"sqlite_where": where, "postgresql_where": where}


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for column in ("email_key", "phone_e164"):
            batch_op.drop_index(f"ix_leads_workspace_id_{column}")
            batch_op.create_index(
                f"ix_leads_closed_{column}", ["workspace_id", column], unique=False, **_closed(column)
            )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for column in ("email_key", "phone_e164"):
            batch_op.drop_index(f"ix_leads_closed_{column}")
            batch_op.create_index(
                f"ix_leads_workspace_id_{column}", ["workspace_id", column], unique=False, **_not_null(column)
            )
