"""One person's rows, wherever they live: found by the ids and identity keys that name them, along
an index in every table (never a table scan), read for an export and rewritten or deleted for an
erasure. Each place (a table) is found by columns naming sets of ids (`FIND`); the sets grow as the
places are walked (a person's messages before their status history, every row's id before the
events about it, events before their webhook deliveries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, delete, or_, select, text, tuple_, union_all, update

from app.db import tables
from app.db.repositories.base import TenantRepository, dialect_insert

L, C = tables.leads, tables.contacts

# place -> its table and the (column, id set) pairs any of which finds a row of the person. Id
# sets: "leads", "contacts", "people" (both), "resources" (every found row's id, as events name
# them), a place's own name (the ids found there), "<place>_refs" (row keys from personal_refs).
FIND: dict[str, tuple[Table, tuple[tuple[str, str], ...]]] = {
    "leads": (L, (("id", "leads"),)),
    "contacts": (C, (("id", "contacts"),)),
    "accounts": (tables.accounts, (("id", "accounts"),)),
    # the accounts qualification made from their leads (named after the person when they had no company)
    "accounts_made": (tables.accounts, (("lead_id", "leads"),)),
    "lead_tags": (tables.lead_tags, (("lead_id", "leads"),)),
    "lead_state_changes": (tables.lead_state_changes, (("lead_id", "leads"),)),
    "lead_assignments": (tables.lead_assignments, (("lead_id", "leads"),)),
    "lead_merges": (tables.lead_merges, (("lead_id", "leads"), ("survivor_id", "leads"))),
    "duplicate_candidates": (tables.duplicate_candidates, (("lead_id", "leads"), ("candidate_id", "leads"))),
    "dedupe_queue": (tables.dedupe_queue, (("lead_id", "leads"),)),
    "contact_identities": (tables.contact_identities, (("contact_id", "contacts"),)),
    "form_submissions": (tables.form_submissions, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "engagements": (tables.engagements, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "activities": (tables.activities, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "tasks": (tables.tasks, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "opportunities": (tables.opportunities, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "messages": (tables.messages, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "message_status_changes": (tables.message_status_changes, (("message_id", "messages"),)),
    "consents": (tables.consents, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "consent_changes": (tables.consent_changes, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "enrolments": (tables.enrolments, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "enrolment_steps": (tables.enrolment_steps, (("lead_id", "leads"), ("contact_id", "contacts"))),
    "campaign_recipients": (tables.campaign_recipients, (("person_id", "people"),)),
    "orders": (tables.orders, (("contact_id", "contacts"),)),
    "order_lines": (tables.order_lines, (("order_id", "orders"),)),
    "order_refunds": (tables.order_refunds, (("order_id", "orders"),)),
    "tickets": (tables.tickets, (("contact_id", "contacts"),)),
    "invoices": (tables.invoices, (("contact_id", "contacts"),)),
    "quotes": (tables.quotes, (("contact_id", "contacts"),)),
    "contracts": (tables.contracts, (("contact_id", "contacts"),)),
    "payments": (tables.payments, (("contact_id", "contacts"),)),
    "loyalty_entries": (tables.loyalty_entries, (("contact_id", "contacts"),)),
    "events": (tables.events, (("resource_id", "resources"), ("id", "events_refs"))),
    "webhook_deliveries": (tables.webhook_deliveries, (("event_id", "events"),)),
    "webhook_attempts": (tables.webhook_attempts, (("delivery_id", "webhook_deliveries"),)),
    "idempotency_keys": (tables.idempotency_keys, (("key", "idempotency_keys_refs"),)),
    "import_errors": (tables.import_errors, ()),  # by (import id, row number): `_import_rows`
    "integration_failures": (tables.integration_failures, (("id", "integration_failures_refs"),)),
    "privacy_requests": (tables.privacy_requests, (("id", "privacy_requests_refs"),)),
}

# Places whose rows events name by id (the events' `resource_id`).
EVENT_RESOURCES = (
    "leads",
    "contacts",
    "form_submissions",
    "activities",
    "tasks",
    "opportunities",
    "messages",
    "consents",
    "enrolments",
    "orders",
    "tickets",
    "invoices",
    "quotes",
    "contracts",
    "payments",
)

PAGE_IDS = 500  # ids bound in one IN list


def primary_key(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns if c.name != "workspace_id")


def _open(column: str) -> Any:
    return text(tables.OPEN_LEAD.format(column=column))


def _closed(column: str) -> Any:
    return text(f"{column} IS NOT NULL AND NOT ({tables.OPEN_LEAD.format(column=column).split(' AND ', 1)[1]})")


class PersonalDataRepository(TenantRepository[dict[str, Any]]):
    table = L

    # -- who the person is -------------------------------------------------------------------

    async def leads_matching(
        self, *, ids: Sequence[UUID], email_keys: Sequence[str], phones: Sequence[str], contact_ids: Sequence[UUID]
    ) -> list[dict[str, Any]]:
        """Leads with one of these ids, email keys or phones, or converted into one of these
        contacts: each branch along its own index (an open lead's identity index and the closed
        leads' partial index are both read, as their predicates say)."""
        columns = (L.c.id, L.c.email, L.c.email_key, L.c.phone, L.c.phone_e164, L.c.first_name, L.c.last_name)
        columns += (L.c.contact_id, L.c.merged_into_id, L.c.account_id, L.c.erased_at)
        parts = []
        if ids:
            parts.append(select(*columns).where(self.scope, L.c.id.in_(list(ids))))
        for column, values in (("email_key", email_keys), ("phone_e164", phones)):
            if values:
                for predicate in (_open(column), _closed(column)):
                    parts.append(select(*columns).where(self.scope, L.c[column].in_(list(values)), predicate))
        if contact_ids:
            parts.append(
                select(*columns).where(self.scope, L.c.contact_id.in_(list(contact_ids)), L.c.contact_id.is_not(None))
            )
        return await self._distinct(parts)

    async def contacts_matching(
        self, *, ids: Sequence[UUID], email_keys: Sequence[str], phones: Sequence[str], lead_ids: Sequence[UUID]
    ) -> list[dict[str, Any]]:
        columns = (C.c.id, C.c.email, C.c.email_key, C.c.phone, C.c.phone_e164, C.c.first_name, C.c.last_name)
        columns += (C.c.lead_id, C.c.account_id, C.c.erased_at)
        parts = []
        if ids:
            parts.append(select(*columns).where(C.c.workspace_id == self.workspace_id, C.c.id.in_(list(ids))))
        for column, values in (("email_key", email_keys), ("phone_e164", phones)):
            if values:
                parts.append(
                    select(*columns).where(
                        C.c.workspace_id == self.workspace_id, C.c[column].in_(list(values)), C.c[column].is_not(None)
                    )
                )
        if lead_ids:
            # contacts.lead_id has no index: a contact made from a lead is also named by the lead's
            # contact_id, which `leads_matching` returns; this only reads the ids already known
            parts.append(
                select(*columns).where(
                    C.c.workspace_id == self.workspace_id,
                    C.c.id.in_(
                        select(L.c.contact_id)
                        .where(
                            L.c.workspace_id == self.workspace_id,
                            L.c.id.in_(list(lead_ids)),
                            L.c.contact_id.is_not(None),
                        )
                        .scalar_subquery()
                    ),
                )
            )
        return await self._distinct(parts)

    async def contacts_by_shop_ids(self, pairs: Sequence[tuple[str, str]]) -> list[UUID]:
        ci = tables.contact_identities
        if not pairs:
            return []
        statement = select(ci.c.contact_id).where(
            ci.c.workspace_id == self.workspace_id, tuple_(ci.c.source, ci.c.external_id).in_(list(pairs))
        )
        return list((await self.uow.execute(statement)).scalars())

    async def _distinct(self, parts: list[Any]) -> list[dict[str, Any]]:
        if not parts:
            return []
        statement = parts[0] if len(parts) == 1 else union_all(*parts)
        seen: dict[Any, dict[str, Any]] = {}
        for row in (await self.uow.execute(statement)).mappings():
            seen.setdefault(row["id"], dict(row))
        return list(seen.values())

    async def lock_people(self, lead_ids: Sequence[UUID], contact_ids: Sequence[UUID]) -> None:
        """Lock the person's lead and contact rows until the end of the transaction (PostgreSQL):
        a capture or sync changing them waits, then finds the tombstone. SQLite's one writer
        already serialises the transaction."""
        if (await self._dialect()) != "postgresql":
            return
        if lead_ids:
            await self.uow.execute(
                select(L.c.id).where(self.scope, L.c.id.in_(list(lead_ids))).order_by(L.c.id).with_for_update()
            )
        if contact_ids:
            await self.uow.execute(
                select(C.c.id)
                .where(C.c.workspace_id == self.workspace_id, C.c.id.in_(list(contact_ids)))
                .order_by(C.c.id)
                .with_for_update()
            )

    # -- a place's rows ----------------------------------------------------------------------

    async def rows(
        self, place: str, ids: Mapping[str, Sequence[Any]], *, after: tuple[Any, ...] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` rows of `place` named by any of its id sets, in primary key order after
        `after` (the last key of the page before)."""
        table, finders = FIND[place]
        key = primary_key(table)
        if place == "import_errors":
            conditions = self._import_rows(ids.get("import_errors_refs", ()))
        else:
            conditions = []
            for column, id_set in finders:
                values = list(ids.get(id_set, ()))
                for start in range(0, len(values), PAGE_IDS):
                    conditions.append(table.c[column].in_(values[start : start + PAGE_IDS]))
        if not conditions:
            return []
        statement = select(table).where(table.c.workspace_id == self.workspace_id, or_(*conditions))
        if after is not None:
            statement = statement.where(tuple_(*(table.c[k] for k in key)) > tuple_(*after))
        statement = statement.order_by(*(table.c[k] for k in key)).limit(limit)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    def _import_rows(self, keys: Sequence[str]) -> list[Any]:
        er = tables.import_errors
        conditions = []
        for key in keys:
            import_id, _, number = key.partition(":")
            try:
                conditions.append(and_(er.c.import_id == UUID(import_id), er.c.row_number == int(number)))
            except ValueError:
                continue
        return conditions

    async def rewrite(self, place: str, changes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> int:
        """Set each row's changed columns (`(row, values)` pairs), by its primary key; how many."""
        table = FIND[place][0]
        key = primary_key(table)
        done = 0
        for row, values in changes:
            statement = (
                update(table)
                .where(table.c.workspace_id == self.workspace_id, *(table.c[k] == row[k] for k in key))
                .values(**values)
            )
            if "version" in table.c and "version" not in values:
                statement = statement.values(version=table.c.version + 1)
            done += int((await self.uow.execute(statement)).rowcount or 0)
        return done

    async def remove(self, place: str, rows: Sequence[Mapping[str, Any]]) -> int:
        table = FIND[place][0]
        key = primary_key(table)
        done = 0
        for row in rows:
            statement = delete(table).where(
                table.c.workspace_id == self.workspace_id, *(table.c[k] == row[k] for k in key)
            )
            done += int((await self.uow.execute(statement)).rowcount or 0)
        return done

    async def running_imports(self) -> int:
        """Imports of the workspace still uploading, queued or running (their stored upload may
        hold the person's rows)."""
        im = tables.imports
        statement = select(im.c.id).where(
            im.c.workspace_id == self.workspace_id, im.c.status.in_(("uploading", "queued", "running"))
        )
        return len(list((await self.uow.execute(statement)).scalars()))

    async def drop_ended_uploads(self, import_ids: Sequence[UUID]) -> int:
        """The stored uploads (chunks) of these ended imports, deleted; how many chunks."""
        im, ch = tables.imports, tables.import_chunks
        if not import_ids:
            return 0
        ended = select(im.c.id).where(
            im.c.workspace_id == self.workspace_id,
            im.c.id.in_(list(import_ids)),
            im.c.status.in_(("completed", "failed")),
        )
        statement = delete(ch).where(
            ch.c.workspace_id == self.workspace_id, ch.c.import_id.in_(ended.scalar_subquery())
        )
        return int((await self.uow.execute(statement)).rowcount or 0)

    async def suppress_erased(self, channel: str, address_hash: str, values: Mapping[str, Any]) -> bool:
        """Leave the address suppressed as `erased` with no address: an entry that suppresses it
        already loses its address and note; a missing one is added (`values`: its id and audit
        columns). Whether anything changed."""
        sp = tables.suppressions
        where = (sp.c.workspace_id == self.workspace_id, sp.c.channel == channel, sp.c.address_hash == address_hash)
        changed = await self.uow.execute(
            update(sp)
            .where(*where, or_(sp.c.reason != "erased", sp.c.address.is_not(None), sp.c.note.is_not(None)))
            .values(reason="erased", address=None, note=None)
        )
        if changed.rowcount:
            return True
        exists = (await self.uow.execute(select(sp.c.id).where(*where))).first()
        if exists is not None:
            return False
        statement = dialect_insert(await self._dialect())(sp).on_conflict_do_nothing()
        row = {"workspace_id": self.workspace_id, "channel": channel, "address_hash": address_hash}
        await self.uow.execute(statement, {**row, "address": None, "reason": "erased", "note": None, **values})
        return True

    async def suppression_ids(self, hashes: Sequence[tuple[str, str]]) -> list[UUID]:
        """The ids of the suppression entries of these (channel, address hash) pairs."""
        return [row["id"] for row in await self.suppressions(hashes)]

    async def suppressions(self, hashes: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """The suppression entries of these (channel, address hash) pairs."""
        sp = tables.suppressions
        if not hashes:
            return []
        statement = select(sp).where(
            sp.c.workspace_id == self.workspace_id, tuple_(sp.c.channel, sp.c.address_hash).in_(list(hashes))
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def shop_only_contacts(self, source: str, created_by: str, *, after: UUID | None, limit: int) -> list[UUID]:
        """Contacts that came only from one shop: known to it (`contact_identities` by source, along
        its primary key), made by its integration (`created_by`), from no lead, known to no other
        source, not erased; by id after `after`."""
        ci = tables.contact_identities
        other = tables.contact_identities.alias("other")
        statement = (
            select(C.c.id)
            .join(ci, and_(ci.c.workspace_id == C.c.workspace_id, ci.c.contact_id == C.c.id))
            .where(
                C.c.workspace_id == self.workspace_id,
                ci.c.workspace_id == self.workspace_id,
                ci.c.source == source,
                C.c.created_by == created_by,
                C.c.lead_id.is_(None),
                C.c.erased_at.is_(None),
                ~select(other.c.contact_id)
                .where(
                    other.c.workspace_id == self.workspace_id,
                    other.c.contact_id == C.c.id,
                    other.c.source != source,
                )
                .exists(),
            )
            .distinct()
            .order_by(C.c.id)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(C.c.id > after)
        return list((await self.uow.execute(statement)).scalars())
