"""What every report takes and how it answers.

Query: `from` and `to` (local dates, ISO, both inclusive; default the last 90 days), `interval`
(day | week | month | quarter | year, default week, cut in the workspace's calendar), and the
filters named as on the lists (`owner_id`, `team_id`, `source`, `form_id`, `utm_campaign`,
`campaign_id`). Answers JSON; `Accept: text/csv` the same figures as CSV (UTF-8 with a BOM, one
row per period or group); `Accept: image/png` a chart where the report draws one. The Accept
header's q-values and wildcards count (`q=0`: not acceptable), JSON first among equals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query, Request
from starlette.responses import Response

from app.domain import negotiation
from app.domain.csv_stream import write_rows
from app.domain.leads.lifecycle import Source
from app.domain.reports.periods import Interval
from app.domain.reports.scope import ReportFilters
from app.routers.problems import NotAcceptable
from app.routers.route import problem_doc

CSV = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class RangeParams:
    first: date | None
    last: date | None
    interval: Interval


PNG = "image/png"
Format = Literal["json", "csv", "png"]


def report_params(
    from_: Annotated[
        date | None, Query(alias="from", description="First local day (ISO date); default: 89 days before `to`")
    ] = None,
    to: Annotated[date | None, Query(description="Last local day, inclusive (ISO date); default: today")] = None,
    interval: Annotated[Interval, Query(description="Periods in the workspace's calendar")] = "week",
) -> RangeParams:
    return RangeParams(from_, to, interval)


def report_filters(
    owner_id: Annotated[UUID | None, Query(description="Leads owned by this member")] = None,
    team_id: Annotated[UUID | None, Query(description="Leads of this team")] = None,
    source: Annotated[Source | None, Query(description="Leads from this source")] = None,
    form_id: Annotated[UUID | None, Query(description="Leads who submitted this form")] = None,
    utm_campaign: Annotated[str | None, Query(max_length=200, description="Leads with this utm_campaign")] = None,
    campaign_id: Annotated[UUID | None, Query(description="Leads this campaign messaged")] = None,
) -> ReportFilters:
    return ReportFilters(
        owner_id=owner_id,
        team_id=team_id,
        source=source.value if source is not None else None,
        form_id=form_id,
        utm_campaign=utm_campaign,
        campaign_id=campaign_id,
    )


_FORMATS: dict[str, Format] = {
    "application/json": "json",
    "text/csv": "csv",
    PNG: "png",
    "application/problem+json": "json",  # asked for by clients that name JSON so: the same answer
}


def wanted(request: Request, *, png: bool = False) -> Format:
    """The format the Accept header prefers among JSON, CSV and PNG (where the report draws a
    chart): its q-values and wildcards weighed (`app.domain.negotiation`), JSON on a tie; no
    header: JSON; 406 when it accepts none of what the report offers."""
    offered = [kind for kind, fmt in _FORMATS.items() if png or fmt != "png"]
    chosen = negotiation.preferred(request.headers.get("accept"), offered)
    if chosen is None:
        raise NotAcceptable(f"this report answers {', '.join(offered[:-1])}")
    return _FORMATS[chosen]


def csv_answer(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    body = "\ufeff" + write_rows([list(header), *(list(r) for r in rows)], ",")
    return Response(body, media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


async def png_answer(draw: Callable[[], bytes]) -> Response:
    """A chart, drawn on a worker thread (matplotlib takes tens of milliseconds of CPU)."""
    return Response(await asyncio.to_thread(draw), media_type=PNG)


def responses(*, png: bool = False) -> dict[int | str, dict[str, Any]]:
    """The 200's other media types, for the OpenAPI document."""
    content: dict[str, Any] = {"text/csv": {"schema": {"type": "string"}}}
    if png:
        content[PNG] = {"schema": {"type": "string", "format": "binary"}}
    offered = "application/json, text/csv" + (", image/png" if png else "")
    return {200: {"content": content}, 406: problem_doc(f"The Accept header allows none of {offered}")}
