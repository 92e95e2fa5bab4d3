"""Forms (admin) and the public submission endpoint that website forms post to."""

import time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from app import metrics
from app.domain.concurrency import LostUpdate
from app.domain.errors import DomainError, Forbidden, InvalidInput, Unauthorized
from app.domain.leads.capture import with_query
from app.ids import utcnow
from app.routers import idempotency
from app.routers.answers import JSON, Answer, Row, RowPage
from app.routers.dependencies import (
    Credentials,
    IfMatch,
    Paging,
    authenticate,
    enforce_rate_limit,
    paging,
    require,
    require_idempotent,
    sort_enum,
)
from app.routers.idempotency import IdempotencyKey
from app.routers.problems import UnsupportedMediaType, from_domain
from app.routers.route import CrmRoute, problem_doc
from app.schemas.common import Page
from app.schemas.leads.forms import FormCreate, FormRead, FormUpdate, SubmissionAccepted, SubmissionRead
from app.services.context import Context
from app.services.leads import capture, forms, preflight
from app.services.workspace.api_keys import Caller

router = APIRouter(prefix="/v1/forms", tags=["Forms"], route_class=CrmRoute)
# The submission routes websites call, mounted ahead of every other router (see v1/__init__.py).
public_router = APIRouter(prefix="/v1/forms", tags=["Forms"], route_class=CrmRoute)
FormSort = sort_enum("FormSort", "created_at")
SubmissionSort = sort_enum("SubmissionSort", "created_at")
FORM_BODY_LIMIT = 64 * 1024
PLAIN = ("application/x-www-form-urlencoded", "multipart/form-data")
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@router.post("", status_code=201, summary="Create a lead-capture form", response_model=FormRead)
async def create_form(body: FormCreate, ctx: Annotated[Context, require_idempotent("admin")]) -> Answer:
    row = await forms.create(ctx, body.model_dump())
    return Answer(row, location=f"/v1/forms/{row['id']}")


@router.get("", summary="List forms", response_model=Page[FormRead])
async def list_forms(ctx: Annotated[Context, require("admin")], page: Annotated[Paging, paging(FormSort)]) -> RowPage:
    return await forms.list_forms(ctx, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.get("/{form_id}", summary="Get a form", response_model=FormRead, openapi_extra={"x-conditional": True})
async def get_form(form_id: UUID, ctx: Annotated[Context, require("admin")]) -> Row:
    return await forms.get(ctx, form_id)


@router.patch("/{form_id}", summary="Change a form", response_model=FormRead)
async def update_form(
    form_id: UUID, body: FormUpdate, ctx: Annotated[Context, require("admin")], if_match: IfMatch = None
) -> Row:
    return await forms.update(ctx, form_id, body.model_dump(exclude_unset=True), if_match=if_match)


@router.delete("/{form_id}", summary="Archive a form (it stops accepting submissions)", response_model=FormRead)
async def archive_form(form_id: UUID, ctx: Annotated[Context, require("admin")], if_match: IfMatch = None) -> Row:
    return await forms.archive(ctx, form_id, if_match=if_match)


@router.get("/{form_id}/submissions", summary="Submissions that became leads", response_model=Page[SubmissionRead])
async def list_submissions(
    form_id: UUID, ctx: Annotated[Context, require("leads:read")], page: Annotated[Paging, paging(SubmissionSort)]
) -> RowPage:
    return await forms.submissions(ctx, form_id, spam=False, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.get("/{form_id}/spam", summary="Submissions kept aside as spam", response_model=Page[SubmissionRead])
async def list_spam_submissions(
    form_id: UUID, ctx: Annotated[Context, require("leads:read")], page: Annotated[Paging, paging(SubmissionSort)]
) -> RowPage:
    return await forms.submissions(ctx, form_id, spam=True, sort=page.sort, cursor=page.cursor, limit=page.limit)


def _token(credentials: Any, key: str | None) -> str | None:
    return credentials.credentials if credentials else key


def _cors(origin: str | None) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}


async def _fields(request: Request, media: str) -> dict[str, Any]:
    if media in PLAIN:
        form = await request.form()
        return {k: v for k, v in form.multi_items() if not isinstance(v, UploadFile)}
    if media == "application/json" or media.endswith("+json"):
        try:
            body = await request.json()
        except ValueError as exc:
            raise InvalidInput.field("body", "malformed JSON") from exc
        if not isinstance(body, dict):
            raise InvalidInput.field("body", "send a JSON object of form fields")
        return body
    raise _unsupported()


def _unsupported() -> DomainError:
    return UnsupportedMediaType("send application/json, application/x-www-form-urlencoded or multipart/form-data")


async def submission_context(request: Request, token: str | None) -> Context:
    """Who posts the form: the caller of its publishable key (from Authorization, or `?key=` for forms
    that cannot set headers), kept on the request as any route's caller is."""
    now = utcnow()
    caller = await authenticate(request, token, now)
    request.state.caller = caller
    return Context(request.state.uow, caller.workspace_id, caller.actor, now, scopes=caller.scopes)


async def submitter(
    request: Request,
    form_id: UUID,  # validated first: a malformed form id answers 422 before any key is looked at
    credentials: Credentials,
    key: Annotated[str | None, Query(description="The publishable key, for forms that cannot set headers")] = None,
    idempotency_key: IdempotencyKey = None,
) -> Context:
    """The poster's context, with its Idempotency-Key claimed before the request's own transaction
    touches the database (on SQLite that one holds the write lock); fetch() callers may send one."""
    ctx = await submission_context(request, _token(credentials, key))
    await idempotency.claim(request, ctx, idempotency_key)
    return ctx


@public_router.post(
    "/{form_id}/submissions",
    status_code=201,
    summary="Submit a form (publishable key in Authorization or ?key=)",
    description="Accepts JSON, `application/x-www-form-urlencoded` and `multipart/form-data`. Plain HTML forms "
    "with a redirect URL get `303 See Other`; invalid input goes to the error redirect URL with `error` and "
    "`fields` query parameters. The answer is the same (status, shape, headers) whether the person is new, "
    "already has an open lead, is a customer, or the post is spam (kept aside): it carries the submission's "
    "id, never a lead's, so a public form tells a stranger nothing about who is known. A secret key reads "
    "which lead a submission became in `GET /v1/forms/{id}/submissions`.",
    response_model=SubmissionAccepted,
    responses={
        303: {"description": "Plain form: redirected to the form's redirect (or error redirect) URL"},
        413: problem_doc("Request body larger than this operation accepts"),
        415: problem_doc("Not JSON, form-encoded or multipart"),
    },
    openapi_extra={
        "x-max-body-bytes": FORM_BODY_LIMIT,
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object", "additionalProperties": True}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": True}},
                "multipart/form-data": {"schema": {"type": "object", "additionalProperties": True}},
            }
        },
    },
)
async def submit_form(request: Request, form_id: UUID, ctx: Annotated[Context, Depends(submitter)]) -> Response:
    return await accept_submission(request, form_id, ctx)


