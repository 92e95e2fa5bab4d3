"""The funnel report: lead → MQL → SQL → opportunity → won → customer, by cohort (leads created in
the range, the default) or by activity (leads reaching each stage in the range), per period of the
workspace's calendar and per group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.reports import funnel as rules
from app.domain.reports.periods import persian_digits
from app.domain.reports.scope import ReportScope
from app.schemas.reports.funnel import FunnelParams, FunnelReport
from app.services.context import Context
from app.services.reports.charts import STAGE_NAMES
from app.services.reports.scope import period_fields

FRACTIONS = (rules.MEDIAN, rules.P90)


async def funnel(ctx: Context, scope: ReportScope, *, mode: str, group_by: str | None) -> dict[str, Any]:
    repo = ctx.funnel_report
    counted, times = await repo.summary(scope, mode, FRACTIONS)
    rows = [rules.Counted(**r) for r in counted]
    result = rules.assemble(rows, len(scope.periods), times)
    periods = [
        {**period_fields(period), **counts} for period, counts in zip(scope.periods, result["periods"], strict=True)
    ]
    groups: list[dict[str, Any]] = []
    if group_by is not None:
        grouped = rules.by_group(rules.Counted(**r) for r in await repo.counts(scope, mode, group_by))
        groups = rules.group_rows(grouped, await repo.names(group_by, list(grouped)))
    return {
        "mode": mode,
        "interval": scope.interval,
        "from": scope.first,
        "to": scope.last,
        "group_by": group_by,
        "stages": result["stages"],
        "conversion": result["conversion"],
        "periods": periods,
        "groups": groups,
    }


# -- as a scheduled digest (app/services/reports/digests.py) ---------------------------------------

TITLE = {"en": "Funnel", "fa": "قیف فروش"}


async def digest(ctx: Context, params: FunnelParams, scope: ReportScope) -> dict[str, Any]:
    """The funnel for a digest's range, as `GET /v1/reports/funnel` answers it in JSON."""
    result = await funnel(ctx, scope, mode=params.mode, group_by=params.group_by)
    return FunnelReport.model_validate(result).model_dump(mode="json", by_alias=True)


def digest_lines(figures: Mapping[str, Any], locale: str) -> list[tuple[str, str]]:
    """Each stage's count (with its rate from the previous stage), then lead to customer."""
    names = STAGE_NAMES.get(locale, STAGE_NAMES["en"])
    lines = []
    for stage in figures["stages"]:
        rate = stage["rate_from_previous"]
        value = f"{stage['count']:,}" + (f" ({rate:.0%})" if rate is not None else "")
        lines.append((names[stage["stage"]], value))
    rate = figures["conversion"]["rate"]
    closing = "سرنخ به مشتری" if locale == "fa" else "Lead to customer"
    lines.append((closing, f"{rate:.1%}" if rate is not None else "—"))
    if locale == "fa":
        lines = [(label, persian_digits(value)) for label, value in lines]
    return lines
