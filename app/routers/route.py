"""The route class every /v1 operation uses. It owns what is the same for all of them: the body
size limit (413) and media type (415), the request's unit of work and its single commit before the
response is sent, the answer rendered from the handler's result (app/routers/answers.py; 304 for a
current If-None-Match), Idempotency-Key storage and replay (app/routers/idempotency.py), and the
error statuses in the OpenAPI document."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app import jsonio
from app.db.conflicts import is_retryable_conflict
from app.db.unit_of_work import UnitOfWork
from app.domain.concurrency import LostUpdate, none_match
from app.domain.errors import DomainError
from app.routers import idempotency
from app.routers.answers import Answer, Renderer
from app.routers.problems import PROBLEM_JSON, PayloadTooLarge, UnsupportedMediaType, on_unexpected_error
from app.services.audit import audit

log = logging.getLogger("app.http")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Runs of a request that lost a race on a unique key (another request created the row first), for
# use cases that do not run again themselves (app/services/reruns.py): a loyalty entry's reference,
# a quote's or invoice's number, a lead batch's new leads, a shop webhook's order.
ATTEMPTS = 3
# Runs of a write without If-Match that lost its compare-and-set on a version (LostUpdate): each
# rerun reads the row afresh, so N writers racing for one row all apply after at most N runs; past
# this many the client gets the 409 and retries itself.
LOST_UPDATE_ATTEMPTS = 5
EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def problem_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def operation_id(route: APIRoute) -> str:
    """An operation's id in the OpenAPI document: its handler's name (unique; checked by a test)."""
    return route.name


def error_responses(path: str, methods: set[str], extra: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """Every error status an operation can answer, derived from its shape."""
    responses: dict[int | str, dict[str, Any]] = {
        401: problem_doc("Missing, malformed, unknown, revoked or expired API key, or its member deactivated"),
        403: problem_doc("The key lacks the scope this operation needs"),
        414: problem_doc("The request target (path and query) is longer than MAX_URL_BYTES (8 KiB by default)"),
        422: problem_doc("Invalid input: `errors` names each invalid field and where it was"),
        429: problem_doc(
            "Rate limited (requests, or failed authentications from this address): see Retry-After and the "
            "RateLimit headers"
        ),
        431: problem_doc(
            "The header fields take more than MAX_HEADER_BYTES (32 KiB by default); `errors` names the largest"
        ),
        500: problem_doc("Unexpected error; carries a request_id, never a stack trace"),
    }
    if "{" in path:
        responses[404] = problem_doc("No such resource in this workspace")
    if methods & {"POST", "PUT", "PATCH"}:
        responses[413] = problem_doc("Request body larger than this operation accepts")
        responses[415] = problem_doc("Request body is not JSON")
    if "POST" in methods:
        responses[409] = problem_doc("A request with this Idempotency-Key is still in progress, or a conflict")
    if methods & {"PATCH", "PUT", "DELETE"}:
        responses[409] = problem_doc("Changed by a concurrent request, or a conflict")
        responses[412] = problem_doc("If-Match does not match the current ETag")
    if "GET" in methods and extra.get("x-conditional"):
        responses[304] = {"description": "Not modified: the If-None-Match ETag is current"}
    return responses


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, read as it streams: 413 as soon as it passes `limit` (or declares more
    in Content-Length), so no more than the limit (and the chunk that passed it) is ever held."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than the {limit} bytes this operation accepts")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than the {limit} bytes this operation accepts")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # what FastAPI parses next
    return body


def _bodiless(request: Request) -> bool:
    """A GET (or HEAD, OPTIONS) that announces no body: nothing to read."""
    headers = request.headers
    return request.method in SAFE_METHODS and "content-length" not in headers and "transfer-encoding" not in headers


def _parse_json(request: Request, body: bytes, prevalidate: type[BaseModel] | None = None) -> None:
    """Parse a JSON body into the request's cache, where FastAPI reads it, with orjson (the json
    module FastAPI would use was a visible share of the API's CPU on order batches); bodies orjson reads
    differently are read as before (app/jsonio.py), and invalid JSON is left to FastAPI's answer.

    `prevalidate` (see `prevalidated`): first the whole body is validated from its text with that
    model, items included; when anything in it is invalid, it is parsed and handled as any other."""
    if prevalidate is not None:
        with contextlib.suppress(ValidationError):
            request._json = dict(prevalidate.model_validate_json(body))
            return
    with contextlib.suppress(ValueError):
        request._json = jsonio.loads(body)


def prevalidated(model: type[BaseModel]) -> Callable[[EndpointT], EndpointT]:
    """Mark a batch endpoint whose items are validated one by one (one bad item is that item's
    error, not the batch's): its body is first validated whole with `model`, a twin of the body
    model whose items are their request models, by pydantic's JSON mode straight from the text,
    with no dicts in between (faster than validating orjson's dicts). The endpoint then gets
    items that are models already; when anything in the body is invalid, it gets the parsed items
    and validates each as before."""

    def mark(endpoint: EndpointT) -> EndpointT:
        endpoint.prevalidate = model  # type: ignore[attr-defined]
        return endpoint

    return mark


def answers_secret(endpoint: EndpointT) -> EndpointT:
    """Mark an operation whose answer carries a new secret (an API key, a signing secret) that is
    shown only once. Its Idempotency-Key record keeps the status and the created resource (the
    answer's `Location`), never the body: a replay answers 409 `secret-not-replayable` naming the
    resource, which the client revokes before creating a new one. The route documents that 409."""
    endpoint.answers_secret = True  # type: ignore[attr-defined]
    return endpoint


SECRET_NOT_REPLAYABLE_DOC = problem_doc(
    "A request with this Idempotency-Key is still in progress, a conflict, or (`/problems/secret-not-replayable`) "
    "a replay of an answer that carried a new secret: secrets are never stored, so the problem's `resource` "
    "names what the first request created; revoke it and create a new one"
)


class CrmRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in (kwargs.get("methods") or ["GET"])}
        extra = dict(kwargs.get("openapi_extra") or {})
        declared = dict(kwargs.get("responses") or {})
        kwargs["responses"] = {**error_responses(path, methods, extra), **declared}
        # Operation ids are the handlers' names (`create_lead`): generated clients get readable functions.
        kwargs["generate_unique_id_function"] = operation_id

        # The handler returns its result, rendered here (a Response it returns passes through).
        # FastAPI reads the handler's parameters, name and docstring through the wrapper.
        @functools.wraps(endpoint)
        async def rendered(**values: Any) -> Response:
            result = await endpoint(**values)
            response = self.renderer.render(result)
            if writing:  # what it created, for the request's audit entry
                response.created_id = created_id(result)  # type: ignore[attr-defined]
            return response

        writing = bool(methods - SAFE_METHODS)

        super().__init__(path, rendered, **kwargs)
        if self.body_field is None:  # no body model: no size or media-type errors, unless declared
            for status in (413, 415):
                if status not in declared:
                    self.responses.pop(status, None)
        if "If-Match" in _headers(self.dependant):  # any operation taking If-Match may answer 412
            self.responses.setdefault(412, problem_doc("If-Match does not match the current ETag"))
        self.max_body_bytes: int | None = extra.get("x-max-body-bytes")
        # The endpoint reads the body itself as it streams (uploads): not gathered first.
        self.streamed_body = bool(extra.get("x-streamed-body"))
        self.prevalidate: type[BaseModel] | None = getattr(endpoint, "prevalidate", None)
        self.answers_secret = bool(getattr(endpoint, "answers_secret", False))
        # A GET that records something (a tracked click, an open): its unit of work writes.
        self.writes = bool(getattr(endpoint, "writes", False))
        if self.answers_secret:
            self.responses[409] = SECRET_NOT_REPLAYABLE_DOC
        self.renderer = Renderer(self.response_model, self.status_code)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        run_endpoint = super().get_route_handler()
        takes_body = self.body_field is not None

        async def handler(request: Request) -> Response:
            limit = self.max_body_bytes or request.app.state.settings.max_body_bytes
            response = await run_in_unit_of_work(
                request, run_endpoint, max_body_bytes=limit, json_body=takes_body, streamed=self.streamed_body,
                prevalidate=self.prevalidate, answers_secret=self.answers_secret, writes=self.writes,
            )  # fmt: skip
            return not_modified(request, response) or response

        return handler


def created_id(result: Any) -> Any:
    """The id of the resource a handler's result is (None when it is none)."""
    value = result.value if isinstance(result, Answer) else result
    if isinstance(value, Mapping):
        return value.get("id")
    return getattr(value, "id", None)


def writes(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a GET handler that records something: it runs in a writing unit of work."""
    endpoint.writes = True  # type: ignore[attr-defined]
    return endpoint


def not_modified(request: Request, response: Response) -> Response | None:
    """304 with the ETag alone when a GET's If-None-Match already has the version answered."""
    if request.method != "GET" or response.status_code != 200:
        return None
    tag = response.headers.get("etag")
    if tag is None or not none_match(request.headers.get("if-none-match"), int(tag.strip('"'))):
        return None
    return Response(status_code=304, headers={"ETag": tag})


def _headers(dependant: Any) -> set[str]:
    """Every header an operation reads, its dependencies' included."""
    names = {param.alias for param in dependant.header_params}
    for sub_dependant in dependant.dependencies:
        names |= _headers(sub_dependant)
    return names


async def run_in_unit_of_work(
    request: Request,
    endpoint: Callable[[Request], Awaitable[Response]],
    *,
    max_body_bytes: int,
    json_body: bool,
    streamed: bool = False,
    prevalidate: type[BaseModel] | None = None,
    answers_secret: bool = False,
    writes: bool = False,
) -> Response:
    """Read the body (413 past the limit, 415 when a JSON body is not JSON), run the endpoint in
    the request's unit of work, store its answer for an Idempotency-Key, and commit once before
    the response goes out. Domain and HTTP errors propagate to the problem handlers."""
    try:
        body = b"" if streamed or _bodiless(request) else await read_body(request, max_body_bytes)
        if json_body and body:
            if not is_json(request.headers.get("content-type", "")):
                raise UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
            _parse_json(request, body, prevalidate)
        conflicts = lost_updates = 0
        while True:
            try:
                response = await _attempt(request, endpoint, answers_secret, writes)
                break
            except LostUpdate:
                # Another writer changed the row between this request's read and its write, and the
                # client named no version: run it again on the row as it is now (nothing of the
                # lost run was kept: its transaction rolled back).
                lost_updates += 1
                if lost_updates == LOST_UPDATE_ATTEMPTS:
                    raise
                log.debug("a concurrent write changed the row first; running the request again")
                await idempotency.release(request)
            except Exception as exc:
                # Another request wrote a row with the same unique key first (a loyalty entry's
                # reference, a document's number...): run it again, when it finds the winner's row.
                conflicts += 1
                if conflicts == ATTEMPTS or not is_retryable_conflict(exc):
                    raise
                log.debug("another request created this key first; running the request again")
                await idempotency.release(request)
    except (DomainError, HTTPException, RequestValidationError):
        await idempotency.release(request)
        raise
    except Exception as exc:
        await idempotency.release(request)
        return await on_unexpected_error(request, exc)
    await idempotency.release(request)  # a non-2xx answer is not stored: a retry runs again
    return response


async def _attempt(
    request: Request, endpoint: Callable[[Request], Awaitable[Response]], answers_secret: bool, writes: bool = False
) -> Response:
    uow = UnitOfWork(request.app.state.database, write=writes or request.method not in SAFE_METHODS)
    request.state.uow = uow
    async with uow:
        try:
            response = await endpoint(request)
        except idempotency.Replay as replay:
            return replay.response()
        await idempotency.store(request, response, answers_secret=answers_secret)
        _audit(request, uow, response)
        await uow.commit()
        idempotency.committed(request)
    return response


def _audit(request: Request, uow: UnitOfWork, response: Response) -> None:
    """A write request made with a secret key gets its audit entry in its own transaction, unless
    its use case recorded a richer one (app/services/audit/audit.py). Public requests (form posts,
    tracking, callbacks, shop webhooks) have no request context and get none."""
    ctx = getattr(request.state, "context", None)
    if ctx is None or ctx.uow is not uow or request.method in SAFE_METHODS:
        return
    audit.request_written(ctx, request.path_params, getattr(response, "created_id", None))
