"""Channels: how a workspace reaches people (email over SMTP, SMS over Kavenegar or Twilio,
WhatsApp over the Cloud API), with their secrets sealed at rest and never answered.

- Settings are validated per provider (a 422 names `settings.<field>`; a provider of another
  channel type names `provider`). Secrets (password, api_key, auth_token, access_token,
  app_secret, verify_token) are sealed into `secrets`; reads show `<secret>_set` flags.
- Defaults: the first live channel of a type is its default; `is_default: true` moves it;
  archiving the default makes the oldest live channel of that type the default.
- Callbacks: `{public_url}/v1/channel-callbacks/{id}/{token}`, the token signed for the channel
  (`sealer().sign("channel-callback", id.bytes)`); its SHA-256 is stored and checked."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any
from uuid import UUID

from pydantic import EmailStr, TypeAdapter, ValidationError

from app.db.repositories.base import Page, Row
from app.db.unit_of_work import UnitOfWork
from app.domain.concurrency import check_if_match
from app.domain.errors import Conflict, ErrorList, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.outreach.delivery import ChannelConfig, Outcome, Outgoing, SendResult
from app.domain.outreach.vocabulary import PROVIDERS, ChannelType, Provider
from app.domain.pagination import Sort
from app.ids import new_id
from app.outbound import on_behalf_of
from app.schemas.outreach.channels import SETTINGS, ChannelRead
from app.sealing import InvalidToken, sealer
from app.services.context import Context, write_changes
from app.services.events import events
from app.services.outreach import links
from app.services.outreach.providers.base import adapter_for

log = logging.getLogger("app.services")

CALLBACK_PURPOSE = "channel-callback"
CALLBACK_PATH = "/v1/channel-callbacks"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)


def callback_token(channel_id: UUID) -> str:
    return sealer().sign(CALLBACK_PURPOSE, channel_id.bytes)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def callback_url(public_url: str, channel_id: UUID) -> str:
    return f"{public_url.rstrip('/')}{CALLBACK_PATH}/{channel_id}/{callback_token(channel_id)}"


def _public(public_url: str | None) -> str:
    return public_url if public_url is not None else links.base_url()


UNREADABLE = (
    "the channel's secrets cannot be opened with this installation's SECRETS_KEY: set the key they were "
    "sealed with, or enter the secrets again"
)


def secrets_of(row: Row) -> dict[str, str] | None:
    """A channel's opened secrets ({} for none); None when no key of SECRETS_KEY opens them (the
    key was changed or lost): the channel then reads, but sends nothing until they are entered again."""
    if not row["secrets"]:
        return {}
    try:
        return sealer().open_sealed(row["secrets"])
    except InvalidToken:
        log.warning("channel %s: %s", row["id"], UNREADABLE)
        return None


def read(row: Row, public_url: str) -> dict[str, Any]:
    """The channel as answered: settings without secrets, a `<secret>_set` flag for each secret
    (null for each when the stored secrets cannot be opened: `secrets_readable` false)."""
    secrets = secrets_of(row)
    model = SETTINGS[Provider(row["provider"])]
    settings = dict(row["settings"] or {})
    for name in model.SECRETS:
        settings[f"{name}_set"] = bool(secrets.get(name)) if secrets is not None else None
    return {
        **{k: v for k, v in row.items() if k not in ("secrets", "settings", "callback_token_digest", "workspace_id")},
        "settings": settings,
        "secrets_readable": secrets is not None,
        "callback_url": callback_url(public_url, row["id"]),
    }


def _validated(channel_type: str, provider: str, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(settings, secrets) of a provider's settings, or a 422 naming each bad field."""
    if Provider(provider) not in PROVIDERS[ChannelType(channel_type)]:
        allowed = ", ".join(sorted(PROVIDERS[ChannelType(channel_type)]))
        raise InvalidInput.field("provider", f"a {channel_type} channel's provider is one of: {allowed}")
    model = SETTINGS[Provider(provider)]
    try:
        parsed = model.model_validate(values)
    except ValidationError as exc:
        errors = ErrorList()
        for error in exc.errors():
            loc = ".".join(str(part) for part in error["loc"])
            if not loc and provider == Provider.TWILIO:
                loc = "from"
            errors.add(f"settings.{loc}" if loc else "settings", error["msg"], type=error["type"])
        errors.raise_if_any()
        raise
    dumped = parsed.model_dump(mode="json", by_alias=True)
    secrets = {name: str(dumped.pop(name)) for name in model.SECRETS if dumped.get(name) is not None}
    for name in model.SECRETS:
        dumped.pop(name, None)
    return {k: v for k, v in dumped.items() if v is not None}, secrets


