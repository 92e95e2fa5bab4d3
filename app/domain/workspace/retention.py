"""Retention classes: how long a workspace keeps each kind of personal data, and how far the nightly
passes got.

Each class has a setting in the `retention` section (days, or null: kept) and a time its rows age
by. The nightly `retention.enforce` job handles, class by class, the rows whose time is before the
class's cutoff (`as_of` minus its days), a page per transaction. A finished pass records
`done_before`: every row of the class older than that has been handled, so the next night starts
there instead of at the first row (a row's time never moves back, and what a pass removed stays
removed). A row a pass had to leave for later (a message that may still be sent, a merge that can
still be undone) holds the mark back to its time, and so does the last hour (a row's time is taken
before its transaction commits). Pure: every time is passed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

# class -> its setting in the `retention` section
SETTINGS: dict[str, str] = {
    "form_submissions": "form_submission_days",
    "message_bodies": "message_body_days",
    "archived_leads": "archived_lead_days",
    "webhook_response_excerpts": "webhook_response_excerpt_days",
    "privacy_exports": "privacy_export_days",
}
CLASSES: tuple[str, ...] = tuple(SETTINGS)

# The defaults of the classes migration 0044 added or changed, for workspaces created from then on
# (each one's reason is in its setting's description, app/schemas/workspace/settings.py). Workspaces
# that existed before keep null (kept) for those whose default is not null: 0044 stored it for them.
DEFAULT_DAYS: dict[str, int | None] = {
    "form_submission_days": 180,
    "message_body_days": 365,
    "archived_lead_days": None,
    "privacy_export_days": 7,
}

# A row's time is taken when its transaction starts, and it is visible once it commits: a pass never
# marks the last hour done, so a row committed late is still found the next night.
LATE_WRITES = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    """What one class's pass handles: rows whose time is in [start, end) (start None: from the
    first row); `as_of` is the pass's moment."""

    start: datetime | None
    end: datetime
    as_of: datetime


@dataclass(frozen=True)
class Swept:
    """One page of a pass: how many rows it changed, where the next page starts (opaque to the job,
    JSON; None: the window is done), and the earliest time of a row it left for a later night."""

    removed: int
    after: list[Any] | None
    held: datetime | None = None


@dataclass
class Tally:
    """A class's pass so far (kept in the job's progress, so a pass resumed after a restart goes on
    from its last page and counts what it removed before)."""

    removed: int = 0
    after: list[Any] | None = None
    held: datetime | None = None
    finished: bool = False

    def add(self, page: Swept) -> None:
        self.removed += page.removed
        self.after = page.after
        self.held = earliest(self.held, page.held)
        self.finished = page.after is None

    def to_json(self) -> dict[str, Any]:
        return {"removed": self.removed, "after": self.after, "held": timestamp(self.held), "finished": self.finished}

    @classmethod
    def from_json(cls, value: Any) -> Tally:
        if not isinstance(value, Mapping):
            return cls()
        after = value.get("after")
        removed = value.get("removed")
        return cls(
            removed=removed if isinstance(removed, int) and removed >= 0 else 0,
            after=after if isinstance(after, list) else None,
            held=parse_time(value.get("held")),
            finished=value.get("finished") is True,
        )


def earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def window(as_of: datetime, days: int | None, done_before: datetime | None) -> Window | None:
    """The rows a pass of a class kept for `days` handles at `as_of`; None when nothing is due: the
    class is off (null), or an earlier pass handled everything before the cutoff already (the
    setting was lengthened since)."""
    if days is None:
        return None
    end = as_of - timedelta(days=days)
    if done_before is not None and done_before >= end:
        return None
    return Window(done_before, end, as_of)


def done_before(as_of: datetime, days: int | None, previous: datetime | None, held: datetime | None) -> datetime | None:
    """How far the class is done once this pass finished: its cutoff, held back by the rows it
    left for later and by the last hour, never behind what an earlier pass reached (`previous`).
    A class that is off keeps the earlier mark: what was removed then is still removed."""
    if days is None:
        return previous
    reached = min(as_of - timedelta(days=days), as_of - LATE_WRITES)
    reached = min(reached, held) if held is not None else reached
    return reached if previous is None else max(previous, reached)


def report(days: int | None, removed: int, done: datetime | None) -> dict[str, Any]:
    """A class's entry in the job's result."""
    return {"days": days, "removed": removed, "done_before": timestamp(done)}


def previous_marks(result: Any) -> dict[str, datetime | None]:
    """Each class's `done_before` in an earlier job's result (None where it has none or it cannot be
    read: that class starts from its first row)."""
    marks: dict[str, datetime | None] = dict.fromkeys(CLASSES)
    if isinstance(result, Mapping):
        for name in CLASSES:
            entry = result.get(name)
            if isinstance(entry, Mapping):
                marks[name] = parse_time(entry.get("done_before"))
    return marks


def timestamp(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with `Z` and microseconds, as the API writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> datetime | None:
    """A time `timestamp` wrote (None for anything else)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def cursor(moment: datetime, row_id: UUID) -> list[Any]:
    """A page's last row as the next page's start: [time, id] (JSON, kept in the job's progress)."""
    return [timestamp(moment), str(row_id)]


def position(after: Any) -> tuple[datetime, UUID] | None:
    """`cursor`'s (time, id) back (None: from the window's start, also for anything unreadable)."""
    if not isinstance(after, list) or len(after) != 2:
        return None
    moment = parse_time(after[0])
    try:
        row_id = UUID(after[1]) if isinstance(after[1], str) else None
    except ValueError:
        return None
    return (moment, row_id) if moment is not None and row_id is not None else None
