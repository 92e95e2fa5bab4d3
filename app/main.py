"""create_app(): middleware, routers, error handlers; nothing else."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import __doc__ as description
from app import logs, metrics, ratelimit, sealing
from app.config import Settings, get_settings
from app.db.migrate import head_revision
from app.db.session import Database
from app.domain.errors import DomainError
from app.ids import random_hex
from app.logs import RequestLogMiddleware
from app.request_limits import RequestLimitsMiddleware
from app.routers import health, problems, v1
from app.routers.fast_lane import SubmissionFastLane
from app.routers.route import operation_id
from app.schemas.common import Problem
from app.schemas.events.events import CATALOGUE, envelope
from app.schemas.leads.engagements import TrackedEngagement
from app.services.leads import lookups
from app.services.outreach import links
from app.services.workspace.api_keys import KeyResolver
from app.worker.process import WorkerProcess
from app.worker.runner import Worker, stop_seconds

API_VERSION = "2026-11-27"
DOCUMENTED_BODIES = (TrackedEngagement,)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ApiCorsMiddleware(CORSMiddleware):
    """CORS for browser frontends using secret keys (CORS_ORIGINS). Form submissions and tracking
    are left out: their CORS answers come from the form's and the publishable key's origins."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if (path.startswith("/v1/forms/") and path.endswith("/submissions")) or path.startswith("/v1/tracking/"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class RequestIdMiddleware:
    """Every response carries X-Request-ID: the caller's (when sane) or a new one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else random_hex()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        with logs.request_scope(request_id):  # the events the request records keep it
            await self.app(scope, receive, send_with_id)


def _event_catalogue(schemas: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.1 `webhooks`: every event type with the body subscribers receive."""
    catalogue: dict[str, Any] = {}
    for event_type in sorted(CATALOGUE):
        model = envelope(event_type)
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas[model.__name__] = body
        catalogue[event_type] = {
            "post": {
                "summary": f"{event_type}",
                "tags": ["Events"],
                "description": "Signed per Standard Webhooks: webhook-id (the event id, stable across retries), "
                "webhook-timestamp, webhook-signature.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
                },
                "responses": {"2XX": {"description": "Received. Any other answer is retried; 410 disables."}},
            }
        }
    return catalogue


async def _sample_pool(database: Database) -> None:
    """This process's pool for the metrics endpoint, every few seconds."""
    while True:
        metrics.sample_pool(database.engine.pool)
        await asyncio.sleep(metrics.SAMPLE_SECONDS)


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    *,
    worker: bool = False,
    worker_process: bool = False,
) -> FastAPI:
    """The API; with `worker=True` it also runs the background worker (`serve`): in-process, or as a
    supervised child process with `worker_process=True` (PostgreSQL; see app/worker/process.py)."""
    settings = settings or get_settings()
    sealing.configure(settings)  # a malformed SECRETS_KEY stops the start, not the first secret
    links.configure(settings)  # messages' public links are built on PUBLIC_BASE_URL
    owns_database = database is None
    database = database or Database(settings, application_name="crm-api")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        running = None
        background: Worker | WorkerProcess | None = None
        if worker:
            if worker_process and not database.is_sqlite:
                background = WorkerProcess(grace_seconds=stop_seconds(settings))  # the worker's worst case
            else:
                background = Worker(database, settings)
            running = asyncio.create_task(background.run())
        sampling = asyncio.create_task(_sample_pool(database)) if settings.metrics_port else None
        yield
        if sampling is not None:
            sampling.cancel()
        if running is not None and background is not None:
            background.stop()
            await running
        if owns_database:
            await database.dispose()

    app = FastAPI(
        title="CRM API",
        version=API_VERSION,
        description=(description or "")
        + "\n\nAuthenticate with `Authorization: Bearer <key>`. Errors are RFC 9457 problem documents.",
        lifespan=lifespan,
        # Operation ids are the handlers' names, verbs such as `create_lead` or `qualify_lead`, so
        # the clients frontend teams generate from the document have readable functions.
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.keys = KeyResolver(database, settings.api_key_cache_seconds, settings.api_key_cache_size)
    app.state.rate_limiter = ratelimit.build(settings)
    lookups.configure(settings.form_cache_seconds)
    app.state.migration_head = head_revision()

    app.include_router(health.router)
    for router in v1.ROUTERS:
        # Their routes straight on the app (they carry the /v1 prefix): matching a request is then
        # a path pattern per route, not FastAPI's walk through included routers (benchmarks/reads.py).
        # The route objects are the routers' own, shared by every app made in this process, so
        # `app.dependency_overrides` does not reach them: tests replace what a route calls instead.
        app.router.routes.extend(router.routes)

    app.add_exception_handler(DomainError, problems.on_domain_error)
    app.add_exception_handler(RequestValidationError, problems.on_validation_error)
    app.add_exception_handler(StarletteHTTPException, problems.on_http_error)
    app.add_exception_handler(Exception, problems.on_unexpected_error)

    app.add_middleware(SubmissionFastLane)  # innermost: request ids and error handling still wrap it
    # 414 / 431 before anything reads the request; inside CORS and request ids, so browsers can
    # read the problem and it carries its request id.
    app.add_middleware(
        RequestLimitsMiddleware, max_url_bytes=settings.max_url_bytes, max_header_bytes=settings.max_header_bytes
    )
    if settings.cors_origins:
        app.add_middleware(
            ApiCorsMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "If-Match",
                "If-None-Match",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "Location", "X-Request-ID", "Idempotent-Replayed"],
            max_age=600,
        )
    app.add_middleware(RequestIdMiddleware)
    # Outermost: every answer is counted, the ones of the middlewares above included (/metrics
    # itself is served on METRICS_PORT, never here).
    app.add_middleware(metrics.HttpMetricsMiddleware)
    app.add_middleware(RequestLogMiddleware)  # outermost: one line per request, its whole time

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem_schema.pop("$defs", {}))
            schemas["Problem"] = problem_schema
            for model in DOCUMENTED_BODIES:  # bodies routes read themselves (several media types)
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(body.pop("$defs", {}))
                schemas[model.__name__] = body
            schema["webhooks"] = _event_catalogue(schemas)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
