"""Suppressions: addresses no message goes to, marketing or transactional, whoever has them. An
address is kept normalised (`address_key`) beside its keyed hash, which is what is looked up (and
what stays once the address itself is erased). SMS and WhatsApp are suppressed separately."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page
from app.domain.errors import InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.outreach.addresses import normalise_address
from app.domain.outreach.vocabulary import ChannelType, SuppressionReason
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.outreach.suppressions import SuppressionRead
from app.sealing import sealer
from app.services.context import Context
from app.services.events import events
from app.services.outreach import consents
from app.services.workspace import workspaces


def address_hash(channel: ChannelType, address_key: str) -> str:
    return sealer().keyed_digest(f"suppression:{ChannelType(channel).value}", address_key)


async def address_key_of(ctx: Context, channel: ChannelType, address: str) -> str:
    """The normalised address; a 422 naming `address` when it is no usable email or phone."""
    try:
        return normalise_address(channel, address, await workspaces.default_region(ctx))
    except ValueError as exc:
        raise InvalidInput.field("address", str(exc)) from exc


async def is_suppressed(ctx: Context, channel: ChannelType, address_key: str) -> bool:
    """Whether the address (an E.164 phone, or an email's key: it is case folded here, so a
    lower-cased address finds the entry too) is suppressed on this channel."""
    channel = ChannelType(channel)
    key = lookup_key(channel, address_key)
    return await ctx.suppressions.by_hash(channel.value, address_hash(channel, key)) is not None


class Erased:
    """Which of the addresses asked about at once an erasure suppressed (reason `erased`): a person
    new at one starts opted out on its channel (app/services/outreach/consents.py: start_erased)."""

    def __init__(self, found: set[tuple[str, str]]) -> None:
        self._found = found

    def channels(self, email_key: str | None, phone_e164: str | None) -> frozenset[ChannelType]:
        """The channels on which this person's email or phone was erased."""
        return frozenset(ChannelType(c) for c, h in _hashes(email_key, phone_e164) if (c, h) in self._found)


NONE_ERASED = Erased(set())


def _hashes(email_key: str | None, phone_e164: str | None) -> list[tuple[str, str]]:
    """(channel, keyed hash) of an email key and an E.164 phone, on each channel they reach."""
    pairs = []
    if email_key:
        pairs.append(
            (ChannelType.EMAIL.value, address_hash(ChannelType.EMAIL, lookup_key(ChannelType.EMAIL, email_key)))
        )
    if phone_e164:
        pairs += [
            (c.value, address_hash(c, lookup_key(c, phone_e164))) for c in (ChannelType.SMS, ChannelType.WHATSAPP)
        ]
    return pairs


async def erased(ctx: Context, addresses: Iterable[tuple[str | None, str | None]]) -> Erased:
    """Which of these (email key, E.164 phone) an erasure suppressed: one indexed lookup for all of
    them, none when there is no address."""
    pairs = sorted({pair for email_key, phone in addresses for pair in _hashes(email_key, phone)})
    if not pairs or not await any_erased(ctx):
        return NONE_ERASED
    return Erased(await ctx.suppressions.erased_among(pairs))


async def any_erased(ctx: Context) -> bool:
    """Whether the workspace has erased anyone (cached briefly, as the capture path's other reads:
    app/services/leads/lookups.py): a workspace that never did, as most, costs a capture no lookup.
    Once it has, it always will (the entries are kept), and the flag only turns on: a request for
    an erasure sets it at once in its process; other processes see it within the cache's
    seconds."""
    from app.services.leads import lookups

    async def load() -> bool:
        return await ctx.suppressions.any_erased()

    return await lookups.cached(("erased", ctx.workspace_id), load)


def erased_now(workspace_id: Any) -> None:
    """An erasure suppressed addresses in this workspace: captures look them up from now on. Set
    on (not forgotten): a capture reading the flag before the erasure commits would cache it off;
    should the request fail, the flag on costs a lookup until it expires."""
    from app.services.leads import lookups

    lookups.remember(("erased", workspace_id), True)


def lookup_key(channel: ChannelType, address_key: str) -> str:
    """An address key as suppressions are hashed by: stripped, an email's case folded."""
    key = address_key.strip()
    return key.casefold() if ChannelType(channel) == ChannelType.EMAIL else key


