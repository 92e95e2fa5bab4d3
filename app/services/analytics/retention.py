"""Retention analytics on top of the CLV snapshot: RFM segments, churn risk and its alerts, the
expected next purchase, cross-sell recommendations, advocacy, cohorts and CLV:CAC. The refresh job
(app/services/analytics/analytics.py) gathers what they read beside the orders (`gather`), computes
them with the CLV values in its worker thread (`compute` in app/domain/analytics/retention.py) and,
once the snapshot is ready, compares it with the previous one (segment moves; none against a
workspace's first snapshot) and raises churn alerts: for every customer at high risk or overdue
against their own rhythm, without an open alert and outside the cooldown; after an alert that
ended churned, only once they have bought again. A first snapshot announces at most its cap."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np

from app.db.repositories.base import Page
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.analytics import retention
from app.domain.errors import InvalidInput
from app.domain.events import events as types
from app.domain.money import estimate_text, from_minor
from app.domain.pagination import BadCursor, Sort, decode_cursor, encode_cursor
from app.domain.reports.periods import ReportCalendar, month_shares
from app.domain.workspace.workspaces import currency_exponent
from app.ids import new_id
from app.schemas.analytics.analytics import ChurnAlertRead, SegmentChange
from app.schemas.workspace.settings import CustomerSettings, InterestCategories, RetentionSettings
from app.services.context import Context
from app.services.events import events
from app.services.leads import tasks
from app.services.workspace import settings

CONTRACT_LAPSE = timedelta(days=90)  # a contract that ended this recently without renewal still speaks


async def gather(
    database: Database,
    ctx: Context,
    as_of: date,
    values: Mapping[str, Any],
    zone: ZoneInfo,
    calendar: ReportCalendar | None = None,
) -> retention.RetentionInputs:
    async with UnitOfWork(database, write=not database.is_sqlite) as uow:
        reader = ctx.derive(uow)
        repo = reader.analytics
        contract_rows = await repo.contracts(as_of, as_of - CONTRACT_LAPSE)
        contracts: dict[UUID, tuple[date | None, float]] = {}
        for row in contract_rows:
            end = row["end_on"]
            risk = retention.contract_risk(
                row["renewal_status"], None if end is None else float((end - as_of).days), bool(row["auto_renew"])
            )
            current = contracts.get(row["contact_id"])
            # The contract that runs longest speaks for the customer (no end date: the longest).
            if current is None or (current[0] is not None and (end is None or end > current[0])):
                contracts[row["contact_id"]] = (end, risk)
        mapping = (await settings.get(reader, "interest-categories", InterestCategories))["values"]["mappings"]
        window = (await settings.get(reader, "customers", CustomerSettings))["values"]["active_window_days"]
        period = timedelta(days=retention.ENGAGEMENT_PERIOD_DAYS)
        until = datetime.combine(as_of + timedelta(days=1), time(), zone)  # the end of the day, locally
        return retention.RetentionInputs(
            engagements=await repo.engagement_facts(until - 2 * period, until - period, until),
            tickets=await repo.ticket_facts(),
            invoices=await repo.overdue_invoices(as_of),
            contracts={contact: risk for contact, (_, risk) in contracts.items()},
            value_added={k: int(v["value_added_deals"]) for k, v in (await repo.value_added_deals()).items()},
            converted={k: int(v["referrals_converted"]) for k, v in (await repo.converted_referrals()).items()},
            rewards=await reader.loyalty.lifetime_totals(),
            bought=await repo.categories_bought(as_of),
            categories=await repo.category_counts(as_of),
            cohorts=await repo.cohort_rows(as_of, calendar),
            interests=mapping,
            thresholds=(values["churn_medium_threshold"], values["churn_high_threshold"]),
            active_window_days=int(window),
            overdue_tolerance=values["churn_overdue_tolerance"],
            zone=zone,
            calendar=calendar or ReportCalendar(),
        )


# -- after the snapshot is ready: movement, alerts, outcomes ------------------------------------------


async def compare(
    ctx: Context,
    snapshot: Mapping[str, Any],
    previous_id: UUID | None,
    summaries: retention.CustomerRows,
    columns: Mapping[str, Sequence[Any]],
    overdue: Sequence[bool],
) -> dict[str, Any]:
    """Against the previous snapshot: segment moves (none without one). Then the outcome of open
    alerts, and the new alerts. Returns what the snapshot's insights gain: `rfm` movement (with a
    previous snapshot) and the `alerts` summary."""
    repo = ctx.analytics
    as_of: date = snapshot["as_of"]
    index = {contact: i for i, contact in enumerate(summaries.contact_ids)}
    await _resolve_alerts(ctx, summaries, index, as_of)
    gained: dict[str, Any] = {}
    previous = await repo.get(previous_id) if previous_id is not None else None
    if previous_id is not None:
        gained["rfm"] = await _segment_moves(ctx, snapshot, previous_id, index, columns)
    # A first snapshot: the workspace's first, or its first since alerts follow these rules (an
    # earlier one has no alert summary), so the customers already at risk are not announced at once.
    first = previous is None or "alerts" not in (previous["insights"] or {})
    gained["alerts"] = await _raise_alerts(ctx, snapshot, summaries, index, columns, overdue, first_snapshot=first)
    return gained


async def _segment_moves(
    ctx: Context,
    snapshot: Mapping[str, Any],
    previous_id: UUID,
    index: Mapping[UUID, int],
    columns: Mapping[str, Sequence[Any]],
) -> dict[str, Any]:
    before = await ctx.analytics.previous_values(previous_id)
    movement: Counter[tuple[str | None, str]] = Counter()
    for contact, i in index.items():
        segment = columns["rfm_segment"][i]
        previous = before.get(contact)
        movement[(previous[0] if previous else None, segment)] += 1
        if previous is not None and previous[0] is not None and previous[0] != segment:
            await events.record(ctx, types.CUSTOMER_SEGMENT_CHANGED, SegmentChange(
                contact_id=contact, snapshot_id=snapshot["id"], as_of=snapshot["as_of"], previous_segment=previous[0],
                segment=segment, recency_score=columns["recency_score"][i],
                frequency_score=columns["frequency_score"][i], monetary_score=columns["monetary_score"][i],
            ), resource_id=contact)  # fmt: skip
    return {
        "previous_snapshot_id": str(previous_id),
        "moves": [
            {"from": source, "to": target, "customers": count}
            for (source, target), count in sorted(movement.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
        ],
    }


async def _raise_alerts(
    ctx: Context,
    snapshot: Mapping[str, Any],
    summaries: retention.CustomerRows,
    index: Mapping[UUID, int],
    columns: Mapping[str, Sequence[Any]],
    overdue: Sequence[bool],
    *,
    first_snapshot: bool,
) -> dict[str, Any]:
    """Alert every customer at high risk or overdue who has no open alert, was not alerted within the
    cooldown and has bought since an alert that ended churned; announce them (event, rescue task)
    unless over a first snapshot's cap."""
    alerts = ctx.analytics.alerts()
    used = snapshot["settings"]
    as_of: date = snapshot["as_of"]
    contacts = list(index)
    cooldown = int(used.get("churn_alert_cooldown_days", 90))
    recent = await alerts.blocking(as_of - timedelta(days=cooldown))
    churned = await alerts.churned_on()
    blocked = retention.alert_blocked(
        np.array([float(summaries.last_day[index[c]].toordinal()) for c in contacts]),
        np.array([c in recent for c in contacts], dtype=bool),
        np.array([float(churned[c].toordinal()) if c in churned else np.nan for c in contacts]),
    )
    decisions = retention.churn_alerts(
        [columns["churn_level"][index[c]] for c in contacts],
        np.array([overdue[index[c]] for c in contacts], dtype=bool),
        np.array([columns["clv_at_risk_minor"][index[c]] for c in contacts], dtype=np.float64),
        blocked,
        first_snapshot=first_snapshot,
        cap=int(used.get("churn_first_snapshot_alert_cap", 50)),
    )
    rescue = (await settings.get(ctx, "retention", RetentionSettings))["values"]
    announced = [contacts[d.index] for d in decisions if d.announced]
    labels = await ctx.analytics.contact_labels(announced)
    rows = []
    for decision in decisions:
        contact = contacts[decision.index]
        rows.append(await _raise(
            ctx, snapshot, contact, index[contact], columns, rescue, decision, labels.get(contact) or {}
        ))  # fmt: skip
    await alerts.add(rows)
    return {
        "first_snapshot": first_snapshot,
        "raised": len(decisions),
        "announced": len(announced),
        "high_risk": sum(1 for d in decisions if d.reason == "high_risk"),
        "overdue": sum(1 for d in decisions if d.reason == "overdue"),
    }


