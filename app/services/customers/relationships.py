"""Accounts, contacts and opportunities: each kind's rules, on top of app/services/customers/records.py."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.db.repositories.base import Page
from app.db.repositories.customers.rows import AccountRow, ContactRow, OpportunityRow
from app.domain.customers.opportunities import (
    CLOSED,
    DEFAULT_PROBABILITY,
    OpportunityStage,
    check_stage_change,
)
from app.domain.errors import ErrorList, InvalidInput
from app.domain.events import events as types
from app.domain.leads.contact import contact_details
from app.domain.money import to_minor
from app.domain.outreach.vocabulary import PersonRef
from app.schemas.customers.relationships import AccountRead, ContactRead, OpportunityRead
from app.schemas.workspace.settings import OpportunityReasons
from app.services.context import Context
from app.services.customers import records, referrals
from app.services.customers.records import Kind
from app.services.events import events
from app.services.leads import lookups
from app.services.outreach import consents, suppressions
from app.services.workspace import settings, workspaces


async def _account(ctx: Context, values: dict[str, Any], current: AccountRow | None) -> dict[str, Any]:
    errors = ErrorList()
    await records.check_links(ctx, values, errors)
    errors.raise_if_any()
    return {k: v for k, v in values.items() if not (current is not None and k == "tags" and v is None)}


async def _contact(ctx: Context, values: dict[str, Any], current: ContactRow | None) -> dict[str, Any]:
    if current is None:  # website capture now looks for returning customers here
        lookups.forget(("has-contacts", ctx.workspace_id))
    errors = ErrorList()
    await records.check_links(ctx, values, errors)
    prepared = {
        k: v for k, v in values.items() if not (current is not None and k in ("tags", "interests") and v is None)
    }
    if current is None or "email" in values or "phone" in values:
        merged = {**current, **values} if current is not None else dict(values)
        region = await workspaces.default_region(ctx)
        named = merged.get("first_name") or merged.get("last_name")
        email, phone = merged.get("email"), merged.get("phone")
        details = contact_details(email, phone, region, errors if (email or phone or not named) else ErrorList())
        prepared["email"] = details.email.address if details.email else None
        prepared["email_key"] = details.email.key if details.email else None
        prepared["phone"] = details.phone.raw if details.phone else None
        prepared["phone_e164"] = details.phone.e164 if details.phone else None
        prepared["phone_valid"] = details.phone.valid if details.phone else False
    if values.get("addresses") is not None:
        prepared["addresses"] = [dict(a) for a in values["addresses"]]
    if "referred_by_contact_id" in values:
        await _referral(ctx, values.get("referred_by_contact_id"), current, errors)
    errors.raise_if_any()
    return prepared


async def _referral(ctx: Context, referrer: UUID | None, current: ContactRow | None, errors: ErrorList) -> None:
    """Check the referrer and keep the referrers' `referrals_count` (same transaction)."""
    before = current["referred_by_contact_id"] if current is not None else None
    if referrer == before:
        return
    repo = ctx.contacts
    if referrer is not None:
        if current is not None and referrer == current["id"]:
            errors.add("referred_by_contact_id", "a contact cannot refer itself")
            return
        if referrer not in await repo.existing([referrer]):
            errors.add("referred_by_contact_id", "no contact with this id in the workspace")
            return
    if errors.errors:
        return
    if before is not None:
        await repo.add_referrals(before, -1)
    if referrer is not None:
        await repo.add_referrals(referrer, 1)


async def reasons(ctx: Context) -> dict[str, list[str]]:
    return dict((await settings.get(ctx, "opportunity-reasons", OpportunityReasons))["values"])


async def _opportunity(ctx: Context, values: dict[str, Any], current: OpportunityRow | None) -> dict[str, Any]:
    errors = ErrorList()
    await records.check_links(ctx, values, errors)
    prepared = dict(values)
    await records.money_field(ctx, "amount", values, current, prepared, errors)
    stored = current["stage"] if current is not None else None
    stage = OpportunityStage(prepared.get("stage") or stored or OpportunityStage.PROSPECTING)
    if current is not None and "stage" in values:
        allowed = await reasons(ctx)
        reason = values.get("close_reason")
        check_stage_change(OpportunityStage(current["stage"]), stage, reason, allowed["won"], allowed["lost"], errors)
    elif current is None and stage in CLOSED:
        allowed = await reasons(ctx)
        check_stage_change(OpportunityStage.PROSPECTING, stage, values.get("close_reason"), allowed["won"],
                           allowed["lost"], errors)  # fmt: skip
    errors.raise_if_any()
    if prepared.get("probability") is None and (current is None or "stage" in values):
        prepared["probability"] = DEFAULT_PROBABILITY[stage]
    elif prepared.get("probability") is None:
        prepared.pop("probability", None)
    if stage in CLOSED and (current is None or current["stage"] != stage):
        prepared["closed_at"] = ctx.now
    if stage not in CLOSED:
        prepared.pop("close_reason", None)
    return prepared


