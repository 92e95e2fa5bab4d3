"""The dashboard overview: leads, SLA clocks, tasks, churn alerts and the month's revenue in one
answer, each section computed only when the caller's scopes may read it; the others are null and
named in `withheld`. The report filters narrow the leads, SLA and tasks sections, named in
`filtered` (definitions: app/domain/reports/overview.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
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


# -- as a scheduled digest (app/services/reports/digests.py) ---------------------------------------

TITLE = {"en": "Overview", "fa": "نمای کلی"}
_WORDS = {
    "en": {"leads": "Open leads", "unassigned": "Unassigned open leads", "open_clocks": "First responses pending",
           "breached_today": "First responses missed today", "due_today": "Tasks due today",
           "overdue": "Overdue tasks", "churn": "Open churn alerts", "revenue": "Revenue this month",
           "previous": "Last month to the same day"},
    "fa": {"leads": "سرنخ‌های باز", "unassigned": "سرنخ‌های باز بی‌مسئول", "open_clocks": "پاسخ‌های اول در انتظار",
           "breached_today": "پاسخ‌های اول دیرشدهٔ امروز", "due_today": "کارهای امروز",
           "overdue": "کارهای عقب‌افتاده", "churn": "هشدارهای ریزش باز", "revenue": "درآمد این ماه",
           "previous": "ماه قبل تا همین روز"},
}  # fmt: skip


async def digest(ctx: Context, params: Any, scope: Any) -> dict[str, Any]:
    """The overview at the occurrence, as `GET /v1/reports/overview` answers it in JSON: every
    section, as the system computes it (whoever made the schedule; the digest goes to members by
    email only: `report.delivered`, read with `reports:read`, would show sections that need their
    own scopes)."""
    from dataclasses import replace

    from app.schemas.reports.overview import Overview
    from app.services.context import SERVICE_SCOPES

    figures = await overview(replace(ctx, scopes=SERVICE_SCOPES), scope.filters)
    return Overview.model_validate(figures).model_dump(mode="json")


def digest_span(figures: Mapping[str, Any], first: date, last: date) -> tuple[date, date]:
    """The day the digest names: the occurrence's (the counts are as of it)."""
    return date.fromisoformat(figures["date"]), date.fromisoformat(figures["date"])


def digest_lines(figures: Mapping[str, Any], locale: str) -> list[tuple[str, str]]:
    """The open leads (and the unassigned ones), first responses, tasks, churn alerts and the
    month's revenue against the previous month's to the same day; a section left out when null."""
    from app.domain.reports.periods import persian_digits

    words = _WORDS.get(locale, _WORDS["en"])
    lines: list[tuple[str, str]] = []
    if (leads := figures["leads"]) is not None:
        unassigned = sum(o["count"] for o in leads["by_owner"] if o["owner_id"] is None)
        lines += [(words["leads"], f"{sum(leads['by_status'].values()):,}"), (words["unassigned"], f"{unassigned:,}")]
    if (sla := figures["sla"]) is not None:
        lines += [(words["open_clocks"], f"{sla['open_clocks']:,}"), (words["breached_today"],
                                                                       f"{sla['breached_today']:,}")]  # fmt: skip
    if (tasks := figures["tasks"]) is not None:
        lines += [(words["due_today"], f"{tasks['due_today']:,}"), (words["overdue"], f"{tasks['overdue']:,}")]
    if (churn := figures["churn_alerts"]) is not None:
        lines.append((words["churn"], f"{churn['open']:,}"))
    if (revenue := figures["revenue"]) is not None:
        change = revenue["change"]
        lines.append((words["revenue"], f"{revenue['month_to_date']} {revenue['currency']}"
                      + (f" ({change:+.1%})" if change is not None else "")))  # fmt: skip
        lines.append((words["previous"], f"{revenue['previous_month_to_date']} {revenue['currency']}"))
    return [(label, persian_digits(value)) for label, value in lines] if locale == "fa" else lines
