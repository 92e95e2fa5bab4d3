"""A campaign's report: per variant and for the holdout, what was sent and what came of it
(messages' outcomes, conversions within the attribution window, revenue), each variant's uplift
against the holdout, the variants compared with each other, and cost per conversion and CAC.

Counting is by intention to treat: every recipient drawn to a variant counts in it, also one whose
message was blocked, so the arms stay the random groups the seed made and stay comparable with the
holdout. A recipient's window opens when their message went (else at their own due time, which is
the holdout's too) and lasts `attribution_days`; a conversion is the goal reached in it at least
once, revenue the orders placed in it (cancelled ones left out, refunds taken off), in the
reporting currency of the orders, exact in minor units."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from app.domain.campaigns import results
from app.domain.campaigns.sending import HOLDOUT
from app.domain.money import from_minor
from app.services.campaigns import campaigns
from app.services.context import Context
from app.services.customers import orders as order_service

WENT = ("sent", "delivered", "bounced", "unknown")


async def report(ctx: Context, campaign_id: UUID) -> dict[str, Any]:
    from app.domain.journeys import stats  # loads statsmodels: only when asked

    row = await campaigns.get(ctx, campaign_id)
    settings = await campaigns.requirements(ctx)
    repo = ctx.campaign_recipients
    names = [v["name"] for v in row["variants"]]
    arms: dict[str, dict[str, Any]] = {name: _empty(name) for name in [*names, HOLDOUT]}
    for arm, counts in (await repo.arms(campaign_id)).items():
        arms.setdefault(arm, _empty(arm))["failed"] += counts["failed"]
    for outcome in await repo.outcomes(campaign_id):
        figures = arms.setdefault(outcome["arm"], _empty(outcome["arm"]))
        status, count = outcome["status"], outcome["messages"]
        if status in WENT:
            figures["sent"] += count
        elif status == "failed":
            figures["failed"] += count
        elif status == "blocked":
            reason = outcome["block_reason"] or "unknown"
            figures["blocked"][reason] = figures["blocked"].get(reason, 0) + count
        else:
            figures["queued"] += count
        for key in ("delivered", "opened", "clicked", "replied", "unsubscribed", "complained"):
            figures[key] += outcome[key]
    currency = (await order_service.locale(ctx)).reporting
    if row.get("launched_at") is not None:
        await _conversions(ctx, row, arms)  # counts the recipients too
    for figures in arms.values():
        figures["blocked_total"] = sum(figures["blocked"].values())
        n = figures["recipients"]
        figures["conversion_rate"] = figures["conversions"] / n if n else None
        figures["revenue"] = {"amount": from_minor(figures.pop("revenue_minor"), currency), "currency": currency}
    holdout = arms[HOLDOUT]
    for name in names:
        figures = arms[name]
        lift = None
        if row["holdout_percent"] > 0:
            lift = results.uplift((figures["conversions"], figures["recipients"]),
                                  (holdout["conversions"], holdout["recipients"]))  # fmt: skip
        figures["uplift"] = _uplift(lift)
    comparison = None
    if len(names) > 1:
        split = stats.compare_variants(
            {name: (arms[name]["conversions"], arms[name]["recipients"]) for name in names},
            min_per_variant=settings["min_sample"],
        )
        comparison = {
            "method": "pooled two-proportion z-test, two-sided; Holm-adjusted with more than two variants",
            "control": names[0],
            "min_sample": settings["min_sample"],
            "comparisons": [
                {
                    "variant": c.variant.name,
                    "difference": c.difference,
                    "p_value": c.p_value,
                    "p_adjusted": c.p_adjusted,
                }
                for c in split.comparisons
            ],
            "winner": split.winner,
        }
    treated = [arms[name] for name in names]
    conversions = sum(a["conversions"] for a in treated)
    cost = campaigns.cost_of(row)
    new_customers = sum(a["new_customers"] for a in treated)
    per = results.per_conversion(row["cost_minor"], conversions)
    cac = results.per_conversion(row["cost_minor"], new_customers)
    return {
        "campaign_id": row["id"],
        "status": row["status"],
        "goal": row["goal"],
        "attribution_days": row["attribution_days"],
        "variants": [arms[name] for name in names],
        "holdout": holdout if row["holdout_percent"] > 0 else None,
        "comparison": comparison,
        "cost": cost,
        "conversions": conversions,
        "new_customers": new_customers,
        "cost_per_conversion": _money(per, row["cost_currency"]),
        "cac": _money(cac, row["cost_currency"]),
        "computed_at": ctx.now,
    }


def _empty(name: str) -> dict[str, Any]:
    return {
        "name": name, "recipients": 0, "queued": 0, "sent": 0, "delivered": 0, "failed": 0, "blocked": {},
        "opened": 0, "clicked": 0, "replied": 0, "unsubscribed": 0, "complained": 0, "conversions": 0,
        "new_customers": 0, "revenue_minor": 0,
    }  # fmt: skip


def _money(minor: int | None, currency: str | None) -> dict[str, str] | None:
    if minor is None or currency is None:
        return None
    return {"amount": from_minor(minor, currency), "currency": currency}


def _uplift(lift: results.Uplift | None) -> dict[str, Any] | None:
    if lift is None:
        return None
    return {
        "absolute": lift.absolute,
        "absolute_interval": list(lift.absolute_interval),
        "relative": lift.relative,
        "relative_interval": list(lift.relative_interval) if lift.relative_interval else None,
        "interval": "Wald, 95%",
    }


async def pilot_winner(ctx: Context, row: Mapping[str, Any]) -> str | None:
    """The pilot's winning variant: its recipients' conversions so far compared as the report
    compares the variants (None: no significant winner, or a single variant)."""
    from app.domain.journeys import stats

    names = [v["name"] for v in row["variants"]]
    if len(names) < 2 or not row.get("goal"):
        return None
    arms: dict[str, dict[str, Any]] = {name: _empty(name) for name in names}
    await _conversions(ctx, row, arms, pilot=True)
    counts = {name: (arms[name]["conversions"], arms[name]["recipients"]) for name in names}
    settings = await campaigns.requirements(ctx)
    winner: str | None = stats.compare_variants(counts, min_per_variant=settings["min_sample"]).winner
    return winner


async def acquired(ctx: Context, row: Mapping[str, Any]) -> list[UUID]:
    """The contacts a campaign acquired: its variants' recipients (not the holdout's) whose first
    order ever fell within their attribution window."""
    arms: dict[str, dict[str, Any]] = {}
    found: list[UUID] = []
    if row.get("launched_at") is not None:
        await _conversions(ctx, row, arms, acquired=found)
    return found


async def _conversions(
    ctx: Context,
    row: Mapping[str, Any],
    arms: dict[str, dict[str, Any]],
    *,
    pilot: bool | None = None,
    acquired: list[UUID] | None = None,
) -> None:
    """Each recipient's window; the goal reached in it, the orders placed in it, a first order.
    With `pilot`, only the pilot's recipients, each counted in `recipients` too."""
    repo = ctx.campaign_recipients
    window = timedelta(days=row["attribution_days"])
    kind = row["audience"]["type"]
    timings = await repo.timings(row["id"], pilot=pilot)
    for _, arm, _, _ in timings:  # recipients counted from the very rows their conversions are
        arms.setdefault(arm, _empty(arm))["recipients"] += 1
    if not timings:
        return
    opens: dict[UUID, tuple[str, datetime]] = {}
    for person, arm, sent_at, due in timings:
        start = sent_at or due or row["starts_at"]
        opens[person] = (arm, start)
    first = min(at for _, at in opens.values())
    last = max(at for _, at in opens.values()) + window
    occurrences: dict[str, list[datetime]] = defaultdict(list)  # person id (text): when the goal was reached
    goal = row["goal"] or {}
    contact_of: dict[UUID, UUID] = {}
    if kind == "leads":
        contact_of = await repo.lead_contacts(list(opens))
    else:
        contact_of = {p: p for p in opens}
    placed = await repo.orders_between(first, last)
    by_contact: dict[UUID, list[tuple[datetime, int]]] = defaultdict(list)
    for contact, at, net in placed:
        by_contact[contact].append((at, net))
    if goal.get("event") == "order.created":
        for person, contact in contact_of.items():
            occurrences[str(person)] = [at for at, _ in by_contact.get(contact, ())]
    elif goal.get("event") == "lead.qualified" and kind == "leads":
        for person, at in await repo.qualified_between(first, last):
            occurrences[str(person)].append(at)
    elif goal.get("engagement"):
        for person, at in await repo.engagements_between(kind, goal["engagement"], first, last):
            occurrences[str(person)].append(at)
    elif goal.get("event"):
        for resource, at in await repo.events_between(goal["event"], first, last):
            occurrences[resource].append(at)
    first_orders = await ctx.campaign_recipients.first_orders(list(set(contact_of.values()))) if contact_of else {}
    for person, (arm, start) in opens.items():
        figures = arms.setdefault(arm, _empty(arm))
        end = start + window
        if any(start <= at <= end for at in occurrences.get(str(person), ())):
            figures["conversions"] += 1
        bought = contact_of.get(person)
        if bought is not None:
            contact = bought
            figures["revenue_minor"] += sum(net for at, net in by_contact.get(contact, ()) if start <= at <= end)
            first_order = first_orders.get(contact)
            if first_order is not None and start <= first_order <= end:
                figures["new_customers"] += 1
                if acquired is not None and arm != HOLDOUT:
                    acquired.append(bought)
