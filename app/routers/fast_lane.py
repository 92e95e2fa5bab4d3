"""The fast lane for website form submissions, the API's hottest public endpoint.

JSON submissions without an Idempotency-Key skip FastAPI's route matching and dependency
resolution, a large share of a submission's CPU (benchmarks/README.md), and run the
very same handler as the documented route (`accept_submission`, for the poster its dependency
finds: `submission_context`) inside the same unit-of-work wrapper (`run_in_unit_of_work`): same
validation, same answers, same errors. Everything else
(form-encoded and multipart posts, Idempotency-Key, a malformed path or Authorization header) goes
to the FastAPI route unchanged."""

from __future__ import annotations

import re
from uuid import UUID

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.domain.errors import DomainError
from app.routers.problems import from_domain
from app.routers.route import is_json, run_in_unit_of_work
from app.routers.v1.leads.forms import FORM_BODY_LIMIT, accept_submission, submission_context

ROUTE = "/v1/forms/{form_id}/submissions"
PATH = re.compile(r"^/v1/forms/([0-9a-fA-F-]{32,36})/submissions$")
ROUTE = "/v1/forms/{form_id}/submissions"  # the documented route's template (metrics' route label)


class SubmissionFastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        lane = self._lane(scope, match)
        if lane is None:
            await self.app(scope, receive, send)
            return
        form_id, token = lane
        scope["route_template"] = ROUTE  # its log line and metrics: the route it stands in for
        request = Request(scope, receive)

        async def endpoint(request: Request) -> Response:
            return await accept_submission(request, form_id, await submission_context(request, token))

        try:
            response = await run_in_unit_of_work(request, endpoint, max_body_bytes=FORM_BODY_LIMIT, json_body=True)
        except DomainError as exc:
            response = from_domain(request, exc)
        await response(scope, receive, send)

    @staticmethod
    def _lane(scope: Scope, match: re.Match[str] | None) -> tuple[UUID, str | None] | None:
        """(form id, key) when this request takes the fast lane, else None."""
        if match is None:
            return None
        headers = Headers(scope=scope)
        if "idempotency-key" in headers or not is_json(headers.get("content-type", "")):
            return None
        try:
            form_id = UUID(match[1])
        except ValueError:
            return None
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return None  # the route answers it as the FastAPI security scheme does
            return form_id, token
        return form_id, QueryParams(scope["query_string"]).get("key")
