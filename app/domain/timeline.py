"""Merging keyset pages from several sources into one ordered page (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


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
