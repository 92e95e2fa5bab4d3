"""Webhook delivery rules: endpoint URLs, subscriptions, the retry schedule, when to give up."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from app.domain.addresses import NOT_ALLOWED, address_allowed, parse_address
from app.domain.errors import ErrorList
from app.domain.events.events import may_read, required_scope
from app.domain.workspace.api_keys import ADMIN, allows

# Seconds to wait before attempt 1, 2, 3, ... (Standard Webhooks' suggested schedule).
DEFAULT_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.1
DISABLE_AFTER = timedelta(days=5)
# The most of a reply kept for the delivery log; the rest is never read (the connection is closed).
EXCERPT_BYTES = 4096


def validate_url(url: str, errors: ErrorList, *, field: str = "url", allow_loopback: bool = False) -> None:
    """An absolute http(s) URL without credentials. A host given as an IP address is judged now;
    a host name is judged by the addresses it resolves to, when a delivery connects."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:  # an unclosed "[", a port out of range
        parts = urlsplit("")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        errors.add(field, "must be an absolute http(s) URL such as https://hooks.example.com/crm")
    elif parts.username or parts.password:
        errors.add(field, "must not carry credentials; authenticate with the signature instead")
    else:
        literal = parse_address(parts.hostname)
        if literal is not None and not address_allowed(literal, allow_loopback=allow_loopback):
            errors.add(field, NOT_ALLOWED)


@dataclass(frozen=True)
class EndpointRules:
    """The operator's settings that bound a workspace's endpoints (environment, never the tenant)."""

    max_per_workspace: int  # WEBHOOK_ENDPOINTS_PER_WORKSPACE
    allow_loopback: bool  # WEBHOOK_ALLOW_LOOPBACK: development and tests only


def workspace_share(concurrency: int, share: float) -> int:
    """How many of one worker's concurrent deliveries one workspace may hold: its share of them,
    at least one (so every workspace is served)."""
    return max(1, int(concurrency * share))


def validate_event_types(
    event_types: Sequence[str], known: Sequence[str], errors: ErrorList, *, scopes: Collection[str] = (ADMIN,)
) -> None:
    """Known types that the endpoint's scopes may read: subscribing to a type it would never be
    delivered is a mistake worth naming rather than a silence."""
    for i, event_type in enumerate(event_types):
        if event_type not in known:
            errors.add(f"event_types.{i}", f"unknown event type {event_type!r}")
        elif not may_read(scopes, event_type):
            errors.add(
                f"event_types.{i}",
                f"{event_type} events need the {required_scope(event_type)!r} scope, which the endpoint's key lacks",
            )


def endpoint_scopes(granted: frozenset[str] | set[str]) -> list[str]:
    """What an endpoint records of the key that creates it: its scopes (just `admin` when it
    holds it, since admin implies every scope, present and future)."""
    return [ADMIN] if ADMIN in granted else sorted(granted)


def covers(granted: frozenset[str] | set[str], scopes: Sequence[str]) -> bool:
    """Whether a key holding `granted` may read everything an endpoint with `scopes` may."""
    return all(allows(granted, scope.replace(":write", ":read")) for scope in scopes)


def subscribed(event_types: Sequence[str], event_type: str) -> bool:
    return not event_types or event_type in event_types


def delivers(event_types: Sequence[str], scopes: Collection[str], event_type: str) -> bool:
    """An endpoint is delivered the types it subscribes to (none listed: every type) that the
    scopes of the key that created it may read. (`webhook.test` goes only to its own endpoint.)"""
    return subscribed(event_types, event_type) and may_read(scopes, event_type)


@dataclass(frozen=True)
class Outcome:
    """What one attempt means for its delivery and its endpoint."""

    status: str  # pending | succeeded | failed
    next_attempt_at: datetime | None
    disable_endpoint: str | None  # the reason, when the endpoint must be disabled
    failing_since: datetime | None


def after_attempt(
    *,
    attempts: int,
    status_code: int | None,
    now: datetime,
    failing_since: datetime | None,
    schedule: Sequence[float],
    jitter: float,
) -> Outcome:
    """`attempts` counts the one just made; `jitter` is a number in [-1, 1] (random in practice)."""
    if status_code is not None and 200 <= status_code < 300:
        return Outcome("succeeded", None, None, None)
    since = failing_since or now
    if status_code == 410:
        return Outcome("pending", now, "the endpoint answered 410 Gone", since)
    if now - since >= DISABLE_AFTER:
        return Outcome("pending", now, "failing continuously for 5 days", since)
    if attempts >= len(schedule):
        return Outcome("failed", None, None, since)
    delay = schedule[attempts] * (1 + JITTER * jitter)
    return Outcome("pending", now + timedelta(seconds=max(delay, 0)), None, since)