async def _raise(
    ctx: Context,
    snapshot: Mapping[str, Any],
    contact: UUID,
    i: int,
    columns: Mapping[str, Sequence[Any]],
    rescue: Mapping[str, Any],
    decision: retention.AlertDecision,
    label: Mapping[str, Any],
) -> dict[str, Any]:
    as_of: date = snapshot["as_of"]
    owner = columns["owner_id"][i]
    reasons = columns["churn_reasons"][i]
    since, interval = columns["days_since_last"][i], columns["purchase_interval_days"][i]
    task_id = None
    if decision.announced and rescue["rescue_tasks"]:
        named = ", ".join(r["factor"].replace("_", " ") for r in reasons[:3]) or "no other factor"
        if decision.reason == "overdue":
            title = "Rescue a customer overdue for their next purchase"
            notes = f"{since} days since the last purchase, usually every {interval:.0f} days. "
        else:
            title, notes = "Rescue a customer at high risk of churning", ""
        task = await tasks.create(ctx, {
            "title": title, "contact_id": contact, "assignee_id": owner, "priority": "high",
            "due_at": ctx.now + timedelta(days=rescue["rescue_task_due_days"]),
            "notes": f"{notes}Churn score {columns['churn_score'][i]:.2f}: {named}.",
        })  # fmt: skip
        task_id = task["id"]
    alert = {
        "workspace_id": ctx.workspace_id, "id": new_id(), "contact_id": contact, "snapshot_id": snapshot["id"],
        "reason": decision.reason, "churn_level": columns["churn_level"][i], "announced": decision.announced,
        "raised_on": as_of, "window_ends_on": as_of + timedelta(days=rescue["rescue_window_days"]),
        "churn_score": columns["churn_score"][i], "clv_at_risk_minor": columns["clv_at_risk_minor"][i],
        "currency": snapshot["currency"], "reasons": reasons, "days_since_last": since,
        "purchase_interval_days": interval, "expected_next_purchase_at": columns["expected_next_purchase_at"][i],
        "owner_id": owner, "task_id": task_id, "outcome": None, "resolved_on": None, "created_at": ctx.now,
    }  # fmt: skip
    if decision.announced:
        await events.record(
            ctx, types.CUSTOMER_CHURN_RISK_RAISED, alert_read({**alert, **label}, contacts=True), resource_id=contact
        )
    return alert