async def accept_submission(request: Request, form_id: UUID, ctx: Context) -> Response:
    """The submission endpoint's work, shared with the JSON fast lane (app/routers/fast_lane.py),
    for the poster `submission_context` found."""
    origin = request.headers.get("origin")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    plain = media in PLAIN
    caller: Caller = request.state.caller
    try:
        form = await capture.open_form(ctx, caller, form_id, origin)
    except DomainError:
        metrics.FORM_REJECTED.inc()
        raise
    cors = _cors(origin)
    try:
        settings = request.app.state.settings
        client_ip = request.client.host if request.client else "unknown"
        await enforce_rate_limit(request, f"form-ip:{client_ip}", settings.rate_limit_form_per_minute, "form")
        await enforce_rate_limit(request, f"key:{caller.key_id}", settings.rate_limit_api_per_minute, "api")
        fields = await _fields(request, media)
        meta = {
            "ip": client_ip,
            "user_agent": request.headers.get("user-agent"),
            "origin": origin,
            "referrer": fields.get("referrer") or request.headers.get("referer"),
            "landing_page": fields.get("landing_page") or request.headers.get("referer"),
            "visitor_id": fields.get("visitor_id"),
            **{k: request.query_params[k] for k in UTM if k in request.query_params},
        }
        outcome = await capture.submit(ctx, form, fields, meta, int(time.time() * 1000))
    except LostUpdate:  # a concurrent write changed the matched lead: the route runs the submission again
        raise
    except DomainError as exc:
        metrics.FORM_REJECTED.inc()
        await ctx.uow.rollback()  # nothing of a refused submission is kept
        if plain and form["error_redirect_url"]:
            params = {"error": exc.slug, "fields": ",".join(e.field for e in exc.errors)}
            return RedirectResponse(with_query(form["error_redirect_url"], params), status_code=303, headers=cors)
        response = from_domain(request, exc)
        response.headers.update(cors)
        return response
    # Counted once stored: the commit comes after this returns, and a submission run again after a
    # lost update (or rolled back) is not counted twice.
    ctx.uow.after_commit((metrics.FORM_SPAM if outcome.spam else metrics.FORM_ACCEPTED).inc)
    if plain and form["redirect_url"]:
        return RedirectResponse(form["redirect_url"], status_code=303, headers=cors)
    body = SubmissionAccepted(submission_id=outcome.id).model_dump_json()
    return Response(body, status_code=201, media_type=JSON, headers=cors)


@router.options(
    "/{form_id}/submissions",
    summary="CORS preflight for form submissions",
    status_code=204,
    response_model=None,
    responses={204: {"description": "The origin may post this form"}},
)
async def preflight_form_submission(
    request: Request,
    form_id: UUID,
    key: Annotated[str | None, Query(description="The publishable key, when the page passes it in the URL")] = None,
) -> Answer:
    origin = request.headers.get("origin")
    key_origins: tuple[str, ...] = ()
    if key:  # a key in the URL is checked (and a wrong one counted) as on the POST itself
        try:
            key_origins = (await authenticate(request, key, utcnow())).allowed_origins
        except Unauthorized:
            raise Forbidden(f"origin {origin} may not post this form") from None
    allowed = await preflight.origin_may_post(request.state.uow, form_id, origin, key_origins)
    if not allowed:
        raise Forbidden(f"origin {origin} may not post this form")
    return Answer(
        headers={
            **_cors(origin),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key",
            "Access-Control-Max-Age": "600",
        }
    )
