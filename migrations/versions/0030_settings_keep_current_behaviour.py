"""settings: existing workspaces keep the behaviour they had before the defaults changed

The defaults of a few settings change for workspaces created from now on (they follow the
product's sources). A section a workspace never wrote reads as the current defaults, so this
migration stores, for every workspace that exists now, the value each changed field had until
now, wherever the workspace has not set it itself:

- scoring: `temperature_from: score` (temperature from the total score), `hot_intent` with
  `pricing_page_view`, `sales_intent` without `quote_request`, `mql_requires_acceptance: false`;
- sla: `sources: null` (every source but import) and `business_hours: null` (around the clock);
  business hours a workspace set keep `region_holidays: false`;
- deduplication: `on_duplicate: reject` (an exact duplicate through the API is a 409);
- retention: `rescue_tasks: false`;
- analytics: `churn_overdue_tolerance: null` (no alert for being overdue alone; the field comes
  with 0034, which on a downgrade takes it out again).

A section written here for the first time gets version 1 and the system as its author; one the
workspace wrote before keeps its version (its effective values do not change). Downgrading takes
out the fields the older code does not know.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# section -> the value each field whose default changes had until now
PREVIOUS: dict[str, dict[str, Any]] = {
    "scoring": {
        "temperature_from": "score",
        "hot_intent": ["demo_request", "pricing_page_view", "meeting_booked"],
        "sales_intent": ["demo_request", "meeting_booked"],
        "mql_requires_acceptance": False,
    },
    "sla": {"sources": None, "business_hours": None},
    "deduplication": {"on_duplicate": "reject"},
    "retention": {"rescue_tasks": False},
    "analytics": {"churn_overdue_tolerance": None},
}
# Fields the older code does not know (its models forbid unknown fields).
NEW_FIELDS: dict[str, tuple[str, ...]] = {
    "scoring": ("temperature_from", "mql_requires_acceptance"),
    "deduplication": ("on_duplicate", "auto_merge_threshold"),
}
NEW_BUSINESS_HOURS_FIELDS = ("region_holidays", "removed_holidays")

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


def _stored(conn: sa.Connection) -> dict[tuple[Any, str], dict[str, Any]]:
    rows = conn.execute(
        sa.select(settings.c.workspace_id, settings.c.section, settings.c["values"]).where(
            settings.c.section.in_(list(PREVIOUS))
        )
    )
    return {(row.workspace_id, row.section): _values(row[2]) for row in rows}


def _update(conn: sa.Connection, workspace_id: Any, section: str, values: dict[str, Any]) -> None:
    conn.execute(
        settings.update()
        .where(settings.c.workspace_id == workspace_id, settings.c.section == section)
        .values({"values": values})
    )


def upgrade() -> None:
    conn = op.get_bind()
    stored = _stored(conn)
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":  # naive UTC text there, as the service writes it
        now = now.replace(tzinfo=None)
    for (workspace_id,) in conn.execute(sa.select(workspaces.c.id)).all():
        for section, previous in PREVIOUS.items():
            values = stored.get((workspace_id, section))
            if values is None:
                conn.execute(
                    settings.insert().values(
                        workspace_id=workspace_id,
                        section=section,
                        values=dict(previous),
                        version=1,
                        created_at=now,
                        updated_at=now,
                        created_by="system",
                        updated_by="system",
                    )
                )
                continue
            kept = {**previous, **values}
            hours = kept.get("business_hours") if section == "sla" else None
            if isinstance(hours, dict) and "region_holidays" not in hours:
                kept["business_hours"] = {**hours, "region_holidays": False, "removed_holidays": []}
            if kept != values:
                _update(conn, workspace_id, section, kept)


def downgrade() -> None:
    conn = op.get_bind()
    for (workspace_id, section), values in _stored(conn).items():
        kept = {k: v for k, v in values.items() if k not in NEW_FIELDS.get(section, ())}
        hours = kept.get("business_hours") if section == "sla" else None
        if isinstance(hours, dict):
            kept["business_hours"] = {k: v for k, v in hours.items() if k not in NEW_BUSINESS_HOURS_FIELDS}
        if section == "scoring":  # engagement types and sources the older code does not know
            for name in ("hot_intent", "sales_intent"):
                if name in kept:
                    kept[name] = [kind for kind in kept[name] if kind != "quote_request"]
            if isinstance(kept.get("behavior_weights"), dict):
                kept["behavior_weights"] = {k: v for k, v in kept["behavior_weights"].items() if k != "quote_request"}
        if section == "sla" and isinstance(kept.get("sources"), list):
            kept["sources"] = [source for source in kept["sources"] if source != "ads"]
        if kept != values:
            _update(conn, workspace_id, section, kept)
