"""Customers: contacts as the shops know them, and the order facts kept current on them.

- `resolve`: a batch of shop customers → contacts, matched by (source, external id), then email,
  then phone; created when nothing matches. One query per kind of key per batch.
- `refresh_facts`: recompute the order facts of the contacts a change touched (one aggregate
  query), write the ones that moved (one statement), convert matching open leads and announce a
  contact's first purchase (`customer.converted`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from app.db.unit_of_work import UnitOfWork
from app.domain.customers.orders import (
    PURCHASES,
    Facts,
    OrderGroup,
    acquisition_channel,
    active_until,
    advance,
    customer_facts,
)
from app.domain.errors import DomainError, ErrorList, InvalidInput
from app.domain.events import events as types
from app.domain.leads import sla
from app.domain.leads.contact import contact_details
from app.domain.leads.lifecycle import LeadStatus
from app.domain.outreach.vocabulary import PersonRef
from app.ids import new_id, sorted_ids
from app.schemas.common import invalid_input
from app.schemas.customers.orders import CustomerConverted, CustomerSync
from app.schemas.customers.relationships import ContactRead
from app.schemas.leads.leads import LeadRead
from app.schemas.workspace.settings import CustomerSettings
from app.services.batches import item_error
from app.services.context import Context
from app.services.customers import referrals
from app.services.customers.referrals import Referral
from app.services.events import events
from app.services.leads import lookups
from app.services.outreach import consents, suppressions
from app.services.workspace import settings, workspaces


async def customer_settings(ctx: Context) -> dict[str, Any]:
    async def load() -> dict[str, Any]:
        return dict((await settings.get(ctx, "customers", CustomerSettings))["values"])

    return await lookups.cached(("customer-settings", ctx.workspace_id), load)


@dataclass
class Wanted:
    """One shop customer to find or create."""

    source: str
    external_id: str | None
    email: str | None
    email_key: str | None
    phone: str | None
    phone_e164: str | None
    phone_valid: bool
    first_name: str | None
    last_name: str | None
    country: str | None
    province: str | None
    city: str | None


def wanted(source: str, customer: dict[str, Any], region: str | None, *, strict: bool) -> Wanted | None:
    """The customer's normalised identity; None when nothing identifies them. `strict`: an invalid
    email is an error (customer sync) rather than ignored (an order is never lost over it)."""
    errors = ErrorList()
    email, phone = customer.get("email"), customer.get("phone")
    details = contact_details(email, phone, region, errors) if (email or phone) else None
    if strict and details is not None:
        bad = [e for e in errors.errors if e.field == "email" and email]
        if bad:
            raise InvalidInput("; ".join(e.message for e in bad), errors=bad)
    parsed_email = details.email if details else None
    parsed_phone = details.phone if details else None
    addresses = customer.get("addresses") or []
    address = next((a for a in addresses if a.get("type") == "billing"), addresses[0] if addresses else {})
    found = Wanted(
        source=source,
        external_id=customer.get("external_id"),
        email=parsed_email.address if parsed_email else None,
        email_key=parsed_email.key if parsed_email else None,
        phone=parsed_phone.raw if parsed_phone else None,
        phone_e164=parsed_phone.e164 if parsed_phone else None,
        phone_valid=parsed_phone.valid if parsed_phone else False,
        first_name=customer.get("first_name"),
        last_name=customer.get("last_name"),
        country=address.get("country"),
        province=address.get("province"),
        city=address.get("city"),
    )
    if not (found.external_id or found.email_key or found.phone_e164):
        return None
    return found


@dataclass
class Resolved:
    contact_ids: list[UUID | None]
    created: set[UUID]
    linked: set[UUID]  # existing contacts that gained a shop identity


def known(source: str, external_id: str) -> Wanted:
    """A shop customer already known by its id: nothing else needs reading (or validating)."""
    return Wanted(source, external_id, None, None, None, None, False, None, None, None, None, None)


async def shop_customers(
    ctx: Context, customers: list[tuple[str, dict[str, Any] | None]]
) -> tuple[list[Wanted | None], dict[tuple[str, str], UUID]]:
    """Order sync's customers as `resolve` takes them: those known by their shop id are not
    normalised again (email validation is the costly part of a sync)."""
    keys = [(source, c["external_id"]) for source, c in customers if c and c.get("external_id")]
    by_identity = await ctx.customers.by_identities(keys) if keys else {}
    region = await workspaces.default_region(ctx) if len(by_identity) < len(customers) else None
    wanted_: list[Wanted | None] = []
    for source, c in customers:
        if not c:
            wanted_.append(None)
        elif c.get("external_id") and (source, c["external_id"]) in by_identity:
            wanted_.append(known(source, c["external_id"]))
        else:
            wanted_.append(wanted(source, c, region, strict=False))
    return wanted_, by_identity


async def resolve(
    ctx: Context,
    items: list[Wanted | None],
    by_identity: dict[tuple[str, str], UUID] | None = None,
    *,
    announced: bool = False,
) -> Resolved:
    """Contacts for shop customers: by (source, external id), then email, then phone, else new.
    Customers repeated in the batch resolve to one contact. `announced`: also record their
    `customer.created` events (as `announce` does afterwards)."""
    repo = ctx.customers
    keys = [(w.source, w.external_id) for w in items if w is not None and w.external_id]
    if by_identity is None:
        by_identity = await repo.by_identities(keys)
    else:
        by_identity = dict(by_identity)
    emails = [w.email_key for w in items if w is not None and w.email_key]
    phones = [w.phone_e164 for w in items if w is not None and w.phone_e164]
    by_email = await repo.by_column("email_key", emails) if emails else {}
    by_phone = await repo.by_column("phone_e164", phones) if phones else {}
    contact_ids: list[UUID | None] = []
    created: dict[UUID, dict[str, Any]] = {}
    links: dict[tuple[str, str], UUID] = {}
    linked: set[UUID] = set()
    audit = ctx.audit_new()
    for w in items:
        if w is None:
            contact_ids.append(None)
            continue
        key = (w.source, w.external_id) if w.external_id else None
        found = by_identity.get(key) if key else None
        if found is None and w.email_key:
            found = by_email.get(w.email_key)
        if found is None and w.phone_e164:
            found = by_phone.get(w.phone_e164)
        if found is None:
            found = new_id()
            created[found] = {
                "id": found,
                "first_name": w.first_name,
                "last_name": w.last_name,
                "email": w.email,
                "email_key": w.email_key,
                "phone": w.phone,
                "phone_e164": w.phone_e164,
                "phone_valid": w.phone_valid,
                "country": w.country,
                "province": w.province,
                "city": w.city,
                "tags": [],
                "interests": [],
                "orders_count": 0,
                "revenue_minor": 0,
                "refunded_minor": 0,
                "unconverted_orders": 0,
                "revenue_by_currency": {},
                **audit,
            }
        if key and key not in by_identity:
            links[key] = found
            by_identity[key] = found
            if found not in created:
                linked.add(found)
        if w.email_key:
            by_email.setdefault(w.email_key, found)
        if w.phone_e164:
            by_phone.setdefault(w.phone_e164, found)
        contact_ids.append(found)
    if created:
        await repo.insert_many(sorted(created.values(), key=lambda r: r["id"].int))
        lookups.forget(("has-contacts", ctx.workspace_id))  # website capture now looks for returning customers
    resolved = Resolved(contact_ids, set(created), linked)
    # The events are read and rendered before the shop ids are recorded: concurrent syncs of the
    # same new customers wait on that insert until this transaction commits, so nothing that can
    # be done before it is done after it.
    rendered = await _rendered(ctx, sorted_ids(resolved.created | resolved.linked)) if announced else {}
    await record_identities(ctx, resolved, links)
    await drop_unused(ctx, resolved)
    _record_created(ctx, resolved, rendered)
    await _erased_start_opted_out(ctx, [created[c] for c in sorted_ids(resolved.created)])
    return resolved


async def _erased_start_opted_out(ctx: Context, rows: list[dict[str, Any]]) -> None:
    """New contacts at an address an erasure suppressed start opted out on its channel (one
    lookup for the batch): a shop's customer data is no new consent."""
    if not rows:
        return
    erased = await suppressions.erased(ctx, [(r["email_key"], r["phone_e164"]) for r in rows])
    for row in rows:
        channels = erased.channels(row["email_key"], row["phone_e164"])
        if channels:
            await consents.start_erased(ctx, PersonRef("contact", row["id"]), channels)


