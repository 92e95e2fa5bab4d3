"""Website lead capture: which origins may post a form, what counts as spam, and how posted form
fields become lead fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

CUSTOM_PREFIX = "custom_fields."
TIMESTAMP_FIELD = "_ts"  # render time in ms since the epoch, set by the optional JS snippet
META_FIELDS = frozenset({TIMESTAMP_FIELD, "key", "visitor_id", "referrer", "landing_page"})


def allowed_origins(form_origins: Iterable[str], key_origins: Iterable[str]) -> frozenset[str] | None:
    """The origins that may post: the form's, narrowed by the key's when it has any. None = any."""
    form_set, key_set = frozenset(form_origins), frozenset(key_origins)
    if not form_set:
        return key_set or None
    return form_set & key_set if key_set else form_set


def origin_allowed(origin: str | None, allowed: frozenset[str] | None) -> bool:
    """No Origin header: not a cross-origin browser post (a server, a same-origin GET-less client).
    `Origin: null` (sandboxed frames, file://, privacy redirects) is never trusted."""
    if origin is None:
        return True
    if origin == "null":
        return False
    return allowed is None or origin.rstrip("/").lower() in allowed


def spam_reason(
    fields: Mapping[str, str], *, honeypot_field: str | None, min_fill_seconds: int, now_ms: int
) -> str | None:
    if honeypot_field and str(fields.get(honeypot_field, "")).strip():
        return "honeypot filled"
    rendered = fields.get(TIMESTAMP_FIELD)
    if min_fill_seconds and rendered:
        try:
            elapsed = (now_ms - int(float(rendered))) / 1000
        except ValueError:
            return "malformed render timestamp"
        if elapsed < min_fill_seconds:
            return f"filled in {elapsed:.1f} s (minimum {min_fill_seconds} s)"
    return None


@dataclass
class MappedFields:
    lead: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)


def map_fields(
    fields: Mapping[str, str], mapping: Mapping[str, str], lead_fields: Iterable[str], *, honeypot_field: str | None
) -> MappedFields:
    """Mapped fields go where the mapping says (a lead field, or `custom_fields.<key>`); unmapped
    fields named like a lead field go to it; everything else stays only in the stored submission."""
    known = frozenset(lead_fields)
    result = MappedFields()
    for name, value in fields.items():
        if name in META_FIELDS or name == honeypot_field:
            continue
        target = mapping.get(name, name if name in known else None)
        if target is None or (isinstance(value, str) and not value.strip()):
            continue
        if target.startswith(CUSTOM_PREFIX):
            result.custom[target[len(CUSTOM_PREFIX) :]] = value
        elif target in known:
            result.lead[target] = value
    return result


def with_query(url: str, params: Mapping[str, str]) -> str:
    """`url` with `params` merged into its query: a parameter the URL already has (an error page
    configured as `?error=1`) is replaced, not repeated, so the page reads one value; the others
    are kept in their order."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query = urlencode([*kept, *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
