"""json_documents: write-once documents stored as PostgreSQL `json`, not `jsonb`

Event payloads, an order's customer and lines as the shop sent them and timer payloads are written
once and read whole; never filtered, compared or indexed. `json` stores the text after a syntax
check; `jsonb` parses it into a tree (COPY of 100,000 order payloads: 0.7 s against 1.8 s of server
CPU; reading them back 0.3 s against 1.0 s) and gives ANALYZE values to sort. SQLite: no change
(JSON is text there).

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-28 09:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENTS = {
    "events": ("data", "previous_attributes"),
    "orders": ("customer", "line_items"),
    "timers": ("payload",),
}


def _retype(to: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in DOCUMENTS.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE {to} USING {c}::{to}" for c in columns)
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _retype("json")


def downgrade() -> None:
    _retype("jsonb")
