"""Consent per person and channel: what a lead or contact agreed to (or asked to stop), with its
proof and every change kept (`consent_changes`, event `consent.updated`). A channel never set is
`unknown`. Used by messages (may this go out?), unsubscribes and opt-out keywords (everyone at an
address opts out), qualification (the contact keeps the lead's consents) and merges."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.db.repositories.base import Page, Row
from app.domain.concurrency import lost_update
from app.domain.errors import NotFound
from app.domain.events import events as types
from app.domain.outreach.policy import merge_consent
from app.domain.outreach.vocabulary import ChannelType, ConsentSource, ConsentStatus, PersonRef
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.outreach.consents import ConsentEvent
from app.services.context import Context
from app.services.events import events


async def ensure_person(ctx: Context, person: PersonRef) -> None:
    """A 404 unless the lead or contact is the workspace's."""
    found = await (ctx.leads.get(person.id) if person.kind == "lead" else ctx.contacts.get(person.id))
    if found is None:
        raise NotFound(f"no {person.kind} with this id")


def _entry(channel: ChannelType, row: Mapping[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"channel": channel, "status": ConsentStatus.UNKNOWN, "source": None, "captured_at": None, "proof": None}
    return {k: row[k] for k in ("channel", "status", "source", "captured_at", "proof")}


async def consents_of(ctx: Context, person: PersonRef) -> list[dict[str, Any]]:
    """One entry per channel, in the channels' order, `unknown` where never set."""
    await ensure_person(ctx, person)
    rows = {row["channel"]: row for row in await ctx.consents.of(person.column, person.id)}
    return [_entry(channel, rows.get(channel.value)) for channel in ChannelType]


async def status_of(ctx: Context, person: PersonRef, channel: ChannelType) -> ConsentStatus:
    row = await ctx.consents.one(person.column, person.id, ChannelType(channel).value)
    return ConsentStatus(row["status"]) if row is not None else ConsentStatus.UNKNOWN


async def record(
    ctx: Context,
    person: PersonRef,
    channel: ChannelType,
    status: ConsentStatus,
    source: ConsentSource,
    proof: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Set a person's consent on a channel: the row, a history entry and `consent.updated` when
    the status, source or proof changes; nothing (and no event) when it is already so. The entry
    as `GET .../consents` shows it."""
    return await _record(ctx, person, ChannelType(channel), ConsentStatus(status), ConsentSource(source), proof)


async def _record(
    ctx: Context,
    person: PersonRef,
    channel: ChannelType,
    status: ConsentStatus,
    source: ConsentSource,
    proof: Mapping[str, Any] | None,
    *,
    captured_at: Any = None,
) -> dict[str, Any]:
    repo = ctx.consents
    proof_value = dict(proof) if proof is not None else None
    current = await repo.one(person.column, person.id, channel.value)
    previous = ConsentStatus(current["status"]) if current is not None else ConsentStatus.UNKNOWN
    if current is not None and (current["status"], current["source"], current["proof"]) == (
        status.value, source.value, proof_value
    ):  # fmt: skip
        return _entry(channel, current)
    values = {
        "status": status.value,
        "source": source.value,
        "captured_at": captured_at or ctx.now,
        "proof": proof_value,
    }
    row: Row | None
    if current is None:
        row = await repo.create(
            {"id": new_id(), person.column: person.id, "channel": channel.value, **values, **ctx.audit_new()}
        )
    else:
        row = await repo.update(current["id"], current["version"], {**values, **ctx.audit_change()})
    if row is None:
        raise lost_update(None)  # a concurrent writer set it first: the request runs again
    await repo.history.add(
        {
            "id": new_id(),
            person.column: person.id,
            "channel": channel.value,
            "status": status.value,
            "previous_status": previous.value,
            "source": source.value,
            "captured_at": row["captured_at"],
            "proof": proof_value,
            "created_at": ctx.now,
            "created_by": str(ctx.actor),
        }
    )
    event = ConsentEvent.model_validate(
        {person.column: person.id, **_entry(channel, row), "previous_status": previous.value}
    )
    await events.record(ctx, types.CONSENT_UPDATED, event, resource_id=person.id)
    return _entry(channel, row)


async def update(ctx: Context, person: PersonRef, channel: ChannelType, values: Mapping[str, Any]) -> dict[str, Any]:
    """`PUT .../consents/{channel}`: the person must be the workspace's."""
    await ensure_person(ctx, person)
    return await record(ctx, person, channel, values["status"], values["source"], values.get("proof"))


async def history(ctx: Context, person: PersonRef, *, sort: Sort, cursor: str | None, limit: int) -> Page:
    await ensure_person(ctx, person)
    return await ctx.consents.history.of(person.column, person.id, sort=sort, cursor=cursor, limit=limit)


async def opt_out_address(
    ctx: Context,
    channel: ChannelType,
    address_key: str,
    source: ConsentSource,
    proof: Mapping[str, Any] | None = None,
) -> int:
    """Opt out on `channel` every lead and contact of the workspace with this address (its
    normalised email, or E.164 phone for SMS and WhatsApp), with `proof`; how many people that is
    (one already opted out with this source and proof is left as it is)."""
    channel = ChannelType(channel)
    key = address_key.strip()
    column = "email_key" if channel == ChannelType.EMAIL else "phone_e164"
    if channel == ChannelType.EMAIL:
        key = key.casefold()
    people = await ctx.consents.people_at(column, key)
    for kind, person_id in people:
        await record(ctx, PersonRef(kind, person_id), channel, ConsentStatus.OPTED_OUT, source, proof)  # type: ignore[arg-type]
    return len(people)


async def start_erased(ctx: Context, person: PersonRef, channels: Iterable[ChannelType]) -> None:
    """A new person at an address an erasure suppressed: opted out on those channels (source
    `erasure`, no proof), so marketing reaches them only once they opt in again, with new proof.
    Their rows must be written (a consent refers to them)."""
    for channel in sorted(ChannelType(c) for c in channels):
        await record(ctx, person, channel, ConsentStatus.OPTED_OUT, ConsentSource.ERASURE)


async def reset_address(ctx: Context, channel: ChannelType, address_key: str, *, given_before: Any) -> int:
    """Lifting a suppression: every lead and contact at the address whose consent on `channel` was
    given (opted in, or pending its confirmation) before `given_before` goes back to `unknown`
    (source `api`, the admin's act), so marketing reaches them only after they opt in again, with
    new proof. Consent given since, and opt-outs, stay. How many people changed."""
    channel = ChannelType(channel)
    key = address_key.strip()
    column = "email_key" if channel == ChannelType.EMAIL else "phone_e164"
    if channel == ChannelType.EMAIL:
        key = key.casefold()
    changed = 0
    for kind, person_id in await ctx.consents.people_at(column, key):
        person = PersonRef(kind, person_id)  # type: ignore[arg-type]
        row = await ctx.consents.one(person.column, person.id, channel.value)
        if row is None or row["status"] not in (ConsentStatus.OPTED_IN, ConsentStatus.PENDING_CONFIRMATION):
            continue
        if row["captured_at"] is not None and row["captured_at"] >= given_before:
            continue
        await record(ctx, person, channel, ConsentStatus.UNKNOWN, ConsentSource.API)
        changed += 1
    return changed


async def carry(ctx: Context, source: PersonRef, target: PersonRef) -> None:
    """The target takes the source's consent on each channel where `merge_consent` of the two is
    the source's status and not the target's already: the source's row is copied, with its
    proof, source and capture time (its history entry names that source). So a lead's consents
    pass to the contact it becomes, and when leads merge the lead kept ends with the merged
    status (an opt-out of either wins; where both agree the kept lead's own row stays)."""
    for row in await ctx.consents.of(source.column, source.id):
        channel = ChannelType(row["channel"])
        theirs = ConsentStatus(row["status"])
        ours = await status_of(ctx, target, channel)
        if theirs == ours or merge_consent([theirs, ours]) != theirs:
            continue
        await _record(
            ctx,
            target,
            channel,
            theirs,
            ConsentSource(row["source"]),
            row["proof"],
            captured_at=row["captured_at"],
        )
