"""`/v1/messages`: send to a lead or a contact (one, or a batch), read what was sent; and the
public paths messages carry, served without a key: tracked clicks, the open pixel, unsubscribe."""

from __future__ import annotations

from html import escape
from typing import Annotated, Any, NoReturn
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import AwareDatetime

from app.domain.errors import NotFound
from app.domain.outreach.vocabulary import ChannelType, MessageStatus, Purpose
from app.ids import utcnow
from app.routers.answers import Answer, RowPage
from app.routers.dependencies import Paging, enforce_rate_limit, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute, problem_doc, writes
from app.schemas.common import Page
from app.schemas.outreach.messages import MessageBatch, MessageBatchResult, MessageCreate, MessageDetail, MessageRead
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.outreach import confirmations, inbound, links, messages
from app.services.workspace import workspaces

router = APIRouter(prefix="/v1/messages", tags=["Messages"], route_class=CrmRoute)
public_router = APIRouter(tags=["Message links"], route_class=CrmRoute)
MessageSort = sort_enum("MessageSort", "created_at")
BATCH_BODY_LIMIT = 8 * 1024 * 1024


@router.post(
    "",
    status_code=202,
    summary="Send a message to a lead or a contact (queued, or blocked with a reason)",
    description="The answer is the message: `queued` (the worker sends it at `send_at`, which quiet hours and "
    "the frequency cap may have moved later) or `blocked` with `block_reason` (no_consent, opted_out, "
    "suppressed, invalid_address, frequency_cap, channel_missing). Sending needs `messages:write` and the "
    "person's read scope (`leads:read` or `contacts:read`).",
    response_model=MessageRead,
    responses={202: {"description": "Accepted: queued or blocked; follow it at Location"}},
)
async def send_message(body: MessageCreate, ctx: Annotated[Context, require_idempotent("messages:write")]) -> Answer:
    messages.check_person_scope(ctx, body)
    row = await messages.send(ctx, body)
    return Answer(row, location=f"/v1/messages/{row['id']}")


@router.post(
    "/batch",
    summary="Send up to 1,000 messages; per-item results",
    response_model=MessageBatchResult,
    openapi_extra={"x-max-body-bytes": BATCH_BODY_LIMIT},
)
async def send_messages(
    body: MessageBatch, ctx: Annotated[Context, require_idempotent("messages:write")]
) -> MessageBatchResult:
    return MessageBatchResult.model_validate({"results": await messages.send_batch(ctx, body.messages)})


@router.get("", summary="List messages", response_model=Page[MessageRead])
async def list_messages(
    ctx: Annotated[Context, require("messages:read")],
    page: Annotated[Paging, paging(MessageSort)],
    lead_id: UUID | None = None,
    contact_id: UUID | None = None,
    channel: ChannelType | None = None,
    status: MessageStatus | None = None,
    purpose: Purpose | None = None,
    created_after: Annotated[AwareDatetime | None, Query(description="Created at or after (with its offset)")] = None,
    created_before: Annotated[AwareDatetime | None, Query(description="Created before (with its offset)")] = None,
) -> RowPage:
    return await messages.list_messages(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, lead_id=lead_id, contact_id=contact_id,
        channel=channel, status=status, purpose=purpose, created_after=created_after, created_before=created_before,
    )  # fmt: skip


@router.get(
    "/{message_id}",
    summary="A message with its status history",
    response_model=MessageDetail,
    openapi_extra={"x-conditional": True},
)
async def get_message(message_id: UUID, ctx: Annotated[Context, require("messages:read")]) -> dict[str, Any]:
    return await messages.get(ctx, message_id)


# -- public paths ---------------------------------------------------------------------------------

NOT_FOUND = problem_doc("No such link (a bad token reveals nothing)")
# The smallest transparent GIF.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


