"""The team report: per member over the range, leads assigned, first-response times and SLA, the
activities they logged, tasks done and overdue, leads qualified, opportunities won and the
qualified / assigned rate, each beside the team's median over the members listed; and the team's
totals per period of the workspace's calendar.

The rows are members: `team_id` lists the team's members (now) and `owner_id` the one member (both:
the member if in the team). The lead-only filters (`source`, `form_id`, `utm_campaign`,
`campaign_id`) narrow what each member's figures count: leads by their own values, opportunities
by their originating lead's, activities and tasks by their lead's (those bound to no lead left out
when one is given). Amounts won in another currency are converted at the rate of the day each
closed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from app.domain.money import formatter
from app.domain.reports import team as rules
from app.domain.reports.scope import ReportScope
from app.services.context import Context
from app.services.reports.conversion import rates_for
from app.services.reports.filters import check, chosen_members
from app.services.reports.scope import period_fields
from app.services.workspace import workspaces

MEDIAN, P90 = 0.5, 0.9


async def team(ctx: Context, scope: ReportScope) -> dict[str, Any]:
    filters = scope.filters
    await check(ctx, filters)
    repo = ctx.team_report
    chosen = await chosen_members(ctx, filters.team_id, filters.owner_id)
    currency = str((await workspaces.get(ctx))["currency"])
    money = formatter(currency)
    figures: dict[UUID, rules.Figures] = {}

    def of(member_id: UUID) -> rules.Figures:
        return figures.setdefault(member_id, rules.Figures())

    assigned, answers = await repo.assignments(scope, chosen, (MEDIAN, P90))
    counted = [*assigned, *await _converted(ctx, await repo.period_counts(scope, chosen, currency))]
    for row in counted:
        entry = of(row["member_id"])
        setattr(entry, row["figure"], getattr(entry, row["figure"]) + row["count"])
        if row["figure"] == "opportunities_won":
            entry.won_minor += row["amount_minor"]
            entry.won_other_currency_count += row["other_currency"]
            entry.won_unconverted_count += row["unconverted"]
    activities = await repo.activities(scope, chosen)
    for row in activities:
        entry = of(row["member_id"])
        entry.activities[row["type"]] = entry.activities.get(row["type"], 0) + row["count"]
    for member_id, answered in answers.items():
        entry = of(member_id)
        entry.sla_met, entry.sla_breached = answered["met"], answered["breached"]
        entry.first_response_median_seconds = answered.get("q0")
        entry.first_response_p90_seconds = answered.get("q1")
    for member_id, overdue in (await repo.overdue(scope, ctx.now, chosen)).items():
        of(member_id).tasks_overdue = overdue
    people = [rules.Member(r["id"], r["name"], bool(r["active"])) for r in await repo.members(chosen)]
    rows, medians = rules.assemble(people, figures, money)
    listed = [r["member_id"] for r in rows]
    per_period = rules.periods(_period_rows(counted, activities), len(scope.periods), listed, money)
    return {
        "from": scope.first,
        "to": scope.last,
        "interval": scope.interval,
        "currency": currency,
        "members": rows,
        "team_median": medians,
        "periods": [{**period_fields(p), **f} for p, f in zip(scope.periods, per_period, strict=True)],
    }


async def _converted(ctx: Context, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with the amounts won in another currency converted at the rate of the day they
    closed (`other_currency`: how many; `unconverted`: how many without a rate, amount left out)."""
    rates = await rates_for(ctx, {(r["fx_currency"], r["fx_day"]) for r in rows if r.get("fx_currency")})
    found = []
    for row in rows:
        row = {**row, "other_currency": 0, "unconverted": 0}
        if row.get("fx_currency"):
            amount = rates.convert(row["amount_minor"], row["fx_currency"], row["fx_day"])
            row["other_currency"] = row["count"]
            row["unconverted"] = row["count"] if amount is None else 0
            row["amount_minor"] = amount or 0
        found.append(row)
    return found


def _period_rows(counted: Sequence[dict[str, Any]], activities: Sequence[dict[str, Any]]) -> list[rules.PeriodCount]:
    rows = [rules.PeriodCount(r["figure"], r["member_id"], r["period"], r["count"], r["amount_minor"]) for r in counted]
    rows += [rules.PeriodCount("activities", r["member_id"], r["period"], r["count"]) for r in activities]
    return rows


TITLE = {"en": "Team", "fa": "عملکرد تیم"}


async def digest(ctx: Context, params: Any, scope: ReportScope) -> dict[str, Any]:
    """The team report for a digest's range, as `GET /v1/reports/team` answers it in JSON."""
    from app.schemas.reports.team import TeamReport

    return TeamReport.model_validate(await team(ctx, scope)).model_dump(mode="json", by_alias=True)


def digest_lines(figures: Mapping[str, Any], locale: str) -> list[tuple[str, str]]:
    """Per member: leads assigned, qualified and won, and the median first response."""
    from app.domain.reports.periods import persian_digits

    lines = []
    for member in figures["members"][:20]:
        median = member["first_response_median_seconds"]
        response = f"{median / 60:.0f} min" if median is not None else "—"
        if locale == "fa":
            value = (f"{member['leads_assigned']} سرنخ، {member['leads_qualified']} واجد شرایط، "
                     f"{member['opportunities_won']} برنده، پاسخ {response.replace('min', 'دقیقه')}")  # fmt: skip
            value = persian_digits(value)
        else:
            value = (f"{member['leads_assigned']} leads, {member['leads_qualified']} qualified, "
                     f"{member['opportunities_won']} won, first response {response}")  # fmt: skip
        lines.append((member["name"], value))
    return lines