async def resolve_ahead(ctx: Context, items: list[Wanted | None], by_identity: dict[tuple[str, str], UUID]) -> Resolved:
    """`resolve` for order sync. On PostgreSQL the shop customers a batch finds new are created and
    recorded in a short transaction of their own, committed before the batch goes on: concurrent
    batches sharing new customers then wait for each other only for that moment, not for a whole
    batch (the identity insert was where concurrent first-pass batches queued). A batch
    that fails afterwards leaves those customers recorded, as `POST /v1/customers/batch` would
    have. SQLite serialises writers: there it is part of the request's transaction, and so it is
    when the pool has no connection free at once (waiting for a second connection while holding
    one could leave every pooled connection held by a batch waiting for another)."""
    if ctx.uow.database.is_sqlite or not any(
        w is not None and not (w.external_id and (w.source, w.external_id) in by_identity) for w in items
    ):
        return await resolve(ctx, items, by_identity, announced=True)
    # These customers are announced like a customers batch's would be (the caller's quiet types
    # stay with the caller), whichever transaction they are created in; the caller's scopes and
    # origin come along.
    async with UnitOfWork.if_free(ctx.uow.database) as side:
        if side is None:
            return await resolve(replace(ctx, quiet=frozenset()), items, by_identity, announced=True)
        resolved = await resolve(replace(ctx.derive(side), quiet=frozenset()), items, by_identity, announced=True)
        await side.commit()
    return resolved


