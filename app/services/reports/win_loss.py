"""The win/loss report: opportunities won and lost and leads disqualified in the range, with their
counts and amounts (in the reporting currency: another currency's converted at the rate of the day
each closed), by reason, owner, source and period of the workspace's calendar, and the win rate.

Filters: `owner_id` the opportunity's or the lead's owner; `team_id` an opportunity owned by a
member of the team (its members now), a disqualified lead of the team (`leads.team_id`, as the
funnel); `source`, `form_id`, `utm_campaign`, `campaign_id` the lead's (an opportunity's: its
originating lead's, `lead_id`; one without a lead never matches them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.money import formatter
from app.domain.reports import win_loss as rules
from app.domain.reports.scope import ReportScope
from app.services.context import Context
from app.services.reports.conversion import Rates, rates_for
from app.services.reports.filters import check, chosen_members
from app.services.reports.scope import period_fields
from app.services.workspace import workspaces


async def win_loss(ctx: Context, scope: ReportScope) -> dict[str, Any]:
    filters = scope.filters
    await check(ctx, filters)
    owners = await chosen_members(ctx, filters.team_id, filters.owner_id)
    currency = str((await workspaces.get(ctx))["currency"])
    money = formatter(currency)
    repo = ctx.win_loss_report
    counts = await repo.counts(scope, currency, owners)
    rates = await rates_for(ctx, {(r["fx_currency"], r["fx_day"]) for found in counts.values() for r in found
                                  if r["fx_currency"] is not None})  # fmt: skip
    rows = {dimension: rules.merged(_converted(r, rates) for r in found) for dimension, found in counts.items()}
    names = await repo.names([r.key for r in rows["owner"]])
    per_period = rules.periods(rows["period"], len(scope.periods), money)
    return {
        "from": scope.first,
        "to": scope.last,
        "interval": scope.interval,
        "currency": currency,
        **rules.totals(rows["period"], money),
        "by_reason": rules.by_reason(rows["reason"], money),
        "by_owner": rules.by_group(rows["owner"], money, "owner_id", names),
        "by_source": rules.by_group(rows["source"], money, "source"),
        "periods": [{**period_fields(p), **f} for p, f in zip(scope.periods, per_period, strict=True)],
    }


def _converted(row: Mapping[str, Any], rates: Rates) -> rules.Counted:
    """A row of the database's: in the reporting currency, or one currency's amounts of one day,
    converted at that day's rate (none: counted as unconverted, the amount left out)."""
    currency = row["fx_currency"]
    if currency is None:
        return rules.Counted(row["outcome"], row["key"], row["count"], row["amount_minor"])
    amount = rates.convert(row["amount_minor"], currency, row["fx_day"])
    return rules.Counted(row["outcome"], row["key"], row["count"], amount or 0, other_currency=row["count"],
                         unconverted=row["count"] if amount is None else 0)  # fmt: skip


TITLE = {"en": "Win / loss", "fa": "برد و باخت"}


async def digest(ctx: Context, params: Any, scope: ReportScope) -> dict[str, Any]:
    """The win/loss report for a digest's range, as `GET /v1/reports/win-loss` answers it in JSON."""
    from app.schemas.reports.win_loss import WinLossReport

    return WinLossReport.model_validate(await win_loss(ctx, scope)).model_dump(mode="json", by_alias=True)


def digest_lines(figures: Mapping[str, Any], locale: str) -> list[tuple[str, str]]:
    """Won and lost (count and amount), the win rate, disqualified leads."""
    from app.domain.reports.periods import persian_digits

    rate, currency = figures["win_rate"], figures["currency"]
    won, lost = figures["won"], figures["lost"]
    rows = [
        ("Won" if locale != "fa" else "برنده", f"{won['count']} ({won['amount']} {currency})"),
        ("Lost" if locale != "fa" else "باخته", f"{lost['count']} ({lost['amount']} {currency})"),
        ("Win rate" if locale != "fa" else "نرخ برد", f"{rate:.0%}" if rate is not None else "—"),
        ("Disqualified leads" if locale != "fa" else "سرنخ رد شده", str(figures["disqualified"]["count"])),
    ]
    return [(label, persian_digits(value)) for label, value in rows] if locale == "fa" else rows
