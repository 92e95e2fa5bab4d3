"""Consent per channel of a lead or a contact, and its history."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter

from app.domain.outreach.vocabulary import ChannelType, PersonRef
from app.routers.answers import RowPage
from app.routers.dependencies import Paging, paging, require, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.outreach.consents import ConsentChangeRead, ConsentList, ConsentRead, ConsentWrite
from app.services.context import Context
from app.services.outreach import consents

router = APIRouter(prefix="/v1", tags=["Consent"], route_class=CrmRoute)
HistorySort = sort_enum("ConsentHistorySort", "created_at")


@router.get("/leads/{lead_id}/consents", summary="A lead's consent on every channel", response_model=ConsentList)
async def list_lead_consents(lead_id: UUID, ctx: Annotated[Context, require("leads:read")]) -> ConsentList:
    return ConsentList.model_validate({"data": await consents.consents_of(ctx, PersonRef("lead", lead_id))})


@router.get(
    "/leads/{lead_id}/consents/history",
    summary="A lead's consent changes, newest first",
    response_model=Page[ConsentChangeRead],
)
async def list_lead_consent_history(
    lead_id: UUID,
    ctx: Annotated[Context, require("leads:read")],
    page: Annotated[Paging, paging(HistorySort, "-created_at")],
) -> RowPage:
    person = PersonRef("lead", lead_id)
    return await consents.history(ctx, person, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.put(
    "/leads/{lead_id}/consents/{channel}", summary="Set a lead's consent on a channel", response_model=ConsentRead
)
async def set_lead_consent(
    lead_id: UUID, channel: ChannelType, body: ConsentWrite, ctx: Annotated[Context, require("leads:write")]
) -> ConsentRead:
    entry = await consents.update(ctx, PersonRef("lead", lead_id), channel, _values(body))
    return ConsentRead.model_validate(entry)


@router.get(
    "/contacts/{contact_id}/consents", summary="A contact's consent on every channel", response_model=ConsentList
)
async def list_contact_consents(contact_id: UUID, ctx: Annotated[Context, require("contacts:read")]) -> ConsentList:
    return ConsentList.model_validate({"data": await consents.consents_of(ctx, PersonRef("contact", contact_id))})


@router.get(
    "/contacts/{contact_id}/consents/history",
    summary="A contact's consent changes, newest first",
    response_model=Page[ConsentChangeRead],
)
async def list_contact_consent_history(
    contact_id: UUID,
    ctx: Annotated[Context, require("contacts:read")],
    page: Annotated[Paging, paging(HistorySort, "-created_at")],
) -> RowPage:
    person = PersonRef("contact", contact_id)
    return await consents.history(ctx, person, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.put(
    "/contacts/{contact_id}/consents/{channel}",
    summary="Set a contact's consent on a channel",
    response_model=ConsentRead,
)
async def set_contact_consent(
    contact_id: UUID, channel: ChannelType, body: ConsentWrite, ctx: Annotated[Context, require("contacts:write")]
) -> ConsentRead:
    entry = await consents.update(ctx, PersonRef("contact", contact_id), channel, _values(body))
    return ConsentRead.model_validate(entry)


def _values(body: ConsentWrite) -> dict[str, object]:
    proof = body.proof.model_dump(mode="json", exclude_none=True) if body.proof is not None else None
    return {"status": body.status, "source": body.source, "proof": proof}
