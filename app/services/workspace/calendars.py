"""A workspace's working calendar: business hours from its settings, on its region's week, without
its region's public holidays (from the `holidays` package, which knows Iran's Jalali and lunar
holidays) unless switched off, plus its own days off, less the region holidays it works on.

A year's public holidays are computed once per process and region (Iran's take a noticeable
fraction of a second: its lunar dates are converted) and kept; a region the package does not know
has none."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date, time
from functools import cache, partial
from typing import Any

from app.domain.workspace.calendar import BusinessHours, YearHolidays, default_week
from app.schemas.weekdays import numbers

_YEARS: dict[tuple[str, int], frozenset[date]] = {}
_YEARS_LIMIT = 4096


@cache
def _known_regions() -> frozenset[str]:
    import holidays  # loaded on first use: its calendars are large

    return frozenset(holidays.list_supported_countries())


def public_holidays(region: str, year: int) -> frozenset[date]:
    """The public holidays of a country (ISO 3166-1 alpha-2 the package knows) in a year."""
    found = _YEARS.get((region, year))
    if found is None:
        import holidays

        found = frozenset(holidays.country_holidays(region, years=year))
        if len(_YEARS) >= _YEARS_LIMIT:
            _YEARS.clear()
        _YEARS[(region, year)] = found
    return found


def region_holidays(region: str | None) -> YearHolidays | None:
    """The public holidays of the workspace's region by year; None for no region or one the
    `holidays` package does not know."""
    code = (region or "").upper()
    if not code or code not in _known_regions():  # no region: the package is not even loaded
        return None
    return partial(public_holidays, code)


async def prepare(region: str | None, year: int) -> None:
    """Computes the region's holidays of the year in a thread unless known already, so the event
    loop keeps serving while the package loads or converts a year's lunar dates."""
    code = (region or "").upper()
    if code and (code, year) not in _YEARS:
        await asyncio.to_thread(_compute, code, year)


def _compute(region: str, year: int) -> None:
    if region_holidays(region) is not None:
        public_holidays(region, year)


def business_hours(raw: Mapping[str, Any] | None, timezone: str, region: str | None) -> BusinessHours | None:
    """Stored business hours (`sla.business_hours`) as the domain's calendar; None = around the clock.
    `timezone` and `region` are the workspace's: the hours' own time zone and days come first."""
    if raw is None:
        return None
    return BusinessHours(
        raw["timezone"] or timezone,
        numbers(raw["days"]) if raw["days"] is not None else default_week(region),
        time.fromisoformat(raw["start"]),
        time.fromisoformat(raw["end"]),
        frozenset(date.fromisoformat(d) for d in raw["holidays"]),
        region_holidays(region) if raw["region_holidays"] else None,
        frozenset(date.fromisoformat(d) for d in raw["removed_holidays"]),
    )


_NAMED: dict[tuple[str, int, str], dict[date, str]] = {}


def named_holidays(region: str, year: int, locale: str) -> dict[date, str]:
    """A region's public holidays of a year with their names, in the locale's language where the
    `holidays` package has it (Persian and English for Iran), else its default."""
    key = (region, year, locale)
    found = _NAMED.get(key)
    if found is None:
        import holidays

        languages = getattr(holidays.country_holidays(region, years=year), "supported_languages", ()) or ()
        wanted = next((lang for lang in languages if lang.split("_")[0] == locale), None)
        calendar = (
            holidays.country_holidays(region, years=year, language=wanted)
            if wanted
            else (holidays.country_holidays(region, years=year))
        )
        found = {day: str(name) for day, name in calendar.items()}
        if len(_NAMED) >= _YEARS_LIMIT:
            _NAMED.clear()
        _NAMED[key] = found
    return found


async def holidays_between(ctx: Any, first: date, last: date) -> list[dict[str, Any]]:
    """The holidays of `first`..`last` (local dates, inclusive) as the workspace's business hours
    count them: its region's public holidays (with their names, `source: region`) and its own days
    (`source: workspace`), each saying whether it is a day off (`day_off`: false for a region
    holiday it works on, or when its business hours leave region holidays out), and naming each in
    the workspace's calendar (`local_date`, `display_label`)."""
    from app.domain.reports import periods
    from app.schemas.workspace.settings import SlaSettings
    from app.services.reports.scope import calendar_from
    from app.services.workspace import settings, workspaces

    workspace = await workspaces.get(ctx)
    calendar = calendar_from(workspace)
    hours = (await settings.get(ctx, "sla", SlaSettings))["values"].get("business_hours")
    region = (workspace["default_region"] or "").upper()
    counts_region = hours is None or bool(hours.get("region_holidays", True))
    removed = {date.fromisoformat(d) for d in (hours or {}).get("removed_holidays", [])}
    own = {date.fromisoformat(d) for d in (hours or {}).get("holidays", [])}
    found: dict[date, dict[str, Any]] = {}
    if region and region_holidays(region) is not None:
        for year in range(first.year, last.year + 1):
            named = await asyncio.to_thread(named_holidays, region, year, workspace.get("locale") or "en")
            for day, name in named.items():
                if first <= day <= last:
                    found[day] = {"date": day, "name": name, "source": "region",
                                  "day_off": counts_region and day not in removed}  # fmt: skip
    for day in own:
        if first <= day <= last:
            name = "تعطیل" if workspace.get("locale") == "fa" else "Day off"
            found[day] = {"date": day, "name": found.get(day, {}).get("name", name), "source": "workspace",
                          "day_off": True}  # fmt: skip
    return [
        {**found[day], "local_date": periods.date_label(day, calendar),
         "display_label": periods.display_label(day, "day", calendar)}
        for day in sorted(found)
    ]  # fmt: skip
