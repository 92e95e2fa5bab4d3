"""Sends one signed webhook (Standard Webhooks) through the outbound address guard (app/outbound.py):
the target's addresses are checked where the connection is made, no redirect is followed, the
whole attempt has one deadline, and at most EXCERPT_BYTES of the reply are read for the log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks import Webhook

from app.domain.events.webhooks import EXCERPT_BYTES
from app.outbound import exchange


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None


def sign(secret: str, message_id: str, timestamp: datetime, body: str) -> str:
    return Webhook(secret).sign(message_id, timestamp, body)


async def send(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    message_id: str,
    body: str,
    now: datetime,
    timeout_seconds: float,
) -> Attempt:
    """`client` is a guarded client (app.outbound.guarded_client); `timeout_seconds` bounds the
    whole attempt: connecting, sending and the reply."""
    headers = {
        "content-type": "application/json",
        "user-agent": "crm-api-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(secret, message_id, now, body),
    }
    reply = await exchange(
        client,
        "POST",
        url,
        headers=headers,
        content=body.encode(),
        deadline_seconds=timeout_seconds,
        keep=EXCERPT_BYTES,
    )
    return Attempt(reply.status_code, reply.duration_ms, reply.error, reply.excerpt)