async def _resolve_alerts(
    ctx: Context, summaries: retention.CustomerRows, index: Mapping[UUID, int], as_of: date
) -> None:
    """An alerted customer who bought after the alert, within its window, was rescued; one whose
    window has passed without a purchase churned. Only announced alerts announce their outcome."""
    repo = ctx.analytics
    alerts = repo.alerts()
    resolved = []
    for alert in await alerts.open():
        i = index.get(alert["contact_id"])
        last: date | None = summaries.last_day[i] if i is not None else None
        if last is not None and alert["raised_on"] < last <= alert["window_ends_on"]:
            outcome, on, kind = "rescued", last, types.CUSTOMER_RESCUED
        elif as_of > alert["window_ends_on"]:
            outcome, on, kind = "churned", alert["window_ends_on"], types.CUSTOMER_CHURNED
        else:
            continue
        await alerts.resolve(alert["id"], outcome, on)
        if alert["announced"]:
            resolved.append(({**alert, "outcome": outcome, "resolved_on": on}, kind))
    labels = await repo.contact_labels([alert["contact_id"] for alert, _ in resolved])
    for alert, kind in resolved:
        data = alert_read({**alert, **(labels.get(alert["contact_id"]) or {})}, contacts=True)
        await events.record(ctx, kind, data, resource_id=alert["contact_id"])


def contact_name(row: Mapping[str, Any]) -> str | None:
    return " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part) or None


def alert_read(alert: Mapping[str, Any], *, contacts: bool) -> ChurnAlertRead:
    """An alert as the API shows it; `contacts` (the reader holds contacts:read): with the contact's
    name and email from `first_name`, `last_name`, `email` in the row."""
    labels = {"contact_name": contact_name(alert), "contact_email": alert.get("email")} if contacts else {}
    return ChurnAlertRead.model_validate({
        **alert, **labels, "clv_at_risk": from_minor(alert["clv_at_risk_minor"], alert["currency"]),
        "status": alert["outcome"] or "open", "days_since_last_purchase": alert.get("days_since_last"),
    })  # fmt: skip


