"""lead stages: no stage until a qualifying signal, stages people set, MQLs marketing accepts

- `leads.stage` may be null: a lead with no qualifying signal has no stage yet. IAL is no longer
  what every lead under the MQL threshold gets: it names a lead that only sought free information
  (its engagements within the decay window, 90 days by default, are all content downloads or
  newsletter sign-ups). An existing IAL lead got IAL from that default unless its engagements of
  the last 90 days are content downloads only (the newsletter sign-up is new here): every other IAL
  lead loses its stage, and the change is in its stage history (cause `stage rules changed: no
  qualifying signal`, by `system`; the lead's version moves on). No event is sent for it: the
  rule changed, not anything the lead did.
- `leads.stage_manual` (a person set the stage: automatic changes never lower it),
  `leads.mql_candidate` (the score reached MQL; marketing has not accepted it yet) and
  `leads.stage_verdict` (the rules' stage when the lead was last scored: the stage itself for the
  leads that exist now, which is what the rules said of them).
- `lead_state_changes.to_value` may be null (no stage); `changed_by` (the actor: `system` for the
  rows before this revision) and `reason` (a person's `stage_reason`).
- `forms.engagement_type`: what a submission records on its lead (null: as before).
- Settings that listed `ial` stages (`sla.stages`, a routing rule's `when.stages`) meant every lead
  under the MQL threshold: they list `none` beside it, so they keep applying to the same leads.

Going down gives every lead without a stage `ial` again (the older code's default), maps `none`
back to `ial` in settings and history, records newsletter sign-ups as form submissions, and drops
what the older code does not know.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PAGE = 500
WINDOW_DAYS = 90  # the default decay window (scoring.engagement_window_days)
INFORMATION_ONLY = frozenset({"content_download"})  # newsletter_signup did not exist before this revision
CAUSE = "stage rules changed: no qualifying signal"

leads = sa.table(
    "leads",
    sa.column("workspace_id", sa.Uuid),
    sa.column("id", sa.Uuid),
    sa.column("stage", sa.String),
    sa.column("score", sa.Float),
    sa.column("stage_verdict", sa.String),
    sa.column("version", sa.Integer),
)
engagements = sa.table(
    "engagements",
    sa.column("workspace_id", sa.Uuid),
    sa.column("lead_id", sa.Uuid),
    sa.column("type", sa.String),
    sa.column("occurred_at", app.db.types.UtcDateTime(timezone=True)),
)
history = sa.table(
    "lead_state_changes",
    sa.column("workspace_id", sa.Uuid),
    sa.column("id", sa.Uuid),
    sa.column("lead_id", sa.Uuid),
    sa.column("kind", sa.String),
    sa.column("from_value", sa.String),
    sa.column("to_value", sa.String),
    sa.column("cause", sa.String),
    sa.column("score", sa.Float),
    sa.column("occurred_at", app.db.types.UtcDateTime(timezone=True)),
    sa.column("changed_by", sa.String),
)
settings = sa.table(
    "workspace_settings",
    sa.column("workspace_id", sa.Uuid),
    sa.column("section", sa.String),
    sa.column("values", JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.alter_column(
            "stage",
            existing_type=sa.String(length=8),
            nullable=True,
            server_default=None,
            existing_server_default="ial",
        )
        batch_op.add_column(sa.Column("stage_manual", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("mql_candidate", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("stage_verdict", sa.String(length=8), nullable=True))
    with op.batch_alter_table("lead_state_changes", schema=None) as batch_op:
        batch_op.alter_column("to_value", existing_type=sa.String(length=8), nullable=True)
        batch_op.add_column(sa.Column("changed_by", sa.String(length=64), server_default="system", nullable=False))
        batch_op.add_column(sa.Column("reason", sa.String(length=500), nullable=True))
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engagement_type", sa.String(length=32), nullable=True))
    _default_ial_loses_its_stage()
    op.execute("UPDATE leads SET stage_verdict = stage WHERE stage IS NOT NULL")
    _settings_list_none_beside_ial()


def _default_ial_loses_its_stage() -> None:
    """IAL leads without the new rule's signal: a page of leads at a time, by (workspace, id)."""
    from app.ids import new_id

    bind = op.get_bind()
    now = datetime.now(UTC)
    since = now - timedelta(days=WINDOW_DAYS)
    after: tuple[Any, Any] | None = None
    while True:
        statement = sa.select(leads.c.workspace_id, leads.c.id, leads.c.score).where(leads.c.stage == "ial")
        if after is not None:
            statement = statement.where(
                sa.or_(
                    leads.c.workspace_id > after[0], sa.and_(leads.c.workspace_id == after[0], leads.c.id > after[1])
                )
            )
        page = bind.execute(statement.order_by(leads.c.workspace_id, leads.c.id).limit(PAGE)).all()
        by_workspace: dict[Any, dict[Any, float]] = {}
        for workspace_id, lead_id, score in page:
            by_workspace.setdefault(workspace_id, {})[lead_id] = score
        for workspace_id, scores in by_workspace.items():
            kinds: dict[Any, set[str]] = {}
            found = bind.execute(
                sa.select(engagements.c.lead_id, engagements.c.type).where(
                    engagements.c.workspace_id == workspace_id,
                    engagements.c.lead_id.in_(list(scores)),
                    engagements.c.occurred_at >= since,
                )
            )
            for lead_id, kind in found:
                kinds.setdefault(lead_id, set()).add(kind)
            default = [lead_id for lead_id in scores if not (kinds.get(lead_id) and kinds[lead_id] <= INFORMATION_ONLY)]
            if not default:
                continue
            bind.execute(
                leads.update()
                .where(leads.c.workspace_id == workspace_id, leads.c.id.in_(default))
                .values(stage=None, stage_verdict=None, version=leads.c.version + 1)
            )
            bind.execute(
                history.insert(),
                [
                    {
                        "workspace_id": workspace_id,
                        "id": new_id(),
                        "lead_id": lead_id,
                        "kind": "stage",
                        "from_value": "ial",
                        "to_value": None,
                        "cause": CAUSE,
                        "score": scores[lead_id],
                        "occurred_at": now,
                        "changed_by": "system",
                    }
                    for lead_id in default
                ],
            )
        if len(page) < PAGE:
            return
        after = (page[-1][0], page[-1][1])


