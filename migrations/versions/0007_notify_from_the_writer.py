"""Drop the trigger that sent NOTIFY crm_outbox on every statement inserting events. Under load it
cost PostgreSQL ~100-130 µs of CPU per commit (committers serialise on the notification queue):
measured in benchmarks/README.md. The writers now add `pg_notify` to their event-writing
statement themselves, at most once per 50 ms per process (app/db/unit_of_work.py); polling stays
the source of truth.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS events_notify_outbox ON events")
    op.execute("DROP FUNCTION IF EXISTS crm_notify_outbox()")


def downgrade() -> None:
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
