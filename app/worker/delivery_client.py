"""Sends one signed webhook (Standard Webhooks) with the SSRF guard: the target's addresses are
resolved and checked, and the request goes to the checked address (no second lookup, no redirects)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks import Webhook

from app.domain.webhooks import EXCERPT_CHARS, forbidden_address


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None


class Refused(Exception):
    pass


async def _resolve(host: str, port: int, allow_loopback: bool) -> str:
    try:  # an address needs no lookup (lookups share a small thread pool: slow DNS would hold it up)
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise Refused(f"cannot resolve {host}: {exc.strerror}") from exc
        addresses = [info[4][0] for info in infos]
    for address in addresses:
        loopback = address.startswith("127.") or address == "::1"
        if forbidden_address(address) and not (allow_loopback and loopback):
            raise Refused(f"{host} resolves to {address}, a private/loopback/link-local address: refused")
    return addresses[0]


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
    allow_loopback: bool,
) -> Attempt:
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = await _resolve(host, port, allow_loopback)
    except Refused as exc:
        return Attempt(None, elapsed(), str(exc), None)
    netloc = (f"[{address}]" if ":" in address else address) + (f":{parts.port}" if parts.port else "")
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    headers = {
        "content-type": "application/json",
        "host": parts.netloc.rsplit("@", 1)[-1],
        "user-agent": "crm-api-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(secret, message_id, now, body),
    }
    try:
        response = await client.post(
            target,
            content=body.encode(),
            headers=headers,
            timeout=timeout_seconds,
            follow_redirects=False,
            extensions={"sni_hostname": host} if parts.scheme == "https" else {},
        )
    except httpx.TimeoutException:
        return Attempt(None, elapsed(), f"timed out after {timeout_seconds:g} s", None)
    except httpx.HTTPError as exc:
        return Attempt(None, elapsed(), f"{type(exc).__name__}: {exc}"[:500], None)
    return Attempt(response.status_code, elapsed(), None, response.text[:EXCERPT_CHARS])