async def _get(ctx: Context, channel_id: UUID) -> Row:
    row = await ctx.channels.get(channel_id)
    if row is None:
        raise NotFound("no channel with this id")
    return row


async def _announce(ctx: Context, event_type: str, row: Row, public_url: str, previous: Row | None = None) -> None:
    before = ChannelRead.model_validate(read(previous, public_url)) if previous is not None else None
    await events.record(ctx, event_type, ChannelRead.model_validate(read(row, public_url)), previous=before)


async def create(ctx: Context, values: dict[str, Any], *, public_url: str) -> dict[str, Any]:
    settings, secrets = _validated(values["type"], values["provider"], values["settings"])
    channel_id = new_id()
    is_default = await ctx.channels.default_of(values["type"]) is None
    row = await ctx.channels.create(
        {
            "id": channel_id,
            "type": values["type"],
            "provider": values["provider"],
            "name": values["name"],
            "settings": settings,
            "secrets": sealer().seal(secrets) if secrets else None,
            "is_default": is_default,
            "callback_token_digest": token_digest(callback_token(channel_id)),
            **ctx.audit_new(),
        }
    )
    await _announce(ctx, types.CHANNEL_CREATED, row, public_url)
    return read(row, public_url)


async def get(ctx: Context, channel_id: UUID, *, public_url: str) -> dict[str, Any]:
    return read(await _get(ctx, channel_id), public_url)


async def list_channels(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, public_url: str, archived: bool = False,
    type: str | None = None, provider: str | None = None,
) -> Page[dict[str, Any]]:  # fmt: skip
    page = await ctx.channels.list(
        sort=sort, cursor=cursor, limit=limit, archived=archived, type=type, provider=provider
    )
    return Page([read(row, public_url) for row in page.rows], page.next_cursor)


async def update(
    ctx: Context, channel_id: UUID, changes: dict[str, Any], *, if_match: str | None, public_url: str
) -> dict[str, Any]:
    row = await _get(ctx, channel_id)
    check_if_match(if_match, row["version"])
    if row["archived_at"] is not None:
        raise Conflict("the channel is archived")
    values: dict[str, Any] = {}
    if changes.get("name") is not None and changes["name"] != row["name"]:
        values["name"] = changes["name"]
    if changes.get("settings") is not None:
        current_secrets = secrets_of(row) or {}  # unreadable ones are replaced by what is entered now
        merged: dict[str, Any] = {**(row["settings"] or {}), **current_secrets}
        for key, value in changes["settings"].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        settings, secrets = _validated(row["type"], row["provider"], merged)
        if settings != row["settings"]:
            values["settings"] = settings
        if secrets != current_secrets:
            values["secrets"] = sealer().seal(secrets) if secrets else None
    moved_from: tuple[Row, Row] | None = None
    if changes.get("is_default") and not row["is_default"]:
        previous = await ctx.channels.default_of(row["type"])
        if previous is not None:
            cleared = await ctx.channels.set_default(previous["id"], False, ctx.audit_change())
            assert cleared is not None
            moved_from = (previous, cleared)
        values["is_default"] = True
    if not values:
        return read(row, public_url)
    updated = await write_changes(ctx, row, values, lambda version, v: ctx.channels.update(channel_id, version, v),
                                  if_match=if_match)  # fmt: skip
    if moved_from is not None:
        await _announce(ctx, types.CHANNEL_UPDATED, moved_from[1], public_url, moved_from[0])
    await _announce(ctx, types.CHANNEL_UPDATED, updated, public_url, row)
    return read(updated, public_url)


