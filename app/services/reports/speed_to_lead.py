"""The speed-to-lead report: how fast the leads the SLA applied to were answered (p50/p90 working
seconds, the share answered by their deadline, response buckets) and, on request, how each
bucket converted: the 5-minute rule, on the workspace's data. Overall and per owner, team or
source, over the range's captured leads, with the reports' filters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app.domain.errors import InvalidInput
from app.domain.leads.sla import BUCKETS
from app.domain.reports.scope import ReportFilters
from app.schemas.reports.speed_to_lead import SpeedStats, SpeedToLeadReport
from app.services.context import Context
from app.services.reports import scope

MEDIAN, P90 = 0.5, 0.9
NAMES = [name for name, _ in BUCKETS] + ["never"]


async def speed_to_lead(
    ctx: Context,
    *,
    first: date | None,
    last: date | None,
    created_after: datetime | None,
    created_before: datetime | None,
    filters: ReportFilters,
    group_by: str | None,
    conversion: str | None = None,
) -> SpeedToLeadReport:
    """The range: `from`/`to` (local days; the last 90 by default) or, instead, `created_after` /
    `created_before` (UTC instants, either open); 422 naming `from` when both kinds are given."""
    if (created_after is not None or created_before is not None) and (first is not None or last is not None):
        raise InvalidInput.field(
            "from", "give either from/to or created_after/created_before, not both", location="query"
        )
    start, end = created_after, created_before
    if created_after is None and created_before is None:
        covered = await scope.resolve(ctx, first, last, "year", filters)
        first, last, start, end = covered.first, covered.last, covered.start, covered.end
    repo = ctx.speed_to_lead_report
    overall = await repo.figures(start, end, filters, None, conversion, (MEDIAN, P90))
    groups = await repo.figures(start, end, filters, group_by, conversion, (MEDIAN, P90)) if group_by else []
    ordered = sorted(groups, key=lambda row: (-int(row["leads"]), str(row["key"])))
    empty: dict[str, Any] = {"key": None, "leads": 0}
    return SpeedToLeadReport.model_validate(
        {
            "from": first,
            "to": last,
            "created_after": start,
            "created_before": end,
            "group_by": group_by,
            "conversion": conversion,
            "overall": _stats(overall[0] if overall else empty, conversion is not None),
            "groups": [_stats(row, conversion is not None) for row in ordered],
        }
    )


def _stats(row: dict[str, Any], conversion: bool) -> SpeedStats:
    met, breached = int(row.get("met") or 0), int(row.get("breached") or 0)
    buckets = {name: int(row.get(f"bucket_{name}") or 0) for name in NAMES}
    converted = {name: int(row.get(f"converted_{name}") or 0) for name in NAMES}
    return SpeedStats(
        key=str(row["key"]) if row["key"] is not None else None,
        leads=int(row["leads"]),
        responded=int(row.get("responded") or 0),
        p50_seconds=float(row["q0"]) if row.get("q0") is not None else None,
        p90_seconds=float(row["q1"]) if row.get("q1") is not None else None,
        within_sla_share=round(met / (met + breached), 4) if met + breached else None,
        breached=breached,
        pending=int(row.get("pending") or 0),
        buckets=buckets,
        conversion={name: round(converted[name] / buckets[name], 4) if buckets[name] else None for name in NAMES}
        if conversion
        else None,
    )
