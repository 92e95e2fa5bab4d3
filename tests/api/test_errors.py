"""Every error is an RFC 9457 problem; nothing leaks a stack trace."""

from __future__ import annotations

import httpx
from fastapi import APIRouter

from app.config import Settings
from app.db.session import Database
from app.main import create_app
from app.routers.route import CrmRoute
from tests.conftest import Tenant, assert_problem


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/nothing-here"), 404)
    assert body["instance"] == "/v1/nothing-here" and body["request_id"]


async def test_wrong_method_is_405_problem_with_allow(tenant: Tenant) -> None:
    response = await tenant.request("PUT", "/v1/workspace", json={})
    assert_problem(response, 405)
    assert "PATCH" in response.headers["allow"]


async def test_malformed_json_is_422_naming_the_body(tenant: Tenant) -> None:
    response = await tenant.post("/v1/members", content=b'{"name": ', headers={"Content-Type": "application/json"})
    body = assert_problem(response, 422, "body")
    assert "JSON" in body["detail"]
    # The whole body is the input at fault: named once, as the error's location and field say.
    assert body["detail"].startswith("body: malformed JSON"), body["detail"]
    assert "body.body" not in body["detail"]


async def test_non_json_body_is_415(tenant: Tenant) -> None:
    response = await tenant.post("/v1/members", content=b"name=Sara", headers={"Content-Type": "text/plain"})
    assert_problem(response, 415)
    form = await tenant.post("/v1/members", data={"name": "Sara", "email": "s@x.io"})
    assert_problem(form, 415)


async def test_body_too_large_is_413_and_stores_nothing(tenant: Tenant) -> None:
    huge = {"name": "x" * 300_000, "email": "big@x.io"}
    assert_problem(await tenant.post("/v1/members", json=huge), 413)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 10_000

    streamed = await tenant.post("/v1/members", content=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(streamed, 413)
    assert (await tenant.get("/v1/members")).json()["data"] == []


async def test_bad_path_parameter_is_422_naming_it(tenant: Tenant) -> None:
    assert_problem(await tenant.get("/v1/members/not-a-uuid"), 422, "member_id")


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    mine = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert mine.headers["x-request-id"] == "trace-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces" and len(generated.headers["x-request-id"]) == 32


async def test_unexpected_error_is_500_problem_with_request_id_and_no_trace(database: Database) -> None:
    app = create_app(Settings(database_url=database.settings.database_url), database=database)
    broken = APIRouter(route_class=CrmRoute)

    @broken.get("/v1/boom")
    async def boom() -> None:
        raise ZeroDivisionError("secret internals")

    app.include_router(broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/v1/boom", headers={"X-Request-ID": "req-500"})
    body = assert_problem(response, 500)
    assert body["request_id"] == "req-500" and response.headers["x-request-id"] == "req-500"
    assert "secret internals" not in response.text and "Traceback" not in response.text


async def test_timestamps_are_rfc3339_utc_with_z(tenant: Tenant) -> None:
    member = (await tenant.post("/v1/members", json={"name": "T", "email": "t@x.io"})).json()
    for field in ("created_at", "updated_at"):
        assert member[field].endswith("Z") and "+" not in member[field]


async def test_text_no_database_can_store_is_a_422_naming_the_field(tenant: Tenant) -> None:
    # PostgreSQL refuses NUL in text; an unpaired surrogate is not UTF-8 (schemathesis found a 500)
    endpoint = (await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/a"})).json()
    for bad in (b'"a\\u0000b"', b'"x\\udb4fy"'):  # JSON escapes, as a client sends them
        response = await tenant.patch(f"/v1/webhook-endpoints/{endpoint['id']}", content=b'{"description": ' + bad
                                      + b"}", headers={"Content-Type": "application/json"})  # fmt: skip
        assert_problem(response, 422, "description")
    assert_problem(await tenant.post("/v1/leads", json={"email": "a@x.io", "tags": ["ok", "n\u0000l"]}), 422, "tags")
    assert (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()["description"] == ""
    # In a batch it is the item's 422, naming its field (it rejected the whole batch); the others are written.
    at = "2026-11-01T10:00:00Z"
    order = {"source": "shop", "status": "paid", "currency": "EUR", "total": "10.00", "source_updated_at": at,
             "placed_at": at, "customer": {"email": "c@x.io"}}  # fmt: skip
    batch = {"orders": [{**order, "external_id": "1"}, {**order, "external_id": "2", "coupon": "n\u0000l"}]}
    results = (await tenant.post("/v1/orders/batch", json=batch)).json()["results"]
    assert [r["status"] for r in results] == ["created", "error"]
    assert results[1]["problem"]["status"] == 422 and "coupon" in str(results[1]["problem"]["errors"])
