"""Ids are made by the service, time-ordered (UUIDv7), so inserts stay local in indexes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import uuid6


def new_id() -> uuid.UUID:
    return uuid.UUID(int=uuid6.uuid7().int)


def utcnow() -> datetime:
    return datetime.now(UTC)
