"""The dashboard overview: the counts a dashboard shows, in one answer, made of the sections the
caller's scopes may read (as the customer 360 view: a section shows only to a key holding its
resource's read scope, so the overview is never a way round a 403; the others are null and named
in `withheld`).

- leads: open leads (new, contacted, nurturing; not archived, not merged) by status, stage (`none`:
  no stage yet), temperature, owner and source; every known value answers, zero when none.
- sla: `open_clocks`, open leads whose first response is pending and not yet due; `breached_today`,
  leads (not merged) whose first-response deadline passed today (local day, up to now) without a
  response by then: breached, or pending past due before the sweep records it.
- tasks: open tasks `due_today` (due within today's local day, passed or not) and `overdue` (due
  before now), as the tasks list counts them: a task due this morning is both.
- churn_alerts: `open`, alerts without an outcome.
- filters (`owner_id`, `team_id`, `source`, `form_id`, `utm_campaign`, `campaign_id`): the leads
  and sla sections count the leads they keep (as the funnel: the lead's owner, team, source...);
  tasks, the tasks bound to such a lead (one bound to no lead is left out while a filter is given);
  churn alerts and revenue are never narrowed. `filtered` names the sections they narrowed.
- revenue: net revenue of the purchases placed this month so far (the workspace's calendar: a
  Jalali workspace's month is the Jalali month) against the same stretch of the previous month (its
  first day up to the same day of the month and time of day; when this month is further in than
  the previous month is long, the whole previous month); `change` = (this - previous) / previous."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.reports import periods as cal
from app.domain.reports.periods import ReportCalendar
from app.domain.workspace.api_keys import allows

# Section -> the scope it needs (the endpoint itself needs reports:read). Churn alerts are read
# with analytics:read, as their own list is.
SECTION_SCOPES: dict[str, str] = {
    "leads": "leads:read",
    "sla": "leads:read",
    "tasks": "tasks:read",
    "churn_alerts": "analytics:read",
    "revenue": "orders:read",
}
SECTIONS: tuple[str, ...] = tuple(SECTION_SCOPES)
# The sections the report filters narrow: the leads and SLA clocks on the lead itself, the tasks
# through the lead each is bound to. Churn alerts and revenue (orders carry no lead) never.
FILTERED: tuple[str, ...] = ("leads", "sla", "tasks")


def visible_sections(granted: Iterable[str]) -> list[str]:
    """The sections a key with `granted` scopes sees, in the overview's order."""
    scopes = frozenset(granted)
    return [s for s in SECTIONS if allows(scopes, SECTION_SCOPES[s])]


@dataclass(frozen=True)
class MonthToDate:
    start: datetime  # this month's first instant (UTC)
    end: datetime  # now
    previous_start: datetime
    previous_end: datetime  # the same point of the previous month (exclusive)


def month_to_date(now: datetime, calendar: ReportCalendar) -> MonthToDate:
    """This month so far and the same stretch of the previous month, in the workspace's calendar
    and time zone: day d of this month at the local time of `now` faces day d of the previous
    month at that time, or the previous month's end when it has fewer than d days."""
    zone = ZoneInfo(calendar.timezone)
    local = now.astimezone(zone)
    today = local.date()
    month_start = cal.period_start(today, "month", calendar)
    previous_start = cal.period_start(month_start - timedelta(days=1), "month", calendar)
    offset = (today - month_start).days
    if offset >= (month_start - previous_start).days:
        previous_end = calendar.midnight(month_start)
    else:
        wall = datetime.combine(previous_start + timedelta(days=offset), local.time(), zone)
        previous_end = wall.astimezone(UTC)
    return MonthToDate(calendar.midnight(month_start), now, calendar.midnight(previous_start), previous_end)


def change(current: int, previous: int) -> float | None:
    """(current - previous) / previous, four decimals; None when there was nothing before."""
    return round((current - previous) / previous, 4) if previous else None


def counted(keys: Iterable[str], found: Mapping[str | None, int], none: str | None = None) -> dict[str, int]:
    """Every known key with its count (zero when none), then any other key found; a null key
    answers as `none` when given (a lead without a stage), else is left out."""
    result = dict.fromkeys(keys, 0)
    for key, count in found.items():
        name = none if key is None else key
        if name is not None:
            result[name] = result.get(name, 0) + int(count)
    return result