async def list_alerts(ctx: Context, *, sort: Sort, cursor: str | None, limit: int, **filters: Any) -> Page:
    """A page of the workspace's churn alerts, newest analysis date first by default; each with the
    contact's name and email when the key holds contacts:read."""
    with_contact = ctx.allows("contacts:read")
    page = await ctx.analytics.alerts().page(
        sort=sort, cursor=cursor, limit=limit, with_contact=with_contact, **filters
    )
    return Page([alert_read(row, contacts=with_contact).model_dump() for row in page.rows], page.next_cursor)


# -- reads --------------------------------------------------------------------------------------------


async def ranked(
    ctx: Context, snapshot: Mapping[str, Any], kind: str, *, cursor: str | None, limit: int, filters: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of a snapshot's ranked customers (`AnalyticsRepository.ranked`), with its keyset cursor."""
    sort = Sort(kind, True)
    after = None
    if cursor is not None:
        try:
            value, contact = decode_cursor(cursor, sort)
            after = (value, UUID(contact))
        except (BadCursor, ValueError) as exc:
            raise InvalidInput.field("cursor", str(exc) or "malformed cursor", location="query") from exc
    with_contact = ctx.allows("contacts:read")
    rows = await ctx.analytics.ranked(
        snapshot["id"], kind, after=after, limit=limit, with_contact=with_contact, **filters
    )
    if with_contact:
        rows = [{**row, "contact_name": contact_name(row), "contact_email": row["email"]} for row in rows]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(sort, rows[-1]["rank_key"], str(rows[-1]["contact_id"]))
    return rows, next_cursor


def clv_cac(snapshot: Mapping[str, Any], costs: Sequence[Mapping[str, Any]], group: str) -> list[dict[str, Any]]:
    """Per channel and month (or per channel, or per month): customers acquired in that month by that
    channel (the snapshot's customers), the spend recorded for it, CAC, mean CLV and its margin, the
    margin-based ratio (and the revenue-based one), payback.

    Months are those of the calendar the snapshot was computed in (its `calendar`, Gregorian before
    it was kept). Costs are recorded per Gregorian month: in a Jalali snapshot each month's spend is
    shared among the Jalali months its days fall in, by their share of its days (March 2026: 20/31
    to Esfand 1404, 11/31 to Farvardin 1405); by channel alone nothing is shared."""
    exponent = currency_exponent(snapshot["currency"])
    calendar = ReportCalendar(
        kind="jalali" if (snapshot["insights"] or {}).get("calendar") == "jalali" else "gregorian"
    )

    def key(channel: str | None, month: str) -> tuple[str | None, str | None]:
        return (channel if group != "month" else None, month if group != "channel" else None)

    acquired: dict[tuple[str | None, str | None], list[Any]] = {}
    for row in (snapshot["insights"] or {}).get("acquisition", []):
        totals = acquired.setdefault(key(row["channel"], row["month"]), [0, 0.0, 0.0, 0.0])
        totals[0] += row["customers"]
        totals[1] += row["predicted_clv"]
        totals[2] += row["yearly_margin"]
        # A snapshot computed before margins were kept per acquisition has none: the ratio waits for a refresh.
        totals[3] = None if totals[3] is None or "predicted_margin" not in row else totals[3] + row["predicted_margin"]
    spend: dict[tuple[str | None, str | None], float] = {}
    for cost in costs:
        shares = [(cost["month"], 1.0)] if group == "channel" else month_shares(cost["month"], calendar)
        for month, share in shares:
            where = key(cost["channel"], month)
            spend[where] = spend.get(where, 0.0) + cost["spend"] * share
    result = []
    for k in sorted(set(acquired) | set(spend), key=lambda k: (k[0] or "", k[1] or "")):
        customers, clv_sum, margin_sum, clv_margin_sum = acquired.get(k, [0, 0.0, 0.0, 0.0])
        figures = retention.clv_cac(int(customers), spend.get(k, 0.0), clv_sum, margin_sum, clv_margin_sum)
        result.append({
            "channel": k[0], "month": k[1], "customers": figures.customers,
            "spend": estimate_text(figures.spend, exponent),
            "cac": None if figures.cac is None else estimate_text(figures.cac, exponent),
            "mean_clv": None if figures.mean_clv is None else estimate_text(figures.mean_clv, exponent),
            "mean_clv_margin": None if figures.mean_clv_margin is None
            else estimate_text(figures.mean_clv_margin, exponent),
            "clv_cac_ratio": figures.ratio, "revenue_clv_cac_ratio": figures.revenue_ratio,
            "payback_months": figures.payback_months,
        })  # fmt: skip
    return result
