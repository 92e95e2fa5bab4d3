"""RFC 9457 problem responses: every error the API answers goes through here."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.domain.errors import DomainError, FieldError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("app.errors")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_SLUGS = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "content-too-large",
    415: "unsupported-media-type",
    500: "internal-error",
    503: "unavailable",
}


class PayloadTooLarge(DomainError):
    status = 413
    slug = "content-too-large"
    title = "Content too large"


class NotAcceptable(DomainError):
    status = 406
    slug = "not-acceptable"
    title = "Not acceptable"


class UnsupportedMediaType(DomainError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem(
    request: Request,
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"/problems/{slug or _SLUGS.get(status, 'error')}",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id_of(request),
    }
    for key, value in (extensions or {}).items():
        body.setdefault(key, value)
    if errors:
        body["errors"] = [
            {"location": e.location, "field": e.field, "message": e.message, "type": e.type} for e in errors
        ]
    request.scope.setdefault("state", {})["error_type"] = body["type"]  # the request's log line
    response_headers = dict(headers or {})
    if body["request_id"]:
        response_headers["X-Request-ID"] = body["request_id"]
    return Response(json.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=response_headers)


def from_domain(request: Request, exc: DomainError) -> Response:
    headers = dict(exc.headers)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="crm"'
    return problem(
        request,
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=headers,
        extensions=exc.extensions,
    )


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        location = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
        field = ".".join(loc[1:]) if len(loc) > 1 else location
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            field, message = "body", f"malformed JSON: {error.get('ctx', {}).get('error', message)}"
        errors.append(FieldError(location, field, message, str(error.get("type", "value_error"))))
    return errors


async def on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return from_domain(request, exc)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    # The whole body (malformed JSON) is named `body`, not `body.body`.
    detail = "; ".join(
        f"{e.location if e.field == e.location else f'{e.location}.{e.field}'}: {e.message}" for e in errors[:5]
    )
    return problem(request, 422, slug="validation-error", detail=detail, errors=errors)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers or {})
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        error = FieldError("body", "body", "malformed body: not UTF-8 encoded JSON", "json_invalid")
        return problem(request, 422, slug="validation-error", detail=error.message, errors=[error])
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; use {', '.join(allowed)}"
    return problem(request, exc.status_code, detail=detail, headers=headers)


def _path_matches(template: str, path: str) -> bool:
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(got) and all(w == g or (w.startswith("{") and g) for w, g in zip(want, got, strict=True))


def _allowed_methods(request: Request) -> list[str]:
    """Starlette's Allow names only the first route on the path; list every operation on it, as
    the OpenAPI document has them."""
    paths = request.app.openapi()["paths"]
    methods = {m.upper() for template, ops in paths.items() if _path_matches(template, request.url.path) for m in ops}
    return sorted(methods)


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error (request_id=%s)", request_id_of(request), exc_info=exc)
    answer = problem(request, 500, detail="an unexpected error occurred; quote the request_id when reporting it")
    request.scope["state"]["error_type"] = type(exc).__name__  # the request's log line names the exception
    return answer
