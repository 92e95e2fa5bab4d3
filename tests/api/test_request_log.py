"""The request log (app/logs.py): one line per request with its route's template, status, caller,
timings and error type; in JSON (LOG_FORMAT=json) or text; never a body, a query string, an email,
a phone number or a key."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from app.config import Settings
from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.logs import JsonFormatter, TextFormatter, scrub
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.workspace import members
from tests.conftest import Tenant

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FIELDS = {
    "ts",
    "level",
    "request_id",
    "workspace_id",
    "key_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "db_ms",
    "error_type",
}
EMAIL = "planted.person@example.org"
PHONE = "+989121234567"


class Lines(logging.Handler):
    """Every record the process logs, formatted as LOG_FORMAT would write it."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(("httpx", "httpcore")):  # the tests' client, not the service
            self.lines.append(self.format(record))

    def requests(self) -> list[dict]:  # type: ignore[type-arg]
        parsed = [json.loads(line) for line in self.lines]
        return [line for line in parsed if "route" in line and "status" in line]

    def of(self, request_id: str) -> dict:  # type: ignore[type-arg]
        [line] = [line for line in self.requests() if line["request_id"] == request_id]
        return line


@contextlib.contextmanager
def _capture(formatter: logging.Formatter) -> Iterator[Lines]:
    handler = Lines(formatter)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    with _capture(JsonFormatter()) as lines:
        yield lines


@pytest.fixture
def text_lines() -> Iterator[Lines]:
    with _capture(TextFormatter()) as lines:
        yield lines


async def test_a_request_is_one_json_line_with_its_route_template_and_caller(tenant: Tenant, json_lines: Lines) -> None:
    created = await tenant.post("/v1/leads", json={"email": EMAIL, "phone": PHONE, "company": "Acme"})
    assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    read = await tenant.get(f"/v1/leads/{lead_id}", headers={"X-Request-ID": "trace-read-1"})
    assert read.status_code == 200

    line = json_lines.of("trace-read-1")
    assert set(line) == FIELDS  # a read records no events: exactly the documented fields
    assert RFC3339_UTC.match(line["ts"]) and line["level"] == "info"
    assert line["method"] == "GET" and line["route"] == "/v1/leads/{lead_id}" and line["status"] == 200
    assert line["workspace_id"] == tenant.id
    assert uuid.UUID(line["key_id"])  # the key's id, never the key
    assert isinstance(line["db_ms"], (int, float)) and line["db_ms"] >= 0
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= line["db_ms"]
    assert line["error_type"] is None

    write = json_lines.of(created.headers["X-Request-ID"])
    assert write["route"] == "/v1/leads" and write["status"] == 201 and write["method"] == "POST"
    assert write["db_ms"] > 0  # the write's statements were timed (aiosqlite / asyncpg alike)
    assert write["event_ids"]  # the events it committed: what its deliveries' lines name

    # Nothing personal, no key, no query string in any line the process wrote meanwhile.
    everything = "\n".join(json_lines.lines)
    assert EMAIL not in everything and PHONE not in everything
    assert tenant.secret_key not in everything, everything


async def test_errors_carry_their_problem_type_and_unmatched_paths_a_fixed_route(
    tenant: Tenant, json_lines: Lines
) -> None:
    missing = await tenant.get(f"/v1/leads/{uuid.uuid4()}")
    assert missing.status_code == 404
    line = json_lines.of(missing.headers["X-Request-ID"])
    assert line["route"] == "/v1/leads/{lead_id}" and line["error_type"] == "/problems/not-found"

    invalid = await tenant.post("/v1/leads", json={"email": EMAIL, "no_such_field": EMAIL})
    assert invalid.status_code == 422
    line = json_lines.of(invalid.headers["X-Request-ID"])
    assert line["status"] == 422 and line["error_type"] == "/problems/validation-error"

    nowhere = await tenant.get(f"/v1/nowhere/{EMAIL}", params={"email": EMAIL})
    assert nowhere.status_code == 404
    line = json_lines.of(nowhere.headers["X-Request-ID"])
    assert line["route"] == "unmatched" and line["error_type"] == "/problems/not-found"

    unauthenticated = await tenant.client.get("/v1/leads", headers={"Authorization": "Bearer sk_nope"})
    line = json_lines.of(unauthenticated.headers["X-Request-ID"])
    assert line["status"] == 401 and line["error_type"] == "/problems/unauthorized"
    assert line["workspace_id"] is None and line["key_id"] is None

    everything = "\n".join(json_lines.lines)
    assert EMAIL not in everything and "sk_nope" not in everything


