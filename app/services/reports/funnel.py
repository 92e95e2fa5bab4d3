"""The funnel report: lead → MQL → SQL → opportunity → won → customer, by cohort (leads created in
the range, the default) or by activity (leads reaching each stage in the range), per period of the
workspace's calendar and per group."""

from __future__ import annotations

from typing import Any

from app.domain.reports import funnel as rules
from app.domain.reports.scope import ReportScope
from app.services.context import Context
from app.services.reports.scope import period_fields

FRACTIONS = (rules.MEDIAN, rules.P90)


async def funnel(ctx: Context, scope: ReportScope, *, mode: str, group_by: str | None) -> dict[str, Any]:
    repo = ctx.funnel_report
    rows = [rules.Counted(**r) for r in await repo.counts(scope, mode, None)]
    times = await repo.durations(scope, mode, FRACTIONS)
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

