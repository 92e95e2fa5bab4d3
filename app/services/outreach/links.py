"""The public addresses a message carries: tracked clicks (`/t/c/{token}`), the open pixel
(`/t/o/{token}`), unsubscribe (`/u/{token}`) and a form sign-up's confirmation
(`/confirm/{token}`), on PUBLIC_BASE_URL. Tokens are signed
(app/sealing.py) and name the workspace and the message, so a bad or altered token is refused
without a database read and reveals nothing."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from uuid import UUID

from app.config import Settings, get_settings
from app.domain.outreach.vocabulary import PersonRef
from app.sealing import sealer

CLICK, OPEN, UNSUBSCRIBE, CONFIRM = "click", "open", "unsubscribe", "confirm"
_base: str | None = None


def configure(settings: Settings) -> None:
    """The public base URL links are built on (the API and the worker set it at start-up)."""
    global _base
    _base = settings.public_url


def base_url() -> str:
    return _base or get_settings().public_url


@dataclass(frozen=True, slots=True)
class Token:
    workspace_id: UUID
    message_id: UUID
    position: int = 0  # a click: which link of the message


def token(purpose: str, workspace_id: UUID, message_id: UUID, position: int = 0) -> str:
    payload = workspace_id.bytes + message_id.bytes + (struct.pack(">H", position) if purpose == CLICK else b"")
    return sealer().sign(purpose, payload)


def read(purpose: str, value: str) -> Token | None:
    """The token's workspace, message (and link position), or None for anything not signed by us
    for this purpose."""
    payload = sealer().unsign(purpose, value)
    size = 34 if purpose == CLICK else 32
    if payload is None or len(payload) != size:
        return None
    position = struct.unpack(">H", payload[32:34])[0] if purpose == CLICK else 0
    return Token(UUID(bytes=payload[:16]), UUID(bytes=payload[16:32]), position)


def click_url(workspace_id: UUID, message_id: UUID, position: int) -> str:
    return f"{base_url()}/t/c/{token(CLICK, workspace_id, message_id, position)}"


def open_url(workspace_id: UUID, message_id: UUID) -> str:
    return f"{base_url()}/t/o/{token(OPEN, workspace_id, message_id)}"


def unsubscribe_url(workspace_id: UUID, message_id: UUID) -> str:
    return f"{base_url()}/u/{token(UNSUBSCRIBE, workspace_id, message_id)}"


@dataclass(frozen=True, slots=True)
class Confirmation:
    workspace_id: UUID
    person: PersonRef
    submission_id: UUID


def confirmation_url(workspace_id: UUID, person: PersonRef, submission_id: UUID) -> str:
    """The double opt-in link for the person a form submission named."""
    kind = b"\x00" if person.kind == "lead" else b"\x01"
    payload = workspace_id.bytes + kind + person.id.bytes + submission_id.bytes
    return f"{base_url()}/confirm/{sealer().sign(CONFIRM, payload)}"


def read_confirmation(value: str) -> Confirmation | None:
    payload = sealer().unsign(CONFIRM, value)
    if payload is None or len(payload) != 49 or payload[16] not in (0, 1):
        return None
    person = PersonRef("lead" if payload[16] == 0 else "contact", UUID(bytes=payload[17:33]))
    return Confirmation(UUID(bytes=payload[:16]), person, UUID(bytes=payload[33:49]))
