"""The dashboard overview: leads, SLA clocks, tasks, churn alerts and the month's revenue in one
answer, each section computed only when the caller's scopes may read it; the others are null and
named in `withheld`. The report filters narrow the leads, SLA and tasks sections, named in
`filtered` (definitions: app/domain/reports/overview.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.domain.leads.lifecycle import EDITABLE, LeadStatus, Source
from app.domain.leads.scoring import NO_STAGE, Stage, Temperature
from app.domain.money import from_minor
from app.domain.reports import overview as rules
from app.domain.reports.scope import ReportFilters
from app.services.context import Context
from app.services.reports.filters import check
from app.services.reports.scope import calendar_of
from app.services.workspace import workspaces

STATUSES = [s.value for s in LeadStatus if s in EDITABLE]  # open leads' statuses, in order


async def overview(ctx: Context, filters: ReportFilters | None = None) -> dict[str, Any]:
    filters = filters or ReportFilters()
    await check(ctx, filters)
    repo = ctx.overview_report
    calendar = await calendar_of(ctx)
    now = ctx.now
    today = calendar.local_date(now)
    today_start, tomorrow_start = calendar.midnight(today), calendar.midnight(today + timedelta(days=1))
    shown = set(rules.visible_sections(ctx.scopes))
    result: dict[str, Any] = {"as_of": now, "date": today, **dict.fromkeys(rules.SECTIONS)}
    if "leads" in shown:
        found = await repo.leads(filters)
        owners = found["owner"]
        names = await repo.member_names([k for k in owners if k is not None])
        result["leads"] = {
            "by_status": rules.counted(STATUSES, found["status"]),
            "by_stage": rules.counted([*(s.value for s in Stage), NO_STAGE], found["stage"], none=NO_STAGE),
            "by_temperature": rules.counted([t.value for t in Temperature], found["temperature"]),
            "by_owner": [
                {"owner_id": owner, "name": names.get(owner), "count": count}
                for owner, count in sorted(owners.items(), key=lambda item: (-item[1], item[0] is None, str(item[0])))
            ],
            "by_source": rules.counted([s.value for s in Source], found["source"]),
        }
    if "sla" in shown:
        result["sla"] = await repo.sla(today_start, now, filters)
    if "tasks" in shown:
        result["tasks"] = await repo.tasks(today_start, tomorrow_start, now, filters)
    if "churn_alerts" in shown:
        result["churn_alerts"] = {"open": await repo.open_churn_alerts()}
    if "revenue" in shown:
        span = rules.month_to_date(now, calendar)
        current, previous = await repo.revenue([(span.start, span.end), (span.previous_start, span.previous_end)])
        currency = (await workspaces.get(ctx))["currency"]
        result["revenue"] = {
            "currency": currency,
            "month_to_date": from_minor(current, currency),
            "previous_month_to_date": from_minor(previous, currency),
            "change": rules.change(current, previous),
            "month_start": span.start,
            "previous_month_start": span.previous_start,
            "previous_month_end": span.previous_end,
        }
    result["withheld"] = [s for s in rules.SECTIONS if s not in shown]
    result["filtered"] = [s for s in rules.FILTERED if s in shown] if filters.given() else []
    return result