def _values(raw: Any) -> dict[str, Any]:
    return dict(json.loads(raw) if isinstance(raw, str) else raw)


def _stage_lists(conn: sa.Connection, change: Any) -> None:
    """Apply `change` (a list of stages -> the new list) to `sla.stages` and each routing rule's
    `when.stages`, wherever a workspace stored them."""
    rows = conn.execute(
        sa.select(settings.c.workspace_id, settings.c.section, settings.c["values"]).where(
            settings.c.section.in_(["sla", "routing"])
        )
    ).all()
    for workspace_id, section, raw in rows:
        values = _values(raw)
        kept = json.loads(json.dumps(values))
        if section == "sla" and isinstance(kept.get("stages"), list):
            kept["stages"] = change(kept["stages"])
        if section == "routing":
            for rule in kept.get("rules") or []:
                when = rule.get("when") if isinstance(rule, dict) else None
                if isinstance(when, dict) and isinstance(when.get("stages"), list) and when["stages"]:
                    when["stages"] = change(when["stages"])
        if kept != values:
            conn.execute(
                settings.update()
                .where(settings.c.workspace_id == workspace_id, settings.c.section == section)
                .values({"values": kept})
            )


def _with_none(stages: list[str]) -> list[str]:
    return [*stages, "none"] if "ial" in stages and "none" not in stages else stages


def _without_none(stages: list[str]) -> list[str]:
    mapped = ["ial" if stage == "none" else stage for stage in stages]
    return list(dict.fromkeys(mapped))


def _settings_list_none_beside_ial() -> None:
    _stage_lists(op.get_bind(), _with_none)


def downgrade() -> None:
    conn = op.get_bind()
    _stage_lists(conn, _without_none)
    rows = conn.execute(
        sa.select(settings.c.workspace_id, settings.c["values"]).where(settings.c.section == "scoring")
    ).all()
    for workspace_id, raw in rows:
        values = _values(raw)
        kept = {k: v for k, v in values.items() if k not in ("information_intent", "engagement_window_days")}
        for name in ("hot_intent", "sales_intent"):
            if isinstance(kept.get(name), list):
                kept[name] = [kind for kind in kept[name] if kind != "newsletter_signup"]
        if isinstance(kept.get("behavior_weights"), dict):
            kept["behavior_weights"] = {k: v for k, v in kept["behavior_weights"].items() if k != "newsletter_signup"}
        if kept != values:
            conn.execute(
                settings.update()
                .where(settings.c.workspace_id == workspace_id, settings.c.section == "scoring")
                .values({"values": kept})
            )
    op.execute("UPDATE engagements SET type = 'form_submit' WHERE type = 'newsletter_signup'")
    op.execute("UPDATE leads SET stage = 'ial' WHERE stage IS NULL")
    op.execute("UPDATE lead_state_changes SET from_value = 'ial' WHERE kind = 'stage' AND from_value IS NULL")
    op.execute("UPDATE lead_state_changes SET to_value = 'ial' WHERE kind = 'stage' AND to_value IS NULL")
    op.execute("DELETE FROM lead_state_changes WHERE from_value = to_value")

    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_column("engagement_type")
    with op.batch_alter_table("lead_state_changes", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("changed_by")
        batch_op.alter_column("to_value", existing_type=sa.String(length=8), nullable=False)
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("stage_verdict")
        batch_op.drop_column("mql_candidate")
        batch_op.drop_column("stage_manual")
        batch_op.alter_column("stage", existing_type=sa.String(length=8), nullable=False, server_default="ial")