async def test_an_unexpected_error_is_a_500_line_naming_the_exception_and_no_data(
    tenant: Tenant, json_lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError(f"cannot read {EMAIL} {PHONE} with {tenant.secret_key}")

    monkeypatch.setattr(members, "get", broken)
    response = await tenant.get(f"/v1/members/{uuid.uuid4()}", params={"email": EMAIL})
    assert response.status_code == 500
    line = json_lines.of(response.headers["X-Request-ID"])
    assert line["level"] == "error" and line["status"] == 500 and line["error_type"] == "RuntimeError"
    assert line["route"] == "/v1/members/{member_id}"
    # The traceback is logged (for operators), scrubbed of the message's data.
    [logged] = [json.loads(x) for x in json_lines.lines if '"exc_type":"RuntimeError"' in x]
    assert "cannot read [email] [number] with [secret]" in logged["exc"]
    everything = "\n".join(json_lines.lines)
    assert EMAIL not in everything and PHONE not in everything and tenant.secret_key not in everything


async def test_form_submissions_log_their_route_and_no_key_or_field(tenant: Tenant, json_lines: Lines) -> None:
    form = await tenant.post("/v1/forms", json={"name": "Contact"})
    assert form.status_code == 201, form.text
    url = f"/v1/forms/{form.json()['id']}/submissions"
    # JSON without an Idempotency-Key: the fast lane, which stands in for the route
    submitted = await tenant.client.post(url, params={"key": tenant.publishable_key}, json={"email": EMAIL})
    assert submitted.status_code in (200, 201, 202), submitted.text
    line = json_lines.of(submitted.headers["X-Request-ID"])
    assert line["route"] == "/v1/forms/{form_id}/submissions" and line["status"] == submitted.status_code
    assert line["workspace_id"] == tenant.id
    everything = "\n".join(json_lines.lines)
    assert EMAIL not in everything and tenant.publishable_key not in everything


async def test_text_format_is_one_readable_line(tenant: Tenant, text_lines: Lines) -> None:
    response = await tenant.get("/v1/leads", params={"email": EMAIL}, headers={"X-Request-ID": "text-1"})
    assert response.status_code == 200
    [line] = [x for x in text_lines.lines if "request_id=text-1" in x]
    assert "\n" not in line
    assert re.search(r" INFO app\.requests GET /v1/leads 200 [\d.]+ms db=[\d.]+ms ", line), line
    assert f"workspace_id={tenant.id}" in line and "error_type" not in line
    assert EMAIL not in "\n".join(text_lines.lines)


def test_log_format_is_json_or_text() -> None:
    assert Settings(log_format="JSON").log_format == "json"
    assert Settings().log_format == "text"
    with pytest.raises(ValidationError, match="LOG_FORMAT must be `json` or `text`"):
        Settings(log_format="xml")


def test_free_text_loses_what_may_be_personal_or_secret() -> None:
    text = (
        "connect postgresql://crm:hunter2@db.internal/prod failed; "
        f"1 validation error: input_value='{EMAIL}', input_type=str]; "
        f"[SQL: INSERT INTO leads ...]\n[parameters: ('{EMAIL}', '{PHONE}')]\n"
        "Authorization: Bearer sk_live_abcdefghijkl; whsec_abcdefghijklmnop; task_manager stays"
    )
    scrubbed = scrub(text)
    assert "hunter2" not in scrubbed and EMAIL not in scrubbed and PHONE not in scrubbed
    assert "sk_live" not in scrubbed and "whsec_abc" not in scrubbed
    assert "task_manager stays" in scrubbed and "postgresql://crm:[secret]@db.internal/prod" in scrubbed


async def test_events_keep_their_request_id_whatever_the_log_level(tenant: Tenant, database: Database) -> None:
    """The id is stored with the events the request recorded (the worker's delivery lines carry it),
    also when request lines are not logged at all; work of the service's own has none."""
    requests = logging.getLogger("app.requests")
    level = requests.level
    requests.setLevel(logging.CRITICAL + 1)
    try:
        created = await tenant.post(
            "/v1/members", json={"name": "Quiet", "email": "quiet@example.com"}, headers={"X-Request-ID": "quiet-1"}
        )
    finally:
        requests.setLevel(level)
    assert created.status_code == 201, created.text
    async with UnitOfWork(database, write=False) as uow:
        rows = await uow.execute(
            sa.select(tables.events.c.request_id).where(
                tables.events.c.workspace_id == uuid.UUID(tenant.id),
                tables.events.c.resource_id == created.json()["id"],
            )
        )
        assert [r.request_id for r in rows] == ["quiet-1"]
    async with UnitOfWork(database) as uow:  # outside any request
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        own = {"name": "Own", "email": "own@example.com", "role": "member", "active": True, "timezone": None,
               "capacity": None, "manager_id": None}  # fmt: skip
        made = await members.create(ctx, own)
        await uow.commit()
    async with UnitOfWork(database, write=False) as uow:
        rows = await uow.execute(
            sa.select(tables.events.c.request_id).where(
                tables.events.c.workspace_id == uuid.UUID(tenant.id), tables.events.c.resource_id == str(made["id"])
            )
        )
        assert [r.request_id for r in rows] == [None]
