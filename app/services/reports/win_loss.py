"""The win/loss report: opportunities won and lost and leads disqualified in the range, with their
counts and amounts (the reporting currency's), by reason, owner, source and period of the
workspace's calendar, and the win rate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.money import formatter
from app.domain.reports import win_loss as rules
from app.domain.reports.scope import ReportScope
from app.services.context import Context
from app.services.reports.scope import period_fields
from app.services.reports.team import chosen_members
from app.services.workspace import workspaces


async def win_loss(ctx: Context, scope: ReportScope) -> dict[str, Any]:
    filters = scope.filters
    owners = await chosen_members(ctx, filters.team_id, filters.owner_id)
    currency = str((await workspaces.get(ctx))["currency"])
    money = formatter(currency)
    repo = ctx.win_loss_report
    counts = await repo.counts(scope, currency, owners, filters.source)
    rows = {dimension: [rules.Counted(**r) for r in found] for dimension, found in counts.items()}
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
