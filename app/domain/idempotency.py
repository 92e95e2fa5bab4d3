"""Idempotency-Key semantics (IETF draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidInput

RETENTION = timedelta(hours=24)
# A first request whose process died leaves a lock that stops blocking retries after this long.
LOCK_TIMEOUT = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput.field(
            "Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} printable characters", location="header"
        )
    return key


@dataclass(frozen=True)
class StoredKey:
    fingerprint: str
    completed: bool
    locked_at: datetime
    expires_at: datetime


class Decision:
    PROCEED = "proceed"
    REPLAY = "replay"


def decide(stored: StoredKey | None, request_fingerprint: str, now: datetime) -> str:
    """What a request with an Idempotency-Key does, given what is stored under that key."""
    if stored is None or stored.expires_at <= now:
        return Decision.PROCEED
    if stored.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request; use a new key")
    if stored.completed:
        return Decision.REPLAY
    if now - stored.locked_at < LOCK_TIMEOUT:
        raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being processed; retry later")
    return Decision.PROCEED
