"""Channels (admin): the email, SMS and WhatsApp accounts the workspace reaches people through.
Secrets are write-only; each channel answers the callback URL its provider reports to."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from app.domain.outreach.vocabulary import ChannelType, Provider
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.outreach.channels import ChannelCreate, ChannelRead, ChannelTest, ChannelTestResult, ChannelUpdate
from app.services.context import Context
from app.services.outreach import channels

router = APIRouter(prefix="/v1/channels", tags=["Channels"], route_class=CrmRoute)
ChannelSort = sort_enum("ChannelSort", "created_at")
# How long a test message may take (connect, send, the provider's answer).
TEST_TIMEOUT_SECONDS = 15.0


class ChannelFilters(BaseModel):
    type: ChannelType | None = None
    provider: Provider | None = None
    archived: bool = Field(default=False, description="true: only archived channels")


def _public_url(request: Request) -> str:
    return str(request.app.state.settings.public_url)


@router.post(
    "",
    status_code=201,
    summary="Create a channel",
    description="The first live channel of a type becomes its default. Secrets (password, api_key, auth_token, "
    "access_token, app_secret, verify_token) are sealed at rest and never answered: a read shows "
    "`settings.<secret>_set`. A bad setting is a 422 naming `settings.<field>`; a provider of another type, "
    "`provider`.",
    response_model=ChannelRead,
)
async def create_channel(
    request: Request, body: ChannelCreate, ctx: Annotated[Context, require_idempotent("admin")]
) -> Answer:
    row = await channels.create(ctx, body.model_dump(), public_url=_public_url(request))
    return Answer(row, location=f"/v1/channels/{row['id']}")


@router.get("", summary="List channels", response_model=Page[ChannelRead])
async def list_channels(
    request: Request,
    ctx: Annotated[Context, require("admin")],
    page: Annotated[Paging, paging(ChannelSort)],
    filters: Annotated[ChannelFilters, Query()],
) -> RowPage:
    return await channels.list_channels(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, public_url=_public_url(request),
        **filters.model_dump(),
    )  # fmt: skip


@router.get("/{channel_id}", summary="Get a channel", response_model=ChannelRead, openapi_extra={"x-conditional": True})
async def get_channel(request: Request, channel_id: UUID, ctx: Annotated[Context, require("admin")]) -> Row:
    return await channels.get(ctx, channel_id, public_url=_public_url(request))


@router.patch(
    "/{channel_id}",
    summary="Change a channel or make it its type's default",
    description="`settings` are merged over the current ones (a secret left out is kept); `is_default: true` "
    "moves the type's default here.",
    response_model=ChannelRead,
)
async def update_channel(
    request: Request,
    channel_id: UUID,
    body: ChannelUpdate,
    ctx: Annotated[Context, require("admin")],
    if_match: IfMatch = None,
) -> Row:
    return await channels.update(
        ctx, channel_id, body.model_dump(exclude_unset=True), if_match=if_match, public_url=_public_url(request)
    )


@router.delete(
    "/{channel_id}",
    summary="Archive a channel",
    description="It sends nothing more and its callback URL answers 404. Archiving a type's default makes the "
    "oldest live channel of that type the default.",
    response_model=ChannelRead,
)
async def archive_channel(
    request: Request, channel_id: UUID, ctx: Annotated[Context, require("admin")], if_match: IfMatch = None
) -> Row:
    return await channels.archive(ctx, channel_id, if_match=if_match, public_url=_public_url(request))


@router.post(
    "/{channel_id}/test",
    summary="Send a test message through a channel now",
    description="`to`: an email address (email channels) or an E.164 phone. Answers how the attempt ended "
    "(`outcome`: sent, retry, unknown, bounced, failed) with the provider's answer in `detail`. A WhatsApp text "
    "message reaches only someone who wrote to the number in the last 24 hours.",
    response_model=ChannelTestResult,
)
async def test_channel(
    request: Request, channel_id: UUID, body: ChannelTest, ctx: Annotated[Context, require_idempotent("admin")]
) -> ChannelTestResult:
    settings = request.app.state.settings
    result = await channels.send_test(
        ctx, channel_id, body.to, body.text, public_url=settings.public_url,
        allow_loopback=settings.outbound_allow_loopback, timeout=TEST_TIMEOUT_SECONDS,
    )  # fmt: skip
    return ChannelTestResult(
        outcome=result.outcome, detail=result.detail, provider_message_id=result.provider_message_id
    )
