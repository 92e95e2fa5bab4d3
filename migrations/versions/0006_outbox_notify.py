"""Wake workers when events are written: a statement-level trigger NOTIFYs crm_outbox (PostgreSQL
only; identical notifications in one transaction are delivered once, at commit). Polling stays
the source of truth; this only cuts the idle-poll share of the delivery lag.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION crm_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('crm_outbox', '');
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_notify_outbox AFTER INSERT ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION crm_notify_outbox()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS events_notify_outbox ON events")
    op.execute("DROP FUNCTION IF EXISTS crm_notify_outbox()")
