"""What every provider adapter offers, and the registry that picks one for a channel's provider.

An adapter sends one rendered message and tells how the attempt ended (`Outcome`), and reads the
provider's callbacks: whether a request really came from the provider, and what it says. An
adapter whose provider can look a message up by an id of ours (`LookupAdapter`: Kavenegar's
`localid`) also tells whether a send whose answer was lost reached it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl
from uuid import UUID

from app.domain.outreach.delivery import (
    CallbackEvent,
    CallbackRequest,
    ChannelConfig,
    LookupResult,
    Outcome,
    Outgoing,
    SendResult,
)
from app.domain.outreach.vocabulary import Provider
from app.outbound import Reply

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAIL = "message/rfc822"  # a whole email, forwarded
# The most of a provider's answer an adapter reads (their answers are a few hundred bytes).
KEEP_BYTES = 64 * 1024


class ProviderAdapter(Protocol):
    # The media types this provider's callbacks come as (others are answered 415).
    callback_media_types: frozenset[str]

    async def send(
        self,
        channel: ChannelConfig,
        outgoing: Outgoing,
        *,
        allow_loopback: bool,
        timeout: float,  # noqa: ASYNC109 - the adapters' interface
    ) -> SendResult: ...

    def verify_callback(self, channel: ChannelConfig, request: CallbackRequest) -> bool: ...

    def parse_callback(self, channel: ChannelConfig, request: CallbackRequest) -> list[CallbackEvent]: ...


@runtime_checkable
class LookupAdapter(Protocol):
    """A provider that finds a message by our own id, sent with it: whether a send whose answer was
    lost reached it (and then its id for it), or provably not."""

    # How long after a send the provider still knows it by our id: a "not found" later proves nothing.
    lookup_window: timedelta

    async def look_up(
        self,
        channel: ChannelConfig,
        message_id: UUID,
        *,
        allow_loopback: bool,
        timeout: float,  # noqa: ASYNC109 - the adapters' interface
    ) -> LookupResult: ...


def lookup_for(provider: Provider | str) -> LookupAdapter | None:
    """The provider's lookup of a send by our id; None for a provider that offers none."""
    adapter = adapter_for(provider)
    return adapter if isinstance(adapter, LookupAdapter) else None


def adapter_for(provider: Provider | str) -> ProviderAdapter:
    """The adapter of a provider (KeyError for one the service does not speak)."""
    from app.services.outreach.providers import kavenegar, smtp, twilio, whatsapp_cloud

    adapters: dict[Provider, ProviderAdapter] = {
        Provider.SMTP: smtp.ADAPTER,
        Provider.KAVENEGAR: kavenegar.ADAPTER,
        Provider.TWILIO: twilio.ADAPTER,
        Provider.WHATSAPP_CLOUD: whatsapp_cloud.ADAPTER,
    }
    return adapters[Provider(provider)]


def media_type(headers: Mapping[str, str]) -> str:
    """The request's media type, lower-cased, without parameters ("" for none)."""
    raw = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return raw.split(";", 1)[0].strip().lower()


def header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def form_pairs(request: CallbackRequest) -> list[tuple[str, str]]:
    """A form-encoded body's fields in order (a GET callback's query instead)."""
    if request.method.upper() == "GET":
        return list(request.query.items())
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return parse_qsl(text, keep_blank_values=True)


def transport_failure(reply: Reply) -> SendResult:
    """The outcome of an HTTP attempt that got no complete answer.

    Refused before anything was sent (no connection, a name that does not resolve, a TLS
    handshake that failed, too many pending lookups): RETRY. A target the address guard refuses:
    FAILED (trying again cannot help). A timeout, a broken connection or an answer that is not
    HTTP once the request may have been sent: UNKNOWN (the provider may have taken it)."""
    error = reply.error or "no answer"
    if reply.timed_out:
        return SendResult(Outcome.UNKNOWN, detail=error)
    if error in ("address not allowed", "invalid URL"):
        return SendResult(Outcome.FAILED, detail=error)
    before_hand_off = (
        error == "could not connect"
        or error.startswith("cannot resolve")
        or error.startswith("TLS")
        or error == "name lookup busy"
    )
    return SendResult(Outcome.RETRY if before_hand_off else Outcome.UNKNOWN, detail=error)


def short(text: str | None, limit: int = 300) -> str:
    return (text or "").strip().replace("\n", " ")[:limit]


def e164_of(raw: str) -> str:
    """A phone number a provider reports as E.164 ("+989121234567"): digits with a plus; a number
    given without one is taken to carry its country code ("989121234567" → "+989121234567")."""
    cleaned = raw.strip().replace(" ", "")
    if cleaned.startswith("+"):
        return cleaned
    if cleaned.startswith("00"):
        return "+" + cleaned[2:]
    return "+" + cleaned


MESSAGE_PARAMETER = "message"


def message_of(value: Any) -> UUID | None:
    """Our message id as a provider echoed it back (a callback URL's query, an opaque field)."""
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None
