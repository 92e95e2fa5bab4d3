"""Walking one person's rows, place by place (app/db/repositories/privacy/people.py: FIND), a page
at a time: the export reads them, the dry run counts what erasing would change, the erasure
changes them. The walk keeps the ids it met, which find the next places' rows (messages before
their status history, every row before the events about it, events before their deliveries)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from app.db.repositories.privacy.people import EVENT_RESOURCES, FIND, primary_key

__all__ = ["EVENT_RESOURCES"]
from app.domain.privacy import erasure as rules
from app.services.context import Context
from app.services.privacy import subjects as refs

PAGE = 500

# The places an export reads, grouped by resource, in this order.
EXPORTED = (
    "leads",
    "lead_state_changes",
    "lead_tags",
    "lead_assignments",
    "contacts",
    "contact_identities",
    "accounts",
    "form_submissions",
    "engagements",
    "activities",
    "tasks",
    "opportunities",
    "messages",
    "message_status_changes",
    "consents",
    "consent_changes",
    "orders",
    "order_lines",
    "order_refunds",
    "tickets",
    "invoices",
    "quotes",
    "contracts",
    "payments",
    "loyalty_entries",
    "enrolments",
    "enrolment_steps",
    "campaign_recipients",
    "lead_merges",
    "import_errors",
    "integration_failures",
    "events",
)

# The places an erasure changes, in its order: rows that point at the person first (each found
# by ids met before it), their tombstones (leads, contacts) last, in the final transaction.
ERASED = (
    "form_submissions",
    "engagements",
    "activities",
    "tasks",
    "opportunities",
    "lead_state_changes",
    "messages",
    "message_status_changes",
    "consents",
    "consent_changes",
    "enrolments",
    "enrolment_steps",
    "campaign_recipients",
    "orders",
    "order_refunds",
    "tickets",
    "invoices",
    "quotes",
    "contracts",
    "payments",
    "loyalty_entries",
    "lead_merges",
    "duplicate_candidates",
    "dedupe_queue",
    "contact_identities",
    "accounts_made",
    "events",
    "webhook_deliveries",
    "webhook_attempts",
    "idempotency_keys",
    "import_errors",
    "integration_failures",
    "privacy_requests",
)
TOMBSTONES = ("leads", "contacts")


@dataclass
class Ids:
    """The id sets the walk has met so far (app/db/repositories/privacy/people.py: FIND)."""

    sets: dict[str, set[Any]] = field(default_factory=dict)

    @classmethod
    def start(cls, lead_ids: Sequence[UUID], contact_ids: Sequence[UUID], ref_keys: Mapping[str, Sequence[str]]) -> Ids:
        ids = cls()
        ids.sets["leads"] = set(lead_ids)
        ids.sets["contacts"] = set(contact_ids)
        ids.sets["people"] = set(lead_ids) | set(contact_ids)
        ids.sets["resources"] = {str(i) for i in (*lead_ids, *contact_ids)}
        for place, keys in ref_keys.items():
            converted: set[Any] = set()
            for key in keys:
                converted.add(
                    _uuid(key) if place in {refs.EVENTS, refs.INTEGRATION_FAILURES, refs.PRIVACY_REQUESTS} else key
                )
            ids.sets[f"{place}_refs"] = {k for k in converted if k is not None}
        return ids

    def met(self, place: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Note the ids of rows read in `place` (for the places after it). An account made from
        their lead is theirs only if erasing changes it (`erased_account`)."""
        if "id" not in FIND[place][0].c or place == "accounts_made":
            return
        found = self.sets.setdefault(place, set())
        found.update(r["id"] for r in rows)
        if place in EVENT_RESOURCES:
            self.sets["resources"].update(str(r["id"]) for r in rows)
        if place in ("leads", "contacts"):  # the accounts they belong to (an export shows them)
            self.sets.setdefault("accounts", set()).update(r["account_id"] for r in rows if r.get("account_id"))

    def person_ids(self) -> frozenset[str]:
        """Their lead and contact ids, as text (how documents name them)."""
        return frozenset(str(i) for i in (*self.sets.get("leads", ()), *self.sets.get("contacts", ())))

    def merge(self, other: Ids) -> None:
        for name, values in other.sets.items():
            self.sets.setdefault(name, set()).update(values)

    def erased_account(self, account_id: UUID) -> None:
        """An account named after the person: the events and audit entries about it are theirs."""
        self.sets.setdefault("accounts_made", set()).add(account_id)
        self.sets["resources"].add(str(account_id))

    def view(self) -> dict[str, list[Any]]:
        return {name: sorted(values, key=str) for name, values in self.sets.items()}


def primary_key_of(place: str) -> tuple[str, ...]:
    return primary_key(FIND[place][0])


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


async def ref_keys(ctx: Context, subjects: Sequence[str]) -> dict[str, list[str]]:
    """The row keys `personal_refs` holds for these subjects, per place."""
    found = await ctx.personal_refs.find_all(subjects)
    return {place: found.get(place, []) for place in refs.PLACES}


Visit = Callable[[str, list[dict[str, Any]]], Awaitable[None]]


async def read(ctx: Context, place: str, ids: Ids, visit: Visit) -> None:
    """Every row of the person in `place`, page by page, handed to `visit` (the ids noted first)."""
    key = primary_key(FIND[place][0])
    after: tuple[Any, ...] | None = None
    while True:
        rows = await ctx.personal_data.rows(place, ids.view(), after=after, limit=PAGE)
        if not rows:
            return
        ids.met(place, rows)
        await visit(place, rows)
        if len(rows) < PAGE:
            return
        after = tuple(rows[-1][k] for k in key)


def changes(place: str, rows: Sequence[Mapping[str, Any]], erasing: rules.Erasing) -> tuple[list[Any], list[Any]]:
    """The (row, values) rewrites and the rows to delete that erasing makes of these rows."""
    rewrites, deletes = [], []
    for row in rows:
        change = rules.change(place, row, erasing)
        if change == rules.DELETE:
            deletes.append(row)
        elif isinstance(change, dict):
            rewrites.append((row, change))
    return rewrites, deletes
