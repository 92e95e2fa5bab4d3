"""The customer 360 view: one customer (a contact, or an account with its contacts) in one answer,
from a fixed number of queries whatever its history's size (aggregates and short lists), made of
the sections the caller's scopes may read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from app.db.repositories.base import Row
from app.domain.customers import customer_view as sections
from app.domain.errors import NotFound
from app.domain.money import from_minor
from app.domain.pagination import Sort
from app.schemas.customers.relationships import AccountRead, ContactRead
from app.services.context import Context
from app.services.leads import timeline
from app.services.workspace import workspaces

RENEWAL_WINDOW = timedelta(days=90)


def _per_currency(rows: list[Row], column: str) -> dict[str, str]:
    return {r["currency"]: from_minor(int(r[column] or 0), r["currency"]) for r in rows if r[column]}


async def view(ctx: Context, kind: str, customer_id: UUID) -> dict[str, Any]:
    """`kind`: contact or account. Only the sections the caller's scopes may read are computed and
    returned; the others are named in `withheld` (`app/domain/customers/customer_view.py`). Every
    section is read from one snapshot: an order synced meanwhile is in all of them or none."""
    await ctx.uow.snapshot()
    owner = f"{kind}_id"
    repo = ctx.customer_view
    workspace = await workspaces.get(ctx)
    today = ctx.now.astimezone(ZoneInfo(workspace["timezone"])).date()
    shown = set(sections.visible_sections(kind, ctx.scopes))
    row: Mapping[str, Any]  # the contact, or the account
    facts: Mapping[str, Any]  # its order, loyalty and referral figures
    if kind == "contact":
        contact = await ctx.contacts.get(customer_id)
        if contact is None:
            raise NotFound("no contact with this id")
        profile = ContactRead.model_validate(contact).model_dump(mode="json")
        row = facts = contact
    else:
        account = await ctx.accounts.get(customer_id)
        if account is None:
            raise NotFound("no account with this id")
        profile = AccountRead.model_validate(account).model_dump(mode="json")
        row, facts = account, await repo.account_facts(customer_id)
    result: dict[str, Any] = {"kind": kind}
    withheld = [s for s in sections.SECTIONS if s not in shown]
    if "profile" in shown:
        result["profile"] = profile
    if "orders" in shown:
        currency = workspace["currency"]
        purchases = int(facts.get("orders_count") or 0)
        revenue = int(facts.get("revenue_minor") or 0)
        result["orders"] = {
            "count": purchases, "revenue": from_minor(revenue, currency),
            "refunded": from_minor(int(facts.get("refunded_minor") or 0), currency),
            "average_order_value": from_minor(revenue // purchases, currency) if purchases else None,
            "currency": currency, "customer_since": facts.get("customer_since"),
            "first_order_at": facts.get("first_order_at"), "last_order_at": facts.get("last_order_at"),
        }  # fmt: skip
    if "loyalty_points" in shown:
        result["loyalty_points"] = int(facts.get("loyalty_points") or 0)
    if "referrals" in shown:
        referred = await repo.referred(customer_id) if kind == "contact" else []
        result["referrals"] = {
            "count": int(facts.get("referrals_count") or 0),
            "referred_by_contact_id": row.get("referred_by_contact_id"),
            "recent": [{"id": str(r["id"]), "first_name": r["first_name"], "last_name": r["last_name"]}
                       for r in referred],
        }  # fmt: skip
    if "tickets" in shown:
        tickets = await repo.ticket_summary(owner, customer_id)
        average = tickets["satisfaction_average"]
        result["tickets"] = {
            "open": int(tickets["open"]), "total": int(tickets["total"]),
            "satisfaction_average": round(float(average), 2) if average is not None else None,
            "satisfaction_count": int(tickets["satisfaction_count"]),
            "recent_open": await repo.open_tickets(owner, customer_id),
        }  # fmt: skip
    if "contracts" in shown:
        contracts = await repo.contract_summary(owner, customer_id, today, today + RENEWAL_WINDOW)
        result["contracts"] = {
            "active": sum(int(r["active"]) for r in contracts),
            "active_value": _per_currency(contracts, "active_value_minor"),
            "ending_within_90_days": sum(int(r["ending_soon"]) for r in contracts),
            "renewals": await repo.renewals(owner, customer_id, today, today + RENEWAL_WINDOW),
        }
    if "quotes" in shown:
        quotes = await repo.quote_summary(owner, customer_id)
        result["quotes"] = {
            "open": sum(int(r["open"]) for r in quotes), "open_total": _per_currency(quotes, "total_minor"),
            "recent_open": await repo.open_quotes(owner, customer_id),
        }  # fmt: skip
    if "invoices" in shown:
        invoices = await repo.invoice_summary(owner, customer_id, today)
        result["invoices"] = {
            "unpaid": sum(int(r["unpaid"]) for r in invoices), "balance": _per_currency(invoices, "balance_minor"),
            "overdue": sum(int(r["overdue"]) for r in invoices),
            "recent_unpaid": await repo.unpaid_invoices(owner, customer_id),
        }  # fmt: skip
    if "value_added_deals" in shown:
        value_added = await repo.value_added(owner, customer_id)
        result["value_added_deals"] = {
            "count": sum(int(r["count"]) for r in value_added), "amount": _per_currency(value_added, "amount_minor"),
        }  # fmt: skip
    if "timeline" in shown:
        if kind == "contact":
            entries, _ = await timeline.page(ctx, "contact", customer_id, sort=Sort.parse("-occurred_at"),
                                             cursor=None, limit=10)  # fmt: skip
            withheld += [f"timeline.{k}" for k in timeline.withheld_kinds(ctx, "contact")]
        else:
            entries = []
        result["timeline"] = entries
    result["withheld"] = withheld
    return result
