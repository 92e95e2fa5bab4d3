from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.schemas.leads.routing import SpeedToLeadReport
from app.services.context import Context
from app.services.leads import sla

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)


@router.get(
    "/speed-to-lead",
    summary="First-response times: p50/p90, share within the SLA and response buckets, overall and by group",
    description="Covers the leads the SLA applied to that were captured in the window. Times are working "
    "seconds (business hours, when set).",
    response_model=SpeedToLeadReport,
)
async def get_speed_to_lead_report(
    ctx: Annotated[Context, require("leads:read")],
    created_after: Annotated[datetime | None, Query(description="Leads captured at or after")] = None,
    created_before: Annotated[datetime | None, Query(description="Leads captured before")] = None,
    group_by: Annotated[Literal["owner", "team", "source"] | None, Query()] = None,
    conversion: Annotated[
        Literal["qualified", "won", "customer"] | None,
        Query(
            description="Add each bucket's conversion rate: leads qualified, whose opportunity was won, or who "
            "became customers (a purchase)"
        ),
    ] = None,
) -> SpeedToLeadReport:
    return await sla.speed_to_lead(
        ctx, created_after=created_after, created_before=created_before, group_by=group_by, conversion=conversion
    )
