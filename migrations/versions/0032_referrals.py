"""referrals: a qualified lead's referrer is carried over to its contact

A referral converts when the referred lead does: qualifying a lead (or converting it by its
person's first purchase) gives its contact the customer who referred it, and the referrer's
`referrals_count` counts it. Leads converted before this revision left their contacts without
it; this migration carries each one over now, as the service does: to a contact that names no
referrer yet, from its earliest converted lead naming a referrer that is a contact of the
workspace other than the contact itself. The contact gets a new version (system as its author),
and each referrer's count grows by the contacts carried over to it. No event is emitted and no
reward is credited for these past conversions.

Downgrading keeps the referrers carried over (the older code keeps the same counts) and takes
`referral_reward_points` out of the retention settings (the older code does not know it).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 1000

leads = sa.table(
    "leads",
    sa.column("workspace_id", sa.Uuid),
    sa.column("id", sa.Uuid),
    sa.column("status", sa.String),
    sa.column("contact_id", sa.Uuid),
    sa.column("referred_by_contact_id", sa.Uuid),
)
contacts = sa.table(
    "contacts",
    sa.column("workspace_id", sa.Uuid),
    sa.column("id", sa.Uuid),
    sa.column("referred_by_contact_id", sa.Uuid),
    sa.column("referrals_count", sa.Integer),
    sa.column("version", sa.Integer),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("updated_by", sa.String),
)
settings = sa.table(
    "workspace_settings",
    sa.column("workspace_id", sa.Uuid),
    sa.column("section", sa.String),
    sa.column("values", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
)


def _referred_leads(conn: sa.Connection) -> Any:
    """Converted leads naming a referrer, by (workspace, id) — creation order within a workspace —
    a page at a time."""
    after: tuple[Any, Any] | None = None
    while True:
        statement = sa.select(
            leads.c.workspace_id, leads.c.id, leads.c.contact_id, leads.c.referred_by_contact_id
        ).where(
            leads.c.status == "qualified",
            leads.c.contact_id.is_not(None),
            leads.c.referred_by_contact_id.is_not(None),
        )
        if after is not None:
            statement = statement.where(
                sa.or_(
                    leads.c.workspace_id > after[0],
                    sa.and_(leads.c.workspace_id == after[0], leads.c.id > after[1]),
                )
            )
        rows = conn.execute(statement.order_by(leads.c.workspace_id, leads.c.id).limit(PAGE)).all()
        if not rows:
            return
        yield rows
        after = (rows[-1].workspace_id, rows[-1].id)


def _contacts(conn: sa.Connection, workspace_id: Any, ids: set[Any]) -> dict[Any, Any]:
    """{id: referred_by_contact_id} of those contacts of the workspace that exist."""
    statement = sa.select(contacts.c.id, contacts.c.referred_by_contact_id).where(
        contacts.c.workspace_id == workspace_id, contacts.c.id.in_(list(ids))
    )
    return {row.id: row.referred_by_contact_id for row in conn.execute(statement)}


def upgrade() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":  # naive UTC text there, as the service writes it
        now = now.replace(tzinfo=None)
    carry = (
        contacts.update()
        .where(contacts.c.workspace_id == sa.bindparam("w"), contacts.c.id == sa.bindparam("c"))
        .values(
            referred_by_contact_id=sa.bindparam("r"),
            version=contacts.c.version + 1,
            updated_at=now,
            updated_by="system",
        )
    )
    count = (
        contacts.update()
        .where(contacts.c.workspace_id == sa.bindparam("w"), contacts.c.id == sa.bindparam("c"))
        .values(referrals_count=contacts.c.referrals_count + sa.bindparam("n", type_=sa.Integer))
    )
    for page in _referred_leads(conn):
        by_workspace: dict[Any, list[Any]] = {}
        for row in page:
            by_workspace.setdefault(row.workspace_id, []).append(row)
        for workspace_id, rows in by_workspace.items():
            known = _contacts(
                conn, workspace_id, {r.contact_id for r in rows} | {r.referred_by_contact_id for r in rows}
            )
            carried: list[dict[str, Any]] = []
            counts: Counter[Any] = Counter()
            for row in rows:  # a contact's earliest converted lead first
                contact, referrer = row.contact_id, row.referred_by_contact_id
                if contact not in known or known[contact] is not None or referrer not in known or referrer == contact:
                    continue
                known[contact] = referrer
                carried.append({"w": workspace_id, "c": contact, "r": referrer})
                counts[referrer] += 1
            if carried:
                conn.execute(carry, carried)
                conn.execute(count, [{"w": workspace_id, "c": r, "n": n} for r, n in counts.items()])


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(settings.c.workspace_id, settings.c["values"]).where(settings.c.section == "retention")
    ).all()
    for workspace_id, raw in rows:
        values = dict(json.loads(raw) if isinstance(raw, str) else raw)
        if "referral_reward_points" in values:
            del values["referral_reward_points"]
            conn.execute(
                settings.update()
                .where(settings.c.workspace_id == workspace_id, settings.c.section == "retention")
                .values({"values": values})
            )