async def record_identities(ctx: Context, resolved: Resolved, links: dict[tuple[str, str], UUID]) -> None:
    """Record the shop ids `resolve` found new. One that a concurrent sync recorded first is
    theirs: our contact for it becomes theirs in `resolved`."""
    repo = ctx.customers
    recorded = await repo.link([{"source": s, "external_id": e, "contact_id": c, "created_at": ctx.now}
                                for (s, e), c in links.items()])  # fmt: skip
    lost = [key for key in links if key not in recorded]
    if not lost:
        return
    winners = await repo.by_identities(lost)
    remap = {links[key]: winners[key] for key in lost if key in winners}
    resolved.contact_ids = [remap.get(c, c) if c is not None else None for c in resolved.contact_ids]
    resolved.linked -= set(remap)


async def drop_unused(ctx: Context, resolved: Resolved) -> None:
    """Delete the contacts this request created and no longer needs (see record_identities)."""
    unused = resolved.created - {c for c in resolved.contact_ids if c is not None}
    if unused:
        await ctx.customers.delete_new(sorted_ids(unused))
        resolved.created -= unused


async def announce(ctx: Context, resolved: Resolved) -> None:
    """`customer.created` for each contact a shop made known: new, or newly linked to a shop id."""
    _record_created(ctx, resolved, await _rendered(ctx, sorted_ids(resolved.created | resolved.linked)))


def _record_created(ctx: Context, resolved: Resolved, rendered: dict[UUID, dict[str, Any]]) -> None:
    """The events of the contacts still created or linked, as `_rendered` made them."""
    for contact_id in sorted_ids((resolved.created | resolved.linked) & rendered.keys()):
        events.record_data(ctx, types.CUSTOMER_CREATED, rendered[contact_id])