ACCOUNT = Kind("account", lambda repos: repos.accounts, AccountRead, _account)
CONTACT = Kind("contact", lambda repos: repos.contacts, ContactRead, _contact)
OPPORTUNITY = Kind("opportunity", lambda repos: repos.opportunities, OpportunityRead, _opportunity)


async def create_contact(
    ctx: Context, values: dict[str, Any], *, erased: suppressions.Erased | None = None
) -> ContactRow:
    """A contact (API, import); one naming its referrer is a converted referral. A new person at
    an address an erasure suppressed starts opted out on its channel (`erased`: an import's
    addresses, looked up together; else this contact's are looked up)."""
    row = await records.create(ctx, CONTACT, values)
    await referrals.announce(ctx, None, row, "contact")
    if erased is None:
        erased = await suppressions.erased(ctx, [(row["email_key"], row["phone_e164"])])
    channels = erased.channels(row["email_key"], row["phone_e164"])
    if channels:
        await consents.start_erased(ctx, PersonRef("contact", row["id"]), channels)
    return row


async def update_contact(ctx: Context, record_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> ContactRow:
    before, after = await records.update(ctx, CONTACT, record_id, changes, if_match=if_match)
    await referrals.announce(ctx, before, after, "contact")
    return after


async def create_opportunity(ctx: Context, values: dict[str, Any]) -> OpportunityRow:
    row = await records.create(ctx, OPPORTUNITY, values)
    await _closed_event(ctx, None, row)
    return row


async def update_opportunity(
    ctx: Context, record_id: UUID, changes: dict[str, Any], *, if_match: str | None
) -> OpportunityRow:
    before, after = await records.update(ctx, OPPORTUNITY, record_id, changes, if_match=if_match)
    await _closed_event(ctx, before, after)
    return after


async def _closed_event(ctx: Context, before: OpportunityRow | None, after: OpportunityRow) -> None:
    """`opportunity.won` / `opportunity.lost` when a deal closes (besides created/updated)."""
    if after["stage"] in CLOSED and (before is None or before["stage"] != after["stage"]):
        event = types.OPPORTUNITY_WON if after["stage"] == OpportunityStage.WON else types.OPPORTUNITY_LOST
        await events.record(ctx, event, OpportunityRead.model_validate(after))


SEGMENT_FILTERS = ("active", "has_orders", "tag", "interest", "last_order_after", "last_order_before", "rfm_segment",
                   "churn_level")  # fmt: skip
ANALYTICS_FILTERS = ("rfm_segment", "churn_level", "clv_min", "clv_max")


async def contact_filters(ctx: Context, filters: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(customer filters, equality filters) of the contacts list's query: `email` compared by its
    key, `revenue_min`/`revenue_max` (decimal strings in the reporting currency) in minor units."""
    filters = dict(filters)
    email = filters.pop("email", None)
    if email:
        filters["email_key"] = email.casefold()
    segment = {k: filters.pop(k) for k in SEGMENT_FILTERS if k in filters}
    amounts = {name: filters.pop(name, None) for name in ("revenue_min", "revenue_max", "clv_min", "clv_max")}
    currency = (await workspaces.get(ctx))["currency"] if any(v is not None for v in amounts.values()) else ""
    for name, value in amounts.items():
        if value is not None:
            try:
                segment[f"{name}_minor"] = to_minor(value, currency)
            except ValueError as exc:
                raise InvalidInput.field(name, str(exc), location="query") from exc
    if any(segment.get(k) is not None for k in ("rfm_segment", "churn_level", "clv_min_minor", "clv_max_minor")):
        snapshot = await ctx.analytics.latest()
        segment["snapshot_id"] = snapshot["id"] if snapshot is not None else None
    return segment, filters


async def list_contacts(ctx: Context, **filters: Any) -> Page[ContactRow]:
    paging = {k: filters.pop(k) for k in ("sort", "cursor", "limit", "archived") if k in filters}
    segment, equal = await contact_filters(ctx, filters)
    return await ctx.contacts.list_contacts(now=ctx.now, segment=segment, **paging, **equal)
