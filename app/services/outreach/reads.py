"""What sending and rendering read, read once per request.

A batch of a thousand messages names a thousand people but, as a rule, one channel, one template,
one workspace and a handful of owners: the people, their consents and the suppressions of their
addresses are read in one query each (`prefetch`), everything else the first time it is asked for
and then kept for the rest of the request. A single send uses the same object without prefetching,
so every path renders and checks exactly the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from app.db.repositories.base import Row
from app.domain.errors import NotFound
from app.domain.outreach.vocabulary import ChannelType, ConsentStatus, PersonRef
from app.services.context import Context
from app.services.outreach.suppressions import address_hash, lookup_key
from app.services.workspace import workspaces

_ABSENT = object()


class Reads:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._people: dict[PersonRef, Mapping[str, Any] | None] = {}
        self._consents: dict[tuple[PersonRef, str], ConsentStatus] = {}
        self._suppressed: dict[tuple[str, str], bool] = {}
        self._channels: dict[str, Row | None] = {}
        self._templates: dict[UUID, Row | None] = {}
        self._members: dict[UUID, Row | None] = {}
        self._accounts: dict[UUID, str | None] = {}
        self._workspace: Row | None = None
        self._snapshot: object = _ABSENT  # the latest ready analytics snapshot, once read

    # -- in bulk ---------------------------------------------------------------------------------

    async def prefetch_people(self, people: Iterable[PersonRef]) -> None:
        """Read these leads and contacts in one query per kind (those of another workspace, or
        none, are remembered as absent)."""
        wanted = {p for p in people if p not in self._people}
        for kind in ("lead", "contact"):
            ids = [p.id for p in wanted if p.kind == kind]
            if not ids:
                continue
            repo = self.ctx.leads if kind == "lead" else self.ctx.contacts
            found: Mapping[UUID, Mapping[str, Any]] = await repo.by_ids(ids)
            for person_id in ids:
                self._people[PersonRef(kind, person_id)] = found.get(person_id)

    async def prefetch_consents(self, people: Iterable[PersonRef], channel: ChannelType) -> None:
        """The consent on `channel` of each of these people, in one query per kind."""
        channel = ChannelType(channel)
        wanted = {p for p in people if (p, channel.value) not in self._consents}
        for kind in ("lead", "contact"):
            ids = [p.id for p in wanted if p.kind == kind]
            if not ids:
                continue
            found = await self.ctx.consents.statuses(f"{kind}_id", ids, channel.value)
            for person_id in ids:
                status = found.get(person_id)
                self._consents[(PersonRef(kind, person_id), channel.value)] = (
                    ConsentStatus(status) if status is not None else ConsentStatus.UNKNOWN
                )

    async def prefetch_suppressions(self, channel: ChannelType, keys: Iterable[str]) -> None:
        """Whether each of these address keys is suppressed on `channel`, in one query."""
        channel = ChannelType(channel)
        hashes = {address_hash(channel, lookup_key(channel, key)): key for key in set(keys)}
        hashes = {h: k for h, k in hashes.items() if (channel.value, k) not in self._suppressed}
        if not hashes:
            return
        found = await self.ctx.suppressions.existing_hashes(channel.value, list(hashes))
        for digest, key in hashes.items():
            self._suppressed[(channel.value, key)] = digest in found

    # -- one at a time (read on first use) -------------------------------------------------------

    async def person(self, person: PersonRef) -> Mapping[str, Any]:
        """The lead or contact; 404 for one not of this workspace."""
        if person not in self._people:
            await self.prefetch_people([person])
        row = self._people[person]
        if row is None:
            raise NotFound(f"no {person.kind} with this id")
        return row

    async def consent(self, person: PersonRef, channel: ChannelType) -> ConsentStatus:
        if (person, ChannelType(channel).value) not in self._consents:
            await self.prefetch_consents([person], channel)
        return self._consents[(person, ChannelType(channel).value)]

    async def suppressed(self, channel: ChannelType, key: str) -> bool:
        if (ChannelType(channel).value, key) not in self._suppressed:
            await self.prefetch_suppressions(channel, [key])
        return self._suppressed[(ChannelType(channel).value, key)]

    async def default_channel(self, channel: ChannelType) -> Row | None:
        """The live default channel of a type (the row as stored), None when there is none."""
        value = ChannelType(channel).value
        if value not in self._channels:
            self._channels[value] = await self.ctx.channels.default_of(value)
        return self._channels[value]

    async def template(self, template_id: UUID) -> Row | None:
        if template_id not in self._templates:
            self._templates[template_id] = await self.ctx.templates.get(template_id)
        return self._templates[template_id]

    async def workspace(self) -> Row:
        if self._workspace is None:
            self._workspace = await workspaces.get(self.ctx)
        return self._workspace

    async def member(self, member_id: UUID) -> Row | None:
        if member_id not in self._members:
            self._members[member_id] = await self.ctx.members.get(member_id)
        return self._members[member_id]

    async def account_name(self, account_id: UUID) -> str | None:
        if account_id not in self._accounts:
            row = await self.ctx.accounts.get(account_id)
            self._accounts[account_id] = str(row["name"]) if row is not None else None
        return self._accounts[account_id]

    async def recommendations(self, person: PersonRef) -> list[str]:
        """The categories the latest ready analytics snapshot recommends to a contact, best first
        (a lead has none)."""
        if person.kind != "contact":
            return []
        if self._snapshot is _ABSENT:
            self._snapshot = await self.ctx.analytics.latest()
        snapshot = self._snapshot
        if not isinstance(snapshot, dict):
            return []
        value = await self.ctx.analytics.value_of(snapshot["id"], person.id)
        found = (value or {}).get("recommendations") or []
        return [str(r["category"]) for r in found if isinstance(r, Mapping) and r.get("category")]