async def _rendered(ctx: Context, contact_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """These contacts as `customer.created` carries them."""
    if not contact_ids or types.CUSTOMER_CREATED in ctx.quiet:
        return {}
    rows = await ctx.customers.rows(contact_ids)
    return {cid: ContactRead.model_validate(rows[cid]).model_dump(mode="json") for cid in contact_ids}


async def batch_upsert(ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`POST /v1/customers/batch`: per-item results; a shop's names and address fill a matched
    contact's empty fields (what people typed in the CRM is kept)."""
    region = await workspaces.default_region(ctx)
    results: list[dict[str, Any]] = [{} for _ in items]
    valid: list[tuple[int, Wanted]] = []
    for index, item in enumerate(items):
        try:
            customer = CustomerSync.model_validate(item).model_dump()
            found = wanted(customer["source"], customer, region, strict=True)
            if found is None:
                raise InvalidInput.field("external_id", "give the shop's customer id, an email or a phone")
            valid.append((index, found))
        except ValidationError as exc:
            results[index] = item_error(index, invalid_input(exc))
        except DomainError as exc:
            results[index] = item_error(index, exc)
    resolved = await resolve(ctx, [w for _, w in valid])
    repo = ctx.customers
    existing = await repo.rows([c for c in resolved.contact_ids if c is not None and c not in resolved.created])
    changes: dict[UUID, dict[str, Any]] = {}
    for (index, w), contact_id in zip(valid, resolved.contact_ids, strict=True):
        assert contact_id is not None
        status = "created" if contact_id in resolved.created else "unchanged"
        row = existing.get(contact_id)
        if row is not None:
            fill: dict[str, str | bool | None] = {
                column: value
                for column, value in (
                    ("first_name", w.first_name),
                    ("last_name", w.last_name),
                    ("country", w.country),
                    ("province", w.province),
                    ("city", w.city),
                )
                if value and not row.get(column) and not changes.get(contact_id, {}).get(column)
            }
            if not row.get("email_key") and w.email_key:
                fill.update(email=w.email, email_key=w.email_key)
            if not row.get("phone_e164") and w.phone_e164:
                fill.update(phone=w.phone, phone_e164=w.phone_e164, phone_valid=w.phone_valid)
            if fill:
                changes.setdefault(contact_id, {}).update(fill)
                status = "updated"
        if contact_id in resolved.linked and status == "unchanged":
            status = "updated"  # now known to this shop
        results[index] = {"index": index, "status": status, "id": contact_id}
    for contact_id, fill in sorted(changes.items()):
        before = existing[contact_id]
        updated = await ctx.contacts.update(contact_id, before["version"], {**fill, **ctx.audit_change()})
        if updated is not None:
            existing[contact_id] = updated
            await events.record(
                ctx,
                types.CONTACT_UPDATED,
                ContactRead.model_validate(updated),
                previous=ContactRead.model_validate(before),
            )
    await announce(ctx, resolved)
    return results


def _group(row: dict[str, Any]) -> OrderGroup:
    return OrderGroup(
        currency=row["currency"],
        converted=bool(row["converted"]),
        purchases=int(row["purchases"] or 0),
        first_at=row["first_at"],
        last_at=row["last_at"],
        total_minor=int(row["total_minor"] or 0),
        refunded_minor=int(row["refunded_minor"] or 0),
        reporting_total_minor=int(row["reporting_total_minor"] or 0),
        reporting_refunded_minor=int(row["reporting_refunded_minor"] or 0),
        reporting_purchase_total_minor=int(row["reporting_purchase_total_minor"] or 0),
    )


def _as_datetime(value: Any) -> datetime | None:
    """Aggregates of datetimes come back as text on SQLite."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _stored_facts(row: dict[str, Any]) -> Facts:
    return Facts(
        orders_count=row["orders_count"],
        first_order_at=row["first_order_at"],
        last_order_at=row["last_order_at"],
        revenue_minor=row["revenue_minor"],
        refunded_minor=row["refunded_minor"],
        average_order_value_minor=row["average_order_value_minor"],
        revenue_by_currency=dict(row["revenue_by_currency"] or {}),
        unconverted_orders=row["unconverted_orders"],
    )


def _first_purchase(orders: list[dict[str, Any]]) -> dict[str, Any] | None:
    purchases = [o for o in orders if o["status"] in PURCHASES]
    return min(purchases, key=lambda o: (o["placed_at"], o["id"])) if purchases else None


# What refresh_facts reads of a contact (a batch touches ~1,000: whole rows were a tenth of an order
# sync's API CPU): its stored facts, what acquisition and lead conversion look at (the referrer
# only to skip carrying one to a contact that names one: it is never written back from here).
FACT_INPUTS = (
    "orders_count", "first_order_at", "last_order_at", "revenue_minor", "refunded_minor", "average_order_value_minor",
    "revenue_by_currency", "unconverted_orders", "reporting_currency", "active_until", "customer_since",
    "acquired_at", "acquisition_channel", "lead_id", "email_key", "phone_e164", "referred_by_contact_id",
)  # fmt: skip


async def refresh_facts(
    ctx: Context, contact_ids: set[UUID], *, added: dict[UUID, list[dict[str, Any]]] | None = None
) -> None:
    """Recompute these contacts' order facts; write and announce only what moved. `added`: the
    only change is these new orders per contact (order sync creating orders), so the stored
    facts are brought forward with them instead of re-reading every order of every contact."""
    ids = sorted_ids(c for c in contact_ids if c is not None)
    if not ids:
        return
    orders = ctx.orders
    repo = ctx.customers
    current = await repo.rows(ids, FACT_INPUTS)
    reporting = (await workspaces.get(ctx))["currency"]
    window = (await customer_settings(ctx))["active_window_days"]
    if (
        added is not None
        and current
        and all(row["reporting_currency"] in (None, reporting) for row in current.values())
    ):
        facts = {cid: advance(_stored_facts(current[cid]), added.get(cid, ())) for cid in ids}
        firsts = {cid: first for cid in ids if (first := _first_purchase(added.get(cid, []))) is not None}
    else:
        await ctx.uow.plan_each_statement()  # reads every order of these contacts: plan for today's sizes
        grouped: dict[UUID, list[OrderGroup]] = {}
        for row in await orders.fact_groups(ids):
            row["first_at"], row["last_at"] = _as_datetime(row["first_at"]), _as_datetime(row["last_at"])
            grouped.setdefault(row["contact_id"], []).append(_group(row))
        facts = {cid: customer_facts(grouped.get(cid, [])) for cid in ids}
        needs_first = [cid for cid in ids if facts[cid].orders_count and (
            current[cid]["acquisition_channel"] is None or current[cid]["customer_since"] is None)]  # fmt: skip
        firsts = await orders.first_purchases(needs_first) if needs_first else {}
    converting = {cid for cid in ids if facts[cid].orders_count and current[cid]["customer_since"] is None}
    needs_first = [cid for cid in ids if cid in firsts and (
        current[cid]["acquisition_channel"] is None or cid in converting)]  # fmt: skip
    converted_leads, referred = await _convert_leads(ctx, [current[c] for c in sorted_ids(converting)])
    # A converted lead naming the customer who referred it: the referral converts with it.
    carried = await referrals.carried(ctx, referred) if referred else {}
    lead_ids = [current[c]["lead_id"] or converted_leads.get(c) for c in needs_first]
    leads = await repo.leads([lead_id for lead_id in lead_ids if lead_id is not None])
    updates: list[dict[str, Any]] = []
    converted_events: list[CustomerConverted] = []
    audit = ctx.audit_change()
    for cid in ids:
        row, f = current[cid], facts[cid]
        lead_id = row["lead_id"] or converted_leads.get(cid)
        lead = leads.get(lead_id) if lead_id else None
        first = firsts.get(cid)
        values: dict[str, Any] = {
            "orders_count": f.orders_count,
            "first_order_at": f.first_order_at,
            "last_order_at": f.last_order_at,
            "revenue_minor": f.revenue_minor,
            "refunded_minor": f.refunded_minor,
            "average_order_value_minor": f.average_order_value_minor,
            "revenue_by_currency": f.revenue_by_currency,
            "unconverted_orders": f.unconverted_orders,
            "reporting_currency": reporting,
            "active_until": active_until(f.last_order_at, window),
            "customer_since": row["customer_since"] or f.first_order_at,
            "acquired_at": row["acquired_at"],
            "acquisition_channel": row["acquisition_channel"],
            "lead_id": lead_id,
        }
        if values["acquisition_channel"] is None and (lead is not None or first is not None):
            values["acquisition_channel"] = acquisition_channel(
                lead["utm_source"] if lead else None,
                lead["source"] if lead else None,
                first["source"] if first else None,
            )
        if values["acquired_at"] is None and (lead is not None or first is not None):
            values["acquired_at"] = lead["created_at"] if lead else first["placed_at"] if first else None
        if all(row[k] == v for k, v in values.items()):
            continue
        updates.append({"_id": cid, **values, **audit})
        if cid in converting and first is not None:
            converted_events.append(
                CustomerConverted(
                    contact_id=cid,
                    lead_id=lead_id,
                    opportunity_id=lead["opportunity_id"] if lead else None,
                    order_id=first["id"],
                    converted_at=first["placed_at"],
                    acquisition_channel=values["acquisition_channel"],
                )
            )
    await repo.update_many(updates)
    for payload in converted_events:
        await events.record(ctx, types.CUSTOMER_CONVERTED, payload, resource_id=payload.contact_id)
    # The referrer is never written back from what was read above (a concurrent qualification,
    # correction or carry may have moved it since): a contact takes the converted lead's referrer
    # only if it still names none, and only a contact that took it counts and announces it.
    contacts = ctx.contacts
    taken = await contacts.take_referrers({cid: referral.referrer_id for cid, referral in carried.items()}, audit)
    for cid in sorted_ids(taken):
        referral = carried[cid]
        await contacts.add_referrals(referral.referrer_id, 1)
        first = firsts.get(cid)
        await referrals.converted(ctx, referral.referrer_id, cid, "first_order", lead_id=referral.lead_id,
                                  order_id=first["id"] if first else None)  # fmt: skip
    # A referred person's first purchase: their referrer's reward, when the workspace gives one.
    await referrals.reward(ctx, {cid: firsts[cid]["id"] if cid in firsts else None for cid in sorted_ids(converting)})


async def _convert_leads(
    ctx: Context, contacts: list[dict[str, Any]]
) -> tuple[dict[UUID, UUID], dict[UUID, list[Referral]]]:
    """A contact's first purchase converts an open lead with the same email or phone (status
    qualified, linked to the contact): ({contact id: lead id} for contacts without a lead yet,
    {contact id: the referrals of its converted leads naming a referrer, earliest first} for
    contacts naming none)."""
    emails = [c["email_key"] for c in contacts if c["email_key"]]
    phones = [c["phone_e164"] for c in contacts if c["phone_e164"]]
    if not (emails or phones):
        return {}, {}
    leads = await ctx.customers.open_leads(emails, phones)
    if not leads:
        return {}, {}
    by_email = {c["email_key"]: c for c in contacts if c["email_key"]}
    by_phone = {c["phone_e164"]: c for c in contacts if c["phone_e164"]}
    originating: dict[UUID, UUID] = {}
    referred: dict[UUID, list[Referral]] = {}
    repo = ctx.leads
    for lead in sorted(leads, key=lambda r: (r["created_at"], r["id"])):
        contact = by_email.get(lead["email_key"]) or by_phone.get(lead["phone_e164"])
        if contact is None:
            continue
        changes: dict[str, Any] = {
            "status": LeadStatus.QUALIFIED.value,
            "qualified_at": ctx.now,
            "contact_id": contact["id"],
            **sla.closed(lead["sla_status"]),
            **ctx.audit_change(),
        }
        updated = await repo.update(lead["id"], lead["version"], changes)
        if updated is None:
            continue
        if contact["lead_id"] is None:
            originating.setdefault(contact["id"], lead["id"])
        referrer = lead["referred_by_contact_id"]
        if contact["referred_by_contact_id"] is None and referrer is not None:
            referred.setdefault(contact["id"], []).append(Referral(lead["id"], referrer))
        await events.record(
            ctx, types.LEAD_QUALIFIED, LeadRead.model_validate(updated), previous=LeadRead.model_validate(lead)
        )
    return originating, referred


async def refresh_activity(ctx: Context, values: dict[str, Any]) -> None:
    """The active window changed: every customer's `active_until` moves with it."""
    lookups.forget(("customer-settings", ctx.workspace_id))
    repo = ctx.customers
    rows = await repo.with_orders()
    updates = []
    for row in rows:
        until = active_until(row["last_order_at"], values["active_window_days"])
        if until != row["active_until"]:
            updates.append({"_id": row["id"], "active_until": until, **ctx.audit_change()})
    await repo.update_many(updates)


settings.AFTER_CHANGE["customers"] = refresh_activity
