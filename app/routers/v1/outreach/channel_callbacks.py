"""Where providers report deliveries and replies (no API key): `/v1/channel-callbacks/{channel_id}/{token}`.

Checked in this order: 415 (a media type no provider sends, or not the one this channel's provider
sends), 404 (no live channel with this id: nothing more said), 401 (the URL's token, then the
provider's own signature where it signs: Twilio's X-Twilio-Signature, Meta's X-Hub-Signature-256);
only then is the body read as events and handed on. A GET is Meta's verification handshake (or a
Kavenegar report sent as a query)."""

from uuid import UUID

from fastapi import APIRouter, Path, Request, Response, Security
from fastapi.security import APIKeyHeader, APIKeyQuery

from app.domain.errors import Unauthorized
from app.domain.outreach.delivery import CallbackRequest, ChannelConfig
from app.domain.outreach.vocabulary import Provider
from app.ids import utcnow
from app.routers.problems import UnsupportedMediaType
from app.routers.route import CrmRoute, problem_doc, read_body, writes
from app.services.context import SERVICE_SCOPES, Actor, Context
from app.services.outreach import channels, inbound
from app.services.outreach.providers import whatsapp_cloud
from app.services.outreach.providers.base import FORM, JSON, MAIL, adapter_for, media_type

router = APIRouter(prefix="/v1/channel-callbacks", tags=["Channels"], route_class=CrmRoute)
# Providers' callbacks are a few kilobytes (a WhatsApp webhook batches a few statuses).
CALLBACK_BODY_LIMIT = 256 * 1024
KNOWN_MEDIA_TYPES = frozenset({FORM, JSON, MAIL})
_RESPONSES = {
    200: {"description": "Received (Twilio: an empty TwiML response)"},
    401: problem_doc("The URL's token or the provider's signature does not match; nothing was stored"),
    404: problem_doc("No live channel with this id"),
    413: problem_doc(f"The body is larger than {CALLBACK_BODY_LIMIT} bytes"),
    415: problem_doc("Not the media type this channel's provider sends"),
}
_EXTRA = {"x-max-body-bytes": CALLBACK_BODY_LIMIT, "x-streamed-body": True}
Token = Path(max_length=200)
# Documented as the operations' security (the adapters read the headers themselves); the URL's token
# authenticates every callback, Kavenegar's alone.
twilio_signature = APIKeyHeader(
    name="X-Twilio-Signature",
    scheme_name="TwilioSignature",
    description="Base64 HMAC-SHA1 of the callback URL and the sorted POST fields with the auth token (Twilio signs it)",
    auto_error=False,
)
meta_signature = APIKeyHeader(
    name="X-Hub-Signature-256",
    scheme_name="MetaSignature",
    description="sha256= and the hex HMAC-SHA256 of the raw body with the app secret (Meta signs it)",
    auto_error=False,
)
meta_verify_token = APIKeyQuery(
    name="hub.verify_token",
    scheme_name="MetaVerifyToken",
    description="The channel's verify token (Meta's webhook verification)",
    auto_error=False,
)
TWIML_EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _callback_request(request: Request, body: bytes, public_url: str) -> CallbackRequest:
    url = public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return CallbackRequest(
        method=request.method,
        url=url,
        headers=dict(request.headers),
        query=dict(request.query_params),
        body=body,
    )


async def _channel(request: Request, channel_id: UUID, token: str, media: str | None = None) -> ChannelConfig:
    """The channel named, in the documented order: 404 (no live channel), 415 (`media` given and
    not what its provider sends), 401 (another token)."""
    public_url = request.app.state.settings.public_url
    channel, token_ok = await channels.callback_channel(request.state.uow, channel_id, token, public_url=public_url)
    accepted = adapter_for(channel.provider).callback_media_types
    if media is not None and media not in accepted:
        named = ", ".join(sorted(accepted)) or "nothing"
        raise UnsupportedMediaType(f"{channel.provider.value} calls back with {named}")
    if not token_ok:
        raise Unauthorized("the callback URL's token does not match this channel")
    return channel


async def _apply(request: Request, channel: ChannelConfig, received: CallbackRequest) -> None:
    events = adapter_for(channel.provider).parse_callback(channel, received)
    ctx = Context(
        request.state.uow, channel.workspace_id, Actor("channel", str(channel.id)), utcnow(), scopes=SERVICE_SCOPES
    )
    await inbound.apply_callback(ctx, channel, events)


@router.post(
    "/{channel_id}/{token}",
    summary="Receive a provider's delivery report or inbound message",
    description="Twilio: form-encoded status callbacks and incoming messages, signed (X-Twilio-Signature). "
    "Kavenegar: form-encoded delivery reports and received messages (unsigned: the URL's token is the proof). "
    "WhatsApp Cloud API: JSON webhooks signed with X-Hub-Signature-256. SMTP: a complaint (ARF, RFC 5965) or a "
    "bounce mailed back (DSN, RFC 3464) forwarded whole as `message/rfc822` (the URL's token is the proof).",
    response_model=None,
    responses=_RESPONSES,
    openapi_extra=_EXTRA,
)
async def receive_channel_callback(
    request: Request,
    channel_id: UUID,
    token: str = Token,
    _twilio: str | None = Security(twilio_signature),
    _meta: str | None = Security(meta_signature),
) -> Response:
    media = media_type(request.headers)
    if media not in KNOWN_MEDIA_TYPES:
        raise UnsupportedMediaType("providers call back with form-encoded or JSON bodies, or a forwarded email")
    channel = await _channel(request, channel_id, token, media)
    adapter = adapter_for(channel.provider)
    body = await read_body(request, CALLBACK_BODY_LIMIT)
    received = _callback_request(request, body, request.app.state.settings.public_url)
    if not adapter.verify_callback(channel, received):
        raise Unauthorized("the provider's signature does not match this channel")
    await _apply(request, channel, received)
    if channel.provider == Provider.TWILIO:
        return Response(TWIML_EMPTY, media_type="text/xml")
    return Response(status_code=200)


@router.get(
    "/{channel_id}/{token}",
    summary="Answer Meta's webhook verification (or a Kavenegar report sent as a query)",
    description="WhatsApp Cloud API: `hub.mode=subscribe`, `hub.verify_token` (the channel's verify token) and "
    "`hub.challenge`, answered with the challenge as text. Kavenegar may send its reports as a GET query.",
    response_model=None,
    responses={200: {"description": "The challenge, as text"}, **{k: v for k, v in _RESPONSES.items() if k != 200}},
)
@writes  # a Kavenegar report sent as a query writes like any report: in one transaction
async def receive_channel_verification(
    request: Request, channel_id: UUID, token: str = Token, _verify: str | None = Security(meta_verify_token)
) -> Response:
    channel = await _channel(request, channel_id, token)
    if channel.provider == Provider.WHATSAPP_CLOUD:
        challenge = whatsapp_cloud.handshake(channel, dict(request.query_params))
        if challenge is None:
            raise Unauthorized("not a verification request with this channel's verify token")
        return Response(challenge, media_type="text/plain")
    if channel.provider == Provider.KAVENEGAR:
        await _apply(request, channel, _callback_request(request, b"", request.app.state.settings.public_url))
        return Response(status_code=200)
    raise UnsupportedMediaType(f"{channel.provider.value} does not call back with GET")
