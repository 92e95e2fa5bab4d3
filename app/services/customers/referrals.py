"""Referrals by customers: a contact introduces a person, who arrives as a lead naming them
(`referred_by_contact_id`) or is recorded as a contact naming them.

The referral converts when the referred person becomes a contact that names its referrer, which
happens once per person, whichever comes first:
- `qualification`: their lead is qualified (the new or linked contact takes the lead's referrer);
- `first_order`: their first purchase converts their open lead (app/services/customers/shop_customers.py);
- `contact`: a contact is created, imported or changed to name its referrer.
A contact that names a referrer keeps it (a later lead of the same person does not replace it),
and a contact never refers itself. The referrer's `referrals_count` counts its converted
referrals (kept in the same transaction; app/services/customers/relationships.py moves it when a referral is
corrected), and `contact.referral_converted` announces each one.

When the referred person first buys, the referrer may be rewarded with loyalty points
(`retention.referral_reward_points`): one `earn` entry with the reference
`referral:<referred contact id>`, recorded once by the ledger's reference rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from app.domain.customers.loyalty import EntryKind
from app.domain.events import events as types
from app.schemas.customers.loyalty import LoyaltyEntryCreate
from app.schemas.customers.relationships import ReferralConverted
from app.schemas.workspace.settings import RetentionSettings
from app.services.context import Context
from app.services.customers import loyalty
from app.services.events import events
from app.services.workspace import settings

ConvertedBy = Literal["qualification", "first_order", "contact"]


@dataclass(frozen=True)
class Referral:
    """A converting lead naming the customer who referred it."""

    lead_id: UUID
    referrer_id: UUID


def reward_reference(referred_contact_id: UUID) -> str:
    """The ledger reference of the reward for referring this person: one per referred person."""
    return f"referral:{referred_contact_id}"


async def converted(
    ctx: Context,
    referrer_id: UUID,
    contact_id: UUID,
    by: ConvertedBy,
    *,
    lead_id: UUID | None = None,
    order_id: UUID | None = None,
) -> None:
    payload = ReferralConverted(
        referrer_contact_id=referrer_id, referred_contact_id=contact_id, lead_id=lead_id, converted_by=by,
        order_id=order_id,
    )  # fmt: skip
    await events.record(ctx, types.CONTACT_REFERRAL_CONVERTED, payload, resource_id=referrer_id)


async def announce(
    ctx: Context,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    by: ConvertedBy,
    *,
    lead_id: UUID | None = None,
) -> None:
    """`contact.referral_converted` when a write made a contact name a referrer for the first time
    (`before`: the contact as it was, None for a new one). Correcting who referred a contact moves
    the counts and announces nothing: the person converted already."""
    referrer = after.get("referred_by_contact_id")
    if referrer is not None and (before or {}).get("referred_by_contact_id") is None:
        await converted(ctx, referrer, after["id"], by, lead_id=lead_id)


async def carried(ctx: Context, wanted: Mapping[UUID, Sequence[Referral]]) -> dict[UUID, Referral]:
    """{contact id: the referral (lead, referrer) it takes} from {contact id: the referrals of its
    converting leads, earliest first}: the earliest whose referrer is a contact of the workspace
    other than the contact itself."""
    referrers = {referral.referrer_id for referrals in wanted.values() for referral in referrals}
    existing = await ctx.contacts.existing(sorted(referrers, key=lambda i: i.int))
    chosen = {}
    for contact, referrals in wanted.items():
        usable = [referral for referral in referrals if referral.referrer_id in existing - {contact}]
        if usable:
            chosen[contact] = usable[0]
    return chosen


async def reward(ctx: Context, first_purchases: Mapping[UUID, UUID | None]) -> None:
    """Credit the referrer of each person making a first purchase ({referred contact: the order})
    when the workspace rewards referrals; once per referred person, whatever the retries. The
    referrers are read now, after this transaction wrote these contacts (their rows are locked
    until it commits): the referrer a contact names at its first purchase, carried or concurrent."""
    if not first_purchases:
        return
    values: dict[str, Any] = (await settings.get(ctx, "retention", RetentionSettings))["values"]
    points = values.get("referral_reward_points")
    if not points:
        return
    referrers = await ctx.contacts.referrers(list(first_purchases))
    for referred in sorted(referrers, key=lambda i: i.int):
        entry = LoyaltyEntryCreate(
            kind=EntryKind.EARN, points=points, reason="Referral reward: a person you referred made a first purchase",
            reference=reward_reference(referred), order_id=first_purchases[referred],
        )  # fmt: skip
        await loyalty.earn_once(ctx, referrers[referred], entry)