async def archive(ctx: Context, channel_id: UUID, *, if_match: str | None, public_url: str) -> dict[str, Any]:
    """Archive a channel (it sends nothing more; its callback URL answers 404); archiving its
    type's default makes the oldest live channel of that type the default."""
    row = await _get(ctx, channel_id)
    check_if_match(if_match, row["version"])
    if row["archived_at"] is not None:
        return read(row, public_url)
    updated = await write_changes(
        ctx, row, {"archived_at": ctx.now, "is_default": False},
        lambda version, v: ctx.channels.update(channel_id, version, v), if_match=if_match,
    )  # fmt: skip
    await _announce(ctx, types.CHANNEL_ARCHIVED, updated, public_url, row)
    if row["is_default"]:
        heir = await ctx.channels.oldest_live(row["type"])
        if heir is not None:
            promoted = await ctx.channels.set_default(heir["id"], True, ctx.audit_change())
            assert promoted is not None
            await _announce(ctx, types.CHANNEL_UPDATED, promoted, public_url, heir)
    return read(updated, public_url)


async def default_for(
    ctx: Context, channel_type: ChannelType, *, public_url: str | None = None
) -> dict[str, Any] | None:
    """The live default channel of a type, as answered (no secrets); None when there is none."""
    row = await ctx.channels.default_of(channel_type.value)
    return read(row, _public(public_url)) if row is not None else None


def config(row: Row, public_url: str) -> ChannelConfig:
    secrets = secrets_of(row)
    return ChannelConfig(
        id=row["id"],
        workspace_id=row["workspace_id"],
        type=ChannelType(row["type"]),
        provider=Provider(row["provider"]),
        settings=dict(row["settings"] or {}),
        secrets=secrets or {},
        callback_url=callback_url(public_url, row["id"]),
        secrets_readable=secrets is not None,
    )


async def config_of(ctx: Context, channel_id: UUID, *, public_url: str | None = None) -> ChannelConfig | None:
    """A live channel as its adapter needs it (secrets opened); None when unknown or archived."""
    row = await ctx.channels.get(channel_id)
    if row is None or row["archived_at"] is not None:
        return None
    return config(row, _public(public_url))


async def callback_channel(
    uow: UnitOfWork, channel_id: UUID, token: str, *, public_url: str
) -> tuple[ChannelConfig, bool]:
    """The live channel a provider's callback URL names, and whether the URL's token is its own;
    404 for an unknown or archived channel (nothing more said). The caller answers 401 for another
    token once it has told an unsupported media type (415) apart."""
    row = await uow.system().channel(channel_id)
    if row is None or row["archived_at"] is not None:
        raise NotFound("no channel with this id")
    return config(row, public_url), hmac.compare_digest(token_digest(token), row["callback_token_digest"])


def _test_message(channel: ChannelConfig, to: str, text: str, now: datetime, message_id: UUID) -> Outgoing:
    if channel.type == ChannelType.EMAIL:
        try:
            address = _EMAIL.validate_python(to)
        except ValidationError as exc:
            raise InvalidInput.field("to", "not an email address") from exc
        settings = channel.settings
        sender = str(settings["from_email"])
        mail = EmailMessage()
        mail["From"] = formataddr((str(settings.get("from_name") or ""), sender))
        mail["To"] = address
        mail["Subject"] = "Test message"
        mail["Date"] = format_datetime(now)
        mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        if settings.get("reply_to"):
            mail["Reply-To"] = str(settings["reply_to"])
        mail.set_content(text)
        return Outgoing(message_id, channel.type, address, body_text=text, mime=mail.as_bytes(), envelope_from=sender)
    if not E164.match(to):
        raise InvalidInput.field("to", "not a phone number in E.164 form (e.g. +14155550100)")
    return Outgoing(message_id, channel.type, to, body_text=text)


async def send_test(
    ctx: Context, channel_id: UUID, to: str, text: str | None, *, public_url: str, allow_loopback: bool,
    timeout: float,  # noqa: ASYNC109 - the adapters' own deadline
) -> SendResult:  # fmt: skip
    """Send a short test message now through the channel's provider and tell how it ended."""
    row = await _get(ctx, channel_id)
    if row["archived_at"] is not None:
        raise Conflict("the channel is archived")
    channel = config(row, public_url)
    if not channel.secrets_readable:
        return SendResult(Outcome.FAILED, detail=UNREADABLE)
    # Nothing to write: the request's transaction ends before the provider is waited for.
    await ctx.uow.commit()
    outgoing = _test_message(channel, to, text or "Test message: this channel works.", ctx.now, new_id())
    with on_behalf_of(ctx.workspace_id):
        return await adapter_for(channel.provider).send(
            channel, outgoing, allow_loopback=allow_loopback, timeout=timeout
        )
