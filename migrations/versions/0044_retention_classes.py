"""retention classes: form submissions, message bodies, archived leads, privacy exports

The `retention` settings gain per-class retention, enforced by the nightly `retention.enforce`
job: `form_submission_days` (default 180), `archived_lead_days` (default null: off) and
`privacy_export_days` (default 7) are new, and `message_body_days` now defaults to 365 (null, kept,
until now). A section a workspace never wrote reads as the current defaults, so this migration
stores, for every workspace that exists now, null (kept) for the fields whose default would remove
something, wherever the workspace has not set them itself: nothing disappears on the first night
after the upgrade.

- retention: `form_submission_days: null`, `message_body_days: null` (a value the workspace set
  stays), `privacy_export_days: null`. `archived_lead_days` needs nothing stored: its default,
  null, is what every workspace did until now.

A section written here for the first time gets version 1 and the system as its author; one the
workspace wrote before keeps its version (its effective values do not change). The workspaces are
read a page at a time.

Indexes for the nightly passes, which read each class a page at a time by time:
- `ix_leads_workspace_id_archived_at_id`: archived leads by when they were archived (partial: an
  open lead, the hot capture insert included, adds no entry);
- `ix_webhook_attempts_workspace_id_attempted_at_id`: delivery attempts by when they were made;
- `ix_lead_merges_workspace_id_survivor_id`: the merges into a lead (anonymising a lead deletes the
  merges that name it).
Form submissions are read form by form along their existing index (workspace_id, form_id, spam,
created_at, id) and messages along (workspace_id, created_at, id): no index is added to them.

Downgrading drops the indexes and takes out the fields the older code does not know
(`form_submission_days`, `archived_lead_days`, `privacy_export_days`); `message_body_days` stays.

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0044"
down_revision: str | None = "0043"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECTION = "retention"
# The value each field whose default changes had until now.
PREVIOUS: dict[str, Any] = {"form_submission_days": None, "message_body_days": None, "privacy_export_days": None}
# Fields the older code does not know (its model forbids unknown fields).
NEW_FIELDS = ("form_submission_days", "archived_lead_days", "privacy_export_days")
PAGE = 500
ARCHIVED = sa.text("archived_at IS NOT NULL")

settings = sa.table(
    "workspace_settings",
    sa.column("workspace_id", sa.Uuid),
    sa.column("section", sa.String),
    sa.column("values", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    sa.column("version", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("created_by", sa.String),
    sa.column("updated_by", sa.String),
)
workspaces = sa.table("workspaces", sa.column("id", sa.Uuid))


def _values(raw: Any) -> dict[str, Any]:
    return dict(json.loads(raw) if isinstance(raw, str) else raw)


def _pages(conn: sa.Connection) -> Iterator[list[Any]]:
    """Every workspace's id, a page at a time."""
    after = None
    while True:
        statement = sa.select(workspaces.c.id).order_by(workspaces.c.id).limit(PAGE)
        if after is not None:
            statement = statement.where(workspaces.c.id > after)
        ids = list(conn.execute(statement).scalars())
        if not ids:
            return
        yield ids
        after = ids[-1]


def _stored(conn: sa.Connection, workspace_ids: list[Any]) -> dict[Any, dict[str, Any]]:
    rows = conn.execute(
        sa.select(settings.c.workspace_id, settings.c["values"]).where(
            settings.c.section == SECTION, settings.c.workspace_id.in_(workspace_ids)
        )
    )
    return {row.workspace_id: _values(row[1]) for row in rows}


def _update(conn: sa.Connection, workspace_id: Any, values: dict[str, Any]) -> None:
    conn.execute(
        settings.update()
        .where(settings.c.workspace_id == workspace_id, settings.c.section == SECTION)
        .values({"values": values})
    )


def upgrade() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":  # naive UTC text there, as the service writes it
        now = now.replace(tzinfo=None)
    for page in _pages(conn):
        stored = _stored(conn, page)
        for workspace_id in page:
            values = stored.get(workspace_id)
            if values is None:
                conn.execute(
                    settings.insert().values(
                        workspace_id=workspace_id,
                        section=SECTION,
                        values=dict(PREVIOUS),
                        version=1,
                        created_at=now,
                        updated_at=now,
                        created_by="system",
                        updated_by="system",
                    )
                )
                continue
            kept = {**PREVIOUS, **values}
            if kept != values:
                _update(conn, workspace_id, kept)

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leads_workspace_id_archived_at_id",
            ["workspace_id", "archived_at", "id"],
            unique=False,
            postgresql_where=ARCHIVED,
            sqlite_where=ARCHIVED,
        )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_attempts_workspace_id_attempted_at_id", ["workspace_id", "attempted_at", "id"], unique=False
        )
    with op.batch_alter_table("lead_merges", schema=None) as batch_op:
        batch_op.create_index("ix_lead_merges_workspace_id_survivor_id", ["workspace_id", "survivor_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_merges_workspace_id_survivor_id")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_attempts_workspace_id_attempted_at_id")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_workspace_id_archived_at_id", postgresql_where=ARCHIVED, sqlite_where=ARCHIVED)

    conn = op.get_bind()
    for page in _pages(conn):
        for workspace_id, values in _stored(conn, page).items():
            kept = {k: v for k, v in values.items() if k not in NEW_FIELDS}
            if kept != values:
                _update(conn, workspace_id, kept)
