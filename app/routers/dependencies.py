"""Dependencies the /v1 routers share: who is calling (and may they), idempotency, paging."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.domain.errors import TooManyRequests, Unauthorized
from app.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Sort
from app.domain.workspace.api_keys import PUBLISHABLE_PREFIX
from app.ids import utcnow
from app.ratelimit import Verdict
from app.routers import idempotency
from app.routers.idempotency import IdempotencyKey
from app.services.context import Context, Origin
from app.services.workspace.api_keys import Caller, KeyResolver, Standing

bearer = HTTPBearer(auto_error=False, description="A secret key (`sk_…`) with the operation's scope")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="Apply only if the resource still has this ETag (else 412)")
]


async def _authorize(request: Request, credentials: HTTPAuthorizationCredentials | None, *scopes: str) -> Context:
    now = utcnow()
    caller = await authenticate(request, credentials.credentials if credentials else None, now)
    caller.require(*scopes)
    await enforce_rate_limit(
        request, f"key:{caller.key_id}", request.app.state.settings.rate_limit_api_per_minute, "api"
    )
    request.state.caller = caller
    ctx = Context(
        request.state.uow, caller.workspace_id, caller.actor, now, scopes=caller.scopes, origin=origin(request, caller)
    )
    request.state.context = ctx  # the route class writes the request's audit entry with it
    return ctx


def origin(request: Request, caller: Caller) -> Origin:
    """Who calls from where, as the audit log records it."""
    route = request.scope.get("route")
    return Origin(
        key_id=caller.key_id,
        member_id=caller.member_id,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=getattr(request.state, "request_id", None),
        method=request.method,
        route=getattr(route, "path", None),
    )


AUTH_FAILURES = "auth-failures"
# Publishable keys' failures have a budget of their own per IP: they come from web pages (tracking,
# form posts, preflights), where a stale key embedded in a site fails on every page view from its
# visitors' addresses. Sharing one budget, an office whose site still embeds a revoked publishable
# key would lock its own backend's secret key out (on every process that has not yet seen that key
# succeed, see below). A guesser gains nothing from the second budget: a key has 256 random bits.
AUTH_FAILURES_PUBLISHABLE = "auth-failures-publishable"


async def authenticate(request: Request, token: str | None, now: datetime) -> Caller:
    """The caller behind a presented key (401 when there is none, or it does not authenticate).

    Failed attempts are counted per client IP (`RATE_LIMIT_AUTH_FAILURES_PER_MINUTE`), publishable
    and secret keys apart. While an IP is over that limit for the presented key's kind, a key this
    process has found good within `KNOWN_GOOD_SECONDS` is still looked up and served: a good key
    that shares its address with failing ones (an office's egress, a stale key in a web page) keeps
    working, and no guess can be one of them. Every other key is answered 429 before any lookup,
    so guessing stops and costs nothing. A key in the lookup cache is resolved without asking the
    limiter (no round trip to Redis). Requests without a key are not counted (nothing was guessed)."""
    if not token and request.headers.get("authorization"):
        # A key sent without its scheme (`Authorization: sk_…`) was sent, just not as asked: saying
        # it is missing sends the caller looking in the wrong place. Nothing is looked up, so
        # nothing is counted as a guess.
        raise Unauthorized("malformed Authorization header: send `Authorization: Bearer <key>`")
    resolver: KeyResolver = request.app.state.keys
    limiter = request.app.state.rate_limiter
    if not token or limiter is None:
        return await resolver.resolve(token, now)
    limit = request.app.state.settings.rate_limit_auth_failures_per_minute
    policy = AUTH_FAILURES_PUBLISHABLE if token.startswith(PUBLISHABLE_PREFIX) else AUTH_FAILURES
    bucket = f"{policy}:{request.client.host if request.client else 'unknown'}"
    standing = resolver.standing(token)
    if standing is not Standing.CACHED:
        verdict = await limiter.peek(bucket, limit)
        if not verdict.allowed and standing is not Standing.KNOWN:
            raise _too_many_failures(limit, verdict, policy)
    try:
        return await resolver.resolve(token, now)
    except Unauthorized:
        verdict = await limiter.hit(bucket, limit)
        if verdict.allowed:
            raise
    raise _too_many_failures(limit, verdict, policy)


def _too_many_failures(limit: int, verdict: Verdict, policy: str) -> TooManyRequests:
    return TooManyRequests(
        f"more than {limit} failed authentications a minute from this address; retry in {verdict.reset_seconds} s",
        headers=verdict.headers(policy),
    )


async def enforce_rate_limit(request: Request, bucket: str, limit: int, policy: str) -> None:
    limiter = request.app.state.rate_limiter
    if limiter is None:
        return
    verdict = await limiter.hit(bucket, limit)
    if not verdict.allowed:
        raise TooManyRequests(
            f"more than {limit} requests a minute ({policy}); retry in {verdict.reset_seconds} s",
            headers=verdict.headers(policy),
        )


def require(scope: str) -> Any:
    """A secret key with `scope`; gives the use case its Context."""

    async def dependency(request: Request, credentials: Credentials) -> Context:
        return await _authorize(request, credentials, scope)

    return Depends(dependency)


def require_any(*scopes: str) -> Any:
    """A secret key with at least one of `scopes`; the endpoint checks the exact one it needs
    (`request.state.caller.require`) once it knows it (e.g. from the resource it loads)."""

    async def dependency(request: Request, credentials: Credentials) -> Context:
        return await _authorize(request, credentials, *scopes)

    return Depends(dependency)


def require_idempotent(scope: str) -> Any:
    """As `require`, for POSTs: honours Idempotency-Key (app/routers/idempotency.py)."""

    async def dependency(request: Request, credentials: Credentials, key: IdempotencyKey = None) -> Context:
        ctx = await _authorize(request, credentials, scope)
        await idempotency.claim(request, ctx, key)
        return ctx

    return Depends(dependency)


def sort_enum(name: str, *fields: str) -> type[StrEnum]:
    """`sort` values a list accepts: each field ascending, or descending with a leading `-`."""
    members = {}
    for field in fields:
        members[field] = field
        members[f"desc_{field}"] = f"-{field}"
    return StrEnum(name, members)  # type: ignore[return-value]


class Paging:
    def __init__(self, cursor: str | None, limit: int, sort: str) -> None:
        self.cursor = cursor
        self.limit = limit
        self.sort = Sort.parse(sort)


def paging(sort_type: type[StrEnum], default: str = "created_at") -> Any:
    async def dependency(
        cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
        sort: Annotated[sort_type, Query(description="Field to sort by; prefix `-` for descending")] = sort_type(  # type: ignore[valid-type]
            default
        ),
    ) -> Paging:
        return Paging(cursor or None, limit, str(sort.value))

    return Depends(dependency)
