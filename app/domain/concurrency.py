"""Optimistic concurrency: every mutable resource has a `version`; its ETag is the quoted version."""

from __future__ import annotations

from app.domain.errors import Conflict, DomainError, PreconditionFailed


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def none_match(header: str | None, version: int) -> bool:
    """If-None-Match: True when the client's copy is current (answer 304). Weak comparison."""
    if header is None:
        return False
    current = etag(version)
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(header))


def check_if_match(header: str | None, version: int) -> None:
    """If-Match: strong comparison; raise when the stored version moved on (answer 412)."""
    if header is None:
        return
    current = etag(version)
    if not any(tag == "*" or tag == current for tag in _tags(header)):
        raise PreconditionFailed(
            f"If-Match {header} does not match the current ETag {current}: the resource changed; "
            "fetch it again and reapply your change"
        )


class LostUpdate(Conflict):
    """A writer without If-Match lost the compare-and-set to a concurrent writer. The request did
    not name a version, so it is run again on a fresh read (app/routers/route.py), a bounded number
    of times: both writers apply, in some order, each bumping the version. Only when the reruns are
    used up does the client see this 409."""


def lost_update(if_match: str | None) -> DomainError:
    """Another writer changed the resource between our read and our compare-and-set write."""
    if if_match is not None:
        return PreconditionFailed("the resource changed while this request was applied; fetch it again")
    return LostUpdate("the resource was changed by concurrent requests while this one was applied; retry")