async def _context(request: Request, purpose: str, token: str) -> tuple[Context, links.Token]:
    """The link's workspace and message. A signed token is not rate limited (mailbox providers'
    image proxies and one-click unsubscribes come from a few shared addresses, many at once);
    bad tokens are, per client address, as failed authentications are."""
    read = links.read(purpose, token)
    if read is None:
        await _refuse(request)
    ctx = Context(request.state.uow, read.workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
    return ctx, read


async def _refuse(request: Request) -> NoReturn:
    """A bad token: counted against the client address's failed-authentication budget, then a 404
    that reveals nothing."""
    settings = request.app.state.settings
    client_ip = request.client.host if request.client else "unknown"
    await enforce_rate_limit(request, f"link-failures:{client_ip}", settings.rate_limit_auth_failures_per_minute,
                             "auth-failures")  # fmt: skip
    raise NotFound("no such link")


@public_router.get(
    "/t/c/{token}",
    status_code=303,
    summary="A tracked link: records the click and redirects to the link's target",
    responses={303: {"description": "See Other: the link's target"}, 404: NOT_FOUND},
)
@writes
async def track_click(request: Request, token: str) -> Response:
    ctx, read = await _context(request, links.CLICK, token)
    target = await inbound.clicked(ctx, read.message_id, read.position)
    if target is None:
        raise NotFound("no such link")
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


@public_router.get(
    "/t/o/{token}",
    summary="The open pixel: records the first open",
    responses={200: {"content": {"image/gif": {}}, "description": "A transparent one-pixel GIF"}, 404: NOT_FOUND},
)
@writes
async def track_open(request: Request, token: str) -> Response:
    ctx, read = await _context(request, links.OPEN, token)
    await inbound.opened(ctx, read.message_id)
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store, private"})


_PAGE = """<!doctype html>
<html lang="{lang}" dir="{dir}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">
<h1 style="font-size:1.4rem">{title}</h1><p>{text}</p>{form}</body></html>"""
_UNSUBSCRIBE = {
    "fa": {
        "ask": "لغو اشتراک",
        "ask_text": "دیگر پیام تبلیغاتی از ما دریافت نمی‌کنید. پیام‌های ضروری (مثل رسید) همچنان ارسال می‌شوند.",
        "button": "لغو اشتراک", "done": "اشتراک شما لغو شد", "done_text": "دیگر پیام تبلیغاتی از ما دریافت نمی‌کنید.",
    },
    "en": {
        "ask": "Unsubscribe", "ask_text": "You will no longer receive marketing messages from us. Messages you need "
        "(a receipt, a booking) still reach you.",
        "button": "Unsubscribe", "done": "You are unsubscribed", "done_text": "You will no longer receive marketing "
        "messages from us.",
    },
}  # fmt: skip


_CONFIRM = {
    "fa": {
        "ask": "تأیید اشتراک", "ask_text": "برای دریافت پیام‌های ما، اشتراک خود را تأیید کنید.",
        "button": "تأیید اشتراک", "done": "اشتراک شما تأیید شد", "done_text": "از این پس پیام‌های ما را دریافت می‌کنید. "
        "هر پیام پیوند لغو اشتراک دارد.",
    },
    "en": {
        "ask": "Confirm your subscription", "ask_text": "Confirm that you want to receive our messages.",
        "button": "Confirm", "done": "Your subscription is confirmed", "done_text": "You will receive our messages "
        "from now on. Each carries a link to unsubscribe.",
    },
}  # fmt: skip


async def _page(ctx: Context, done: bool, action: str, texts: dict[str, dict[str, str]] = _UNSUBSCRIBE) -> HTMLResponse:
    lang = "fa" if await workspaces.default_region(ctx) == "IR" else "en"
    words = texts[lang]
    button = f'<button type="submit">{words["button"]}</button>'
    form = "" if done else f'<form method="post" action="{escape(action)}">{button}</form>'
    html = _PAGE.format(
        lang=lang, dir="rtl" if lang == "fa" else "ltr", title=words["done" if done else "ask"],
        text=words["done_text" if done else "ask_text"], form=form,
    )  # fmt: skip
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@public_router.get(
    "/u/{token}",
    summary="Unsubscribe: a confirmation page (changes nothing: link scanners follow GETs)",
    responses={200: {"content": {"text/html": {}}, "description": "The confirmation page"}, 404: NOT_FOUND},
)
async def get_unsubscribe_page(request: Request, token: str) -> Response:
    ctx, read = await _context(request, links.UNSUBSCRIBE, token)
    if await inbound.unsubscribe_target(ctx, read.message_id) is None:
        raise NotFound("no such link")
    return await _page(ctx, done=False, action=str(request.url.path))


@public_router.post(
    "/u/{token}",
    summary="Unsubscribe now: the one-click POST (RFC 8058) and the confirmation page's button",
    description="Sets the person's consent on the message's channel to `opted_out` and emits `consent.updated`; "
    "transactional messages still go.",
    responses={200: {"content": {"text/html": {}}, "description": "Unsubscribed"}, 404: NOT_FOUND},
)
async def record_unsubscribe(request: Request, token: str) -> Response:
    ctx, read = await _context(request, links.UNSUBSCRIBE, token)
    if not await inbound.unsubscribed(ctx, read.message_id):
        raise NotFound("no such link")
    return await _page(ctx, done=True, action=str(request.url.path))


async def _confirmation(request: Request, token: str) -> tuple[Context, links.Confirmation]:
    read = links.read_confirmation(token)
    if read is None:
        await _refuse(request)
    return Context(request.state.uow, read.workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES), read


@public_router.get(
    "/confirm/{token}",
    summary="Double opt-in: the confirmation page (changes nothing: link scanners follow GETs)",
    responses={200: {"content": {"text/html": {}}, "description": "The page with its button"}, 404: NOT_FOUND},
)
async def get_confirmation_page(request: Request, token: str) -> Response:
    ctx, read = await _confirmation(request, token)
    if await confirmations.pending(ctx, read) is None:
        raise NotFound("no such link")
    return await _page(ctx, done=False, action=str(request.url.path), texts=_CONFIRM)


@public_router.post(
    "/confirm/{token}",
    summary="Double opt-in: confirm the email subscription a form asked for",
    description="Sets the person's email consent to `opted_in` (source `confirmation`, its proof the form "
    "submission's with the confirming IP and user agent) and emits `consent.updated`. A link is good for 30 days "
    "after its submission, and never over an opt-out made after it (404).",
    responses={200: {"content": {"text/html": {}}, "description": "Confirmed"}, 404: NOT_FOUND},
)
async def confirm_subscription(request: Request, token: str) -> Response:
    ctx, read = await _confirmation(request, token)
    ip = request.client.host if request.client else None
    if not await confirmations.confirm(ctx, read, ip=ip, user_agent=request.headers.get("user-agent")):
        raise NotFound("no such link")
    return await _page(ctx, done=True, action=str(request.url.path), texts=_CONFIRM)
