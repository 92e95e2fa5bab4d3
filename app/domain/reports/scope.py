"""What a report covers: whole local days `first`..`last` (both inclusive) of the workspace, cut
into periods of its calendar, and the filters named as on the lists. Pure: the service reads the
workspace and passes today's local date in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID

from app.domain.errors import ErrorList
from app.domain.reports import periods as cal
from app.domain.reports.periods import Interval, Period, ReportCalendar

DEFAULT_DAYS = 90  # the last 90 days when neither bound is given
MAX_DAYS = 3660  # ten years and change: a report never reads more
# The dates a report may name: far enough either way for any business's history and plans, and
# inside what the calendars convert (the Jalali calendar starts in 622).
EARLIEST, LATEST = date(1900, 1, 1), date(2200, 12, 31)


@dataclass(frozen=True)
class ReportFilters:
    """Equality filters, named as on the lists: the leads' owner, team, source, first form and
    utm_campaign, and the campaign that messaged them."""

    owner_id: UUID | None = None
    team_id: UUID | None = None
    source: str | None = None
    form_id: UUID | None = None
    utm_campaign: str | None = None
    campaign_id: UUID | None = None

    def given(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def of_lead(self) -> ReportFilters:
        """The filters that only a lead answers (source, form, utm_campaign, campaign): what keeps
        an opportunity through its originating lead, or an activity or task through its lead."""
        return ReportFilters(source=self.source, form_id=self.form_id, utm_campaign=self.utm_campaign,
                             campaign_id=self.campaign_id)  # fmt: skip


@dataclass(frozen=True)
class ReportScope:
    first: date  # local, inclusive
    last: date  # local, inclusive
    interval: Interval
    calendar: ReportCalendar
    filters: ReportFilters = field(default_factory=ReportFilters)
    periods: tuple[Period, ...] = ()

    @property
    def start(self) -> datetime:
        """The first instant covered (UTC)."""
        return self.calendar.midnight(self.first)

    @property
    def end(self) -> datetime:
        """The first instant after the range (UTC, exclusive)."""
        return self.calendar.midnight(self.last + timedelta(days=1))

    def bounds(self) -> list[datetime]:
        """The periods' starts and the range's end: period i is [bounds[i], bounds[i + 1])."""
        return [p.start for p in self.periods] + [self.end]


def resolve(
    first: date | None,
    last: date | None,
    interval: Interval,
    calendar: ReportCalendar,
    filters: ReportFilters,
    *,
    today: date,
) -> ReportScope:
    """The scope asked for: `to` defaults to today, `from` to 89 days before `to` (the last 90
    days); 422 naming `from` when it is after `to`, the range is longer than MAX_DAYS, or it cuts
    into more than `periods.MAX_PERIODS` periods (ask for a coarser interval)."""
    last = last or (today if first is None else max(today, first))
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    errors = ErrorList()
    for name, day in (("from", first), ("to", last)):
        if not EARLIEST <= day <= LATEST:
            errors.add(name, f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    errors.raise_if_any()
    if first > last:
        errors.add("from", f"is after `to` ({last.isoformat()})")
    elif (last - first).days + 1 > MAX_DAYS:
        errors.add("from", f"the range may cover at most {MAX_DAYS} days")
    elif cal.count(first, last, interval, calendar) > cal.MAX_PERIODS:
        errors.add("interval", f"cuts the range into more than {cal.MAX_PERIODS} periods: use a longer interval")
    errors.raise_if_any()
    return ReportScope(first, last, interval, calendar, filters, tuple(cal.cut(first, last, interval, calendar)))