async def add(
    ctx: Context, channel: ChannelType, address: str, reason: SuppressionReason, *, message_id: UUID | None = None
) -> dict[str, Any]:
    """Suppress an address on a channel (normalised here); the entry that already suppresses it,
    unchanged, when there is one. `suppression.created` for a new entry."""
    row, _ = await create(ctx, channel, address, reason, message_id=message_id)
    return row


async def create(
    ctx: Context,
    channel: ChannelType,
    address: str,
    reason: SuppressionReason,
    *,
    note: str | None = None,
    message_id: UUID | None = None,
) -> tuple[dict[str, Any], bool]:
    """`add`, and whether the entry is new."""
    channel = ChannelType(channel)
    key = await address_key_of(ctx, channel, address)
    digest = address_hash(channel, key)
    repo = ctx.suppressions
    existing = await repo.by_hash(channel.value, digest)
    if existing is not None:
        return existing, False
    row = await repo.add(
        {
            "id": new_id(),
            "channel": channel.value,
            "address": key,
            "address_hash": digest,
            "reason": SuppressionReason(reason).value,
            "note": note,
            "message_id": message_id,
            "created_at": ctx.now,
            "created_by": str(ctx.actor),
        }
    )
    if row is None:  # a concurrent request suppressed it first
        concurrent = await repo.by_hash(channel.value, digest)
        if concurrent is None:
            raise RuntimeError("the suppression vanished while it was added")
        return concurrent, False
    await events.record(ctx, types.SUPPRESSION_CREATED, SuppressionRead.model_validate(row))
    return row, True


async def get(ctx: Context, suppression_id: UUID) -> dict[str, Any]:
    row = await ctx.suppressions.get(suppression_id)
    if row is None:
        raise NotFound("no suppression with this id")
    return row


async def list_suppressions(
    ctx: Context,
    *,
    sort: Sort,
    cursor: str | None,
    limit: int,
    channel: str | None,
    reason: str | None,
    address: str | None = None,
) -> Page:
    """Entries matching the filters; with `address`, that address's entries (`hashes_of`), found by
    their keyed hash: so an erased entry, which keeps no address, is found too."""
    hashes = await hashes_of(ctx, address, ChannelType(channel) if channel else None) if address is not None else None
    return await ctx.suppressions.list(
        sort=sort, cursor=cursor, limit=limit, channel=channel, reason=reason, address_hashes=hashes
    )


PHONE_CHANNELS = (ChannelType.SMS, ChannelType.WHATSAPP)


async def hashes_of(ctx: Context, address: str, channel: ChannelType | None) -> dict[str, str]:
    """{channel: the keyed hash an entry of `address` on it has}. On `channel` when given (a 422
    naming `address` when it is no usable address there); else an address that parses as an email
    is looked for on `email`, one that parses as a phone number (the workspace's default region for
    national numbers) on `sms` and `whatsapp`, each suppressed separately."""
    if channel is not None:
        key = await address_key_of(ctx, channel, address)
        return {channel.value: address_hash(channel, lookup_key(channel, key))}
    region = await workspaces.default_region(ctx)
    try:
        key = normalise_address(ChannelType.EMAIL, address, region)
        return {ChannelType.EMAIL.value: address_hash(ChannelType.EMAIL, lookup_key(ChannelType.EMAIL, key))}
    except ValueError:
        pass
    try:
        key = normalise_address(ChannelType.SMS, address, region)
    except ValueError as exc:
        raise InvalidInput.field("address", "neither an email address nor a phone number") from exc
    return {c.value: address_hash(c, key) for c in PHONE_CHANNELS}


async def delete(ctx: Context, suppression_id: UUID) -> None:
    """Lift a suppression (`suppression.deleted`). Messages may reach the address again, but the
    consent its people gave before it was suppressed is void (`unknown`): marketing reaches them
    again only once they opt in anew, with new proof."""
    row = await get(ctx, suppression_id)
    await ctx.suppressions.delete(suppression_id)
    if row["address"] is not None:  # an erased entry keeps no address: nobody is found by it
        await consents.reset_address(ctx, ChannelType(row["channel"]), row["address"], given_before=row["created_at"])
    await events.record(ctx, types.SUPPRESSION_DELETED, SuppressionRead.model_validate(row))
