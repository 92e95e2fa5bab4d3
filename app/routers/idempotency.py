"""Idempotency-Key on POST (conventions: "Idempotency-Key"). An operation honours it by taking the
key in its dependencies (`require_idempotent` in app/routers/dependencies.py, or `claim` after its
own authentication): a repeated key is answered from the store at once (`Replay`), a new one is
claimed for the request. The route class stores the request's answer in the use case's own
transaction (`store`, before its commit) and frees the claim of a request that failed (`release`)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Header, Request
from starlette.responses import Response

from app.domain.idempotency import fingerprint, validate_key
from app.ids import utcnow
from app.services import idempotency
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.idempotency import Claim, StoredResponse

log = logging.getLogger("app.http")
REPLAYED_HEADERS = ("content-type", "etag", "location", "access-control-allow-origin", "vary")
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes a retried POST safe: the first result is stored for 24 h and replayed for the same "
        "key and body; another body answers 422, a request while the first is in flight answers 409.",
        max_length=255,
    ),
]


class Replay(Exception):
    """Raised by `claim` to answer with a stored response (the route class sends it)."""

    def __init__(self, stored: StoredResponse) -> None:
        self.stored = stored

    def response(self) -> Response:
        headers = {**self.stored.headers, "Idempotent-Replayed": "true"}
        return Response(self.stored.body, status_code=self.stored.status_code, headers=headers)


async def claim(request: Request, ctx: Context, key: str | None) -> None:
    """Replay the stored answer for a repeated Idempotency-Key, or claim the key for this request.
    A claimed request's transaction is opened here: its answer is stored in it, so nothing the use
    case writes may commit on its own (on PostgreSQL a unit of work that has not begun one writes in
    autocommit; SQLite writes in its transaction anyway, whose lock is better taken late)."""
    if key is None:
        return
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    result = await idempotency.begin(
        request.app.state.database,
        ctx.workspace_id,
        validate_key(key),
        fingerprint(request.method, target, await request.body()),
        ctx.now,
    )
    if isinstance(result, StoredResponse):
        raise Replay(idempotency.replay(result))
    request.state.idempotency_claim = result
    if not ctx.uow.database.is_sqlite:
        await ctx.uow.connection()


async def store(request: Request, response: Response, *, answers_secret: bool) -> None:
    """Store a claimed request's 2xx answer in its unit of work (committed with the use case)."""
    claim: Claim | None = getattr(request.state, "idempotency_claim", None)
    if claim is None or not 200 <= response.status_code < 300:
        return
    ctx = Context(request.state.uow, claim.workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
    if answers_secret:  # the status and what was created, never the body with its secret
        resource = response.headers.get("location") or request.url.path
        await idempotency.complete_secret(ctx, claim, response.status_code, resource)
    else:
        headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
        await idempotency.complete(
            ctx, claim, response.status_code, headers, bytes(response.body), path=request.url.path
        )


def committed(request: Request) -> None:
    """The request's answer was stored and committed with its use case: its claim is done. Until
    then a failed commit (a unique key another request wrote first) still frees it (`release`), so
    the request's next run, or the client's retry, claims the key again."""
    request.state.idempotency_claim = None


async def release(request: Request) -> None:
    """Free the claim of a request whose answer was not stored: a retry with the key runs again."""
    claim: Claim | None = getattr(request.state, "idempotency_claim", None)
    if claim is None:
        return
    request.state.idempotency_claim = None
    try:
        await idempotency.release(request.app.state.database, claim)
    except Exception:  # the claim times out on its own (LOCK_TIMEOUT); never mask the real answer
        log.exception("could not release Idempotency-Key %r", claim.key)
