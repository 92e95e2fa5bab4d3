"""Merging keyset pages from several sources into one ordered page (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from app.domain.workspace.api_keys import allows

# Entry kind -> the scope that reads it on its own endpoint: engagements, activities and a lead's
# history are read with leads:read, tasks with tasks:read. A timeline shows a key only the kinds
# it may read, whichever record the timeline is about.
KIND_SCOPES: dict[str, str] = {
    "engagement": "leads:read",
    "activity": "leads:read",
    "task": "tasks:read",
    "state_change": "leads:read",
    "assignment": "leads:read",
    "status": "leads:read",
    "journey_step": "journeys:read",
}


def readable_kinds(granted: Iterable[str], kinds: Iterable[str]) -> list[str]:
    scopes = frozenset(granted)
    return [k for k in kinds if allows(scopes, KIND_SCOPES[k])]


@dataclass(frozen=True)
class Entry:
    kind: str
    occurred_at: datetime
    id: UUID
    row: Any


def merge(entries: Sequence[Entry], limit: int, descending: bool) -> tuple[list[Entry], Entry | None]:
    """The first `limit` entries in (time, id) order, and the last one when more may follow.
    Each source gave at most `limit` entries past the cursor, so the merged first `limit` are exact."""
    ordered = sorted(entries, key=lambda e: (e.occurred_at, e.id), reverse=descending)
    page = ordered[:limit]
    return page, (page[-1] if len(ordered) > limit else None)
