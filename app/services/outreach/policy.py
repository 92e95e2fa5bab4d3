"""The workspace's messaging policy (settings section `messaging`) and a person's time zone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.errors import NotFound
from app.domain.outreach.policy import MessagingPolicy, QuietHours
from app.domain.outreach.vocabulary import PersonRef
from app.schemas.outreach.settings import MessagingSettings
from app.services.context import Context
from app.services.workspace import settings, workspaces

SECTION = "messaging"


def policy_from_settings(values: dict[str, Any]) -> MessagingPolicy:
    quiet = values.get("quiet_hours")
    cap = values.get("frequency_cap")
    return MessagingPolicy(
        marketing_requires_opt_in=bool(values["marketing_requires_opt_in"]),
        quiet_hours=QuietHours(time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"])) if quiet else None,
        marketing_per_7_days=int(cap["marketing_per_7_days"]) if cap else None,
        frequency_cap_action="skip" if values["frequency_cap_action"] == "skip" else "wait",
        tracking=bool(values["tracking"]),
        double_opt_in=bool(values["double_opt_in"]),
        opt_out_keywords=tuple(values["opt_out_keywords"]),
    )


async def policy(ctx: Context) -> MessagingPolicy:
    """The workspace's messaging policy: its `messaging` settings, defaults where never set."""
    return policy_from_settings((await settings.get(ctx, SECTION, MessagingSettings))["values"])


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


async def timezone_of(ctx: Context, person: PersonRef) -> ZoneInfo:
    """The person's own time zone, else the workspace's (UTC if neither names a known zone)."""
    row = await (ctx.leads.get(person.id) if person.kind == "lead" else ctx.contacts.get(person.id))
    if row is None:
        raise NotFound(f"no {person.kind} with this id")
    own = _zone(row.get("timezone"))
    if own is not None:
        return own
    return _zone((await workspaces.get(ctx)).get("timezone")) or ZoneInfo("UTC")


def zone_of(person: Mapping[str, Any], workspace: Mapping[str, Any]) -> ZoneInfo:
    """`timezone_of` for a person and a workspace read already."""
    return _zone(person.get("timezone")) or _zone(workspace.get("timezone")) or ZoneInfo("UTC")
