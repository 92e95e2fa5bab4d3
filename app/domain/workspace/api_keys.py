"""API keys: their two kinds, scopes and what a scope allows. Keys are high-entropy random tokens
stored only as a SHA-256 digest (no slow KDF is needed for 256 random bits)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from app.domain.errors import ErrorList

SECRET_PREFIX = "sk_"
PUBLISHABLE_PREFIX = "pk_"
ADMIN = "admin"

# Every resource that has scopes. A new resource is added here and listed in docs/conventions.md;
# `admin` implies every scope, present and future.
RESOURCES: tuple[str, ...] = (
    "workspace",
    "members",
    "settings",
    "events",
    "webhooks",
    "jobs",
    "leads",
    "accounts",
    "contacts",
    "opportunities",
    "tasks",
    "orders",
    "products",
    "exchange_rates",
    "integrations",
    "analytics",
    "tickets",
    "contracts",
    "quotes",
    "invoices",
    "payments",
    "templates",
    "messages",
    "suppressions",
    "journeys",
    "campaigns",
    "reports",
)
# Resources that are only read through the API: their one scope is `<resource>:read` (the audit log
# is written by every write, never by a request of its own).
READ_ONLY_RESOURCES: tuple[str, ...] = ("audit",)
# Access beyond read and write, per resource: reviewing a campaign (approving it for launch) is
# not editing it, so `campaigns:write` does not imply `campaigns:review`; both imply read.
EXTRA_ACCESS: dict[str, tuple[str, ...]] = {"campaigns": ("review",)}
# Reading the values of sensitive custom fields (a person's religion, ethnicity), one lead at a
# time: a scope of no resource, so no `<resource>:write` implies it (only `admin` does).
SENSITIVE_READ = "sensitive:read"
STANDALONE_SCOPES: tuple[str, ...] = (SENSITIVE_READ,)
SCOPES: frozenset[str] = frozenset(
    {ADMIN}
    | set(STANDALONE_SCOPES)
    | {f"{resource}:{access}" for resource in RESOURCES for access in ("read", "write")}
    | {f"{resource}:read" for resource in READ_ONLY_RESOURCES}
    | {f"{resource}:{access}" for resource, accesses in EXTRA_ACCESS.items() for access in accesses}
)


class KeyKind(StrEnum):
    SECRET = "secret"
    PUBLISHABLE = "publishable"


def kind_of(token: str) -> KeyKind | None:
    if token.startswith(SECRET_PREFIX):
        return KeyKind.SECRET
    if token.startswith(PUBLISHABLE_PREFIX):
        return KeyKind.PUBLISHABLE
    return None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def redact(token: str) -> str:
    """What a list shows of a key: its kind prefix and last four characters."""
    prefix = SECRET_PREFIX if token.startswith(SECRET_PREFIX) else PUBLISHABLE_PREFIX
    return f"{prefix}…{token[-4:]}"


def allows(granted: frozenset[str] | set[str], required: str) -> bool:
    """`admin` implies everything; `x:write` (and any extra access, `campaigns:review`) implies `x:read`."""
    if ADMIN in granted or required in granted:
        return True
    resource, _, access = required.partition(":")
    if access != "read":
        return False
    return any(f"{resource}:{other}" in granted for other in ("write", *EXTRA_ACCESS.get(resource, ())))


def normalize_origin(origin: str) -> str | None:
    """`https://Shop.example:443/` -> `https://shop.example`; None when it is not an origin."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def expired(expires_at: datetime | None, now: datetime) -> bool:
    """A key with an expiry stops working at that instant (it is refused like a revoked key)."""
    return expires_at is not None and now >= expires_at


@dataclass(frozen=True)
class KeySpec:
    kind: KeyKind
    scopes: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    expires_at: datetime | None = None


def validate_key_spec(
    kind: KeyKind,
    scopes: list[str],
    allowed_origins: list[str],
    *,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> KeySpec:
    """Secret keys carry scopes and no origins; publishable keys only submit forms, may be
    limited to origins, and carry no scopes. An expiry, when given, must lie after `now`: a key
    dead on arrival would be shown once and never work."""
    errors = ErrorList()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            errors.add("expires_at", "give a time zone (e.g. Z or +03:30)")
        elif now is None or expires_at <= now:
            errors.add("expires_at", "must be in the future")
    if kind is KeyKind.SECRET:
        if not scopes:
            errors.add("scopes", "a secret key needs at least one scope")
        for i, scope in enumerate(scopes):
            if scope not in SCOPES:
                errors.add(f"scopes.{i}", f"unknown scope {scope!r}; known: {', '.join(sorted(SCOPES))}")
        if allowed_origins:
            errors.add("allowed_origins", "only publishable keys carry allowed origins")
    else:
        if scopes:
            errors.add("scopes", "publishable keys have no scopes: they can only submit lead-capture forms")
    origins: list[str] = []
    for i, origin in enumerate(allowed_origins):
        normalized = normalize_origin(origin)
        if normalized is None:
            errors.add(f"allowed_origins.{i}", "must be an origin such as https://www.example.com")
        elif normalized not in origins:
            origins.append(normalized)
    errors.raise_if_any()
    return KeySpec(kind, tuple(sorted(set(scopes))), tuple(origins), expires_at)
