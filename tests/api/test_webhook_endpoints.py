"""Webhook endpoints through the API, as the operator's defaults set it up: targets that are IP
addresses in refused ranges are a 422 when the endpoint is made or changed, and a workspace has at
most WEBHOOK_ENDPOINTS_PER_WORKSPACE endpoints (an operator cap, not a tenant setting)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from tests.conftest import Tenant, assert_problem

REFUSED_TARGETS = [
    "http://127.0.0.1:8080/hooks",  # loopback (allowed only with WEBHOOK_ALLOW_LOOPBACK)
    "http://10.0.0.5/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hooks",
    "https://[fec0::1]/hooks",
    "https://[2002:a9fe:a9fe::1]/hooks",  # 6to4 carrying 169.254.169.254
    "https://[2001:0:5db8:d822::f5ff:fffe]/hooks",  # Teredo whose client is 10.0.0.1
    "https://[::ffff:192.168.1.1]/hooks",
]


@pytest.mark.parametrize("url", REFUSED_TARGETS)
async def test_an_endpoint_on_a_refused_address_is_a_422_naming_url(tenant: Tenant, url: str) -> None:
    problem = assert_problem(await tenant.post("/v1/webhook-endpoints", json={"url": url}), 422, "url")
    assert [e["message"] for e in problem["errors"]] == ["address not allowed"]
    assert (await tenant.get("/v1/webhook-endpoints")).json()["data"] == []


async def test_changing_an_endpoint_to_a_refused_address_is_a_422(tenant: Tenant) -> None:
    created = (await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/a"})).json()
    url = f"/v1/webhook-endpoints/{created['id']}"
    assert_problem(await tenant.patch(url, json={"url": "http://169.254.169.254/"}), 422, "url")
    assert (await tenant.get(url)).json()["url"] == "https://hooks.example.com/a"
    # Names are judged where the connection is made (their addresses can change): accepted here.
    changed = await tenant.patch(url, json={"url": "https://hooks.example.net:8443/crm"})
    assert changed.status_code == 200 and changed.json()["url"] == "https://hooks.example.net:8443/crm"


@pytest.mark.parametrize("url", ["http://[zz/", "https://hooks.example.com:99999/", "https://"])
async def test_a_url_that_does_not_parse_is_a_422_not_a_500(tenant: Tenant, url: str) -> None:
    assert_problem(await tenant.post("/v1/webhook-endpoints", json={"url": url}), 422, "url")


@pytest.mark.parametrize("value", [0, 51, "x", None, 2.5])
async def test_max_in_flight_out_of_bounds_is_a_422_naming_it(tenant: Tenant, value: object) -> None:
    body = {"url": "https://hooks.example.com/m", "max_in_flight": value}
    assert_problem(await tenant.post("/v1/webhook-endpoints", json=body), 422, "max_in_flight")
    assert (await tenant.get("/v1/webhook-endpoints")).json()["data"] == []
    created = (await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/m"})).json()
    url = f"/v1/webhook-endpoints/{created['id']}"
    assert_problem(await tenant.patch(url, json={"max_in_flight": value}), 422, "max_in_flight")
    assert (await tenant.get(url)).json()["max_in_flight"] == 1


async def test_max_in_flight_defaults_to_one_and_is_kept_when_changed(tenant: Tenant) -> None:
    created = await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/d"})
    assert created.status_code == 201 and created.json()["max_in_flight"] == 1
    url = f"/v1/webhook-endpoints/{created.json()['id']}"
    changed = await tenant.patch(url, json={"max_in_flight": 8})
    assert changed.status_code == 200 and changed.json()["max_in_flight"] == 8
    assert (await tenant.get(url)).json()["max_in_flight"] == 8
    other = await tenant.patch(url, json={"description": "eight at once"})  # kept by other changes
    assert other.json()["max_in_flight"] == 8
    [listed] = [
        e for e in (await tenant.get("/v1/webhook-endpoints")).json()["data"] if e["id"] == created.json()["id"]
    ]
    assert listed["max_in_flight"] == 8
    at_most = await tenant.post(
        "/v1/webhook-endpoints", json={"url": "https://hooks.example.com/e", "max_in_flight": 50}
    )
    assert at_most.status_code == 201 and at_most.json()["max_in_flight"] == 50


async def test_max_in_flight_is_described_in_the_openapi_schema(tenant: Tenant) -> None:
    schemas = (await tenant.get("/openapi.json")).json()["components"]["schemas"]
    for name in ("WebhookEndpointCreate", "WebhookEndpointUpdate", "WebhookEndpointRead"):
        field = schemas[name]["properties"]["max_in_flight"]
        assert field["minimum"] == 1 and field["maximum"] == 50 and "sequence" in field["description"], name
    assert "max_in_flight" in schemas["WebhookEndpointRead"]["required"]


async def test_a_workspace_has_at_most_fifty_endpoints(tenant: Tenant, other_tenant: Tenant) -> None:
    ids = []
    for n in range(50):
        response = await tenant.post("/v1/webhook-endpoints", json={"url": f"https://hooks.example.com/{n}"})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    over = await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/51"})
    problem = assert_problem(over, 409)
    assert problem["type"] == "/problems/limit-exceeded"
    assert problem["limit"] == "WEBHOOK_ENDPOINTS_PER_WORKSPACE" and problem["value"] == 50
    assert len((await tenant.get("/v1/webhook-endpoints", params={"limit": 200})).json()["data"]) == 50
    # Another workspace has its own 50; a deleted endpoint frees its place.
    other = await other_tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/o"})
    assert other.status_code == 201
    assert (await tenant.delete(f"/v1/webhook-endpoints/{ids[0]}")).status_code == 200
    again = await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/51"})
    assert again.status_code == 201, again.text


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # concurrent writers are PostgreSQL's
async def test_postgres_creations_at_the_same_time_never_pass_the_cap(tenant: Tenant) -> None:
    for n in range(48):
        response = await tenant.post("/v1/webhook-endpoints", json={"url": f"https://hooks.example.com/{n}"})
        assert response.status_code == 201, response.text
    racing = await asyncio.gather(
        *(tenant.post("/v1/webhook-endpoints", json={"url": f"https://hooks.example.com/r{n}"}) for n in range(6))
    )
    assert sorted(r.status_code for r in racing) == [201, 201, 409, 409, 409, 409]
    assert len((await tenant.get("/v1/webhook-endpoints", params={"limit": 200})).json()["data"]) == 50


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_postgres_a_creation_checking_the_cap_holds_up_no_other_write_of_the_workspace(
    tenant: Tenant, database: Database
) -> None:
    """While one endpoint creation holds the workspace's cap check, the workspace's other writes
    (a new lead) go through; only another endpoint creation waits for it."""
    async with UnitOfWork(database, write=True) as holding:
        await WorkspaceRepositories(holding, uuid.UUID(tenant.id)).webhook_endpoints.count_before_adding()
        lead = await asyncio.wait_for(tenant.post("/v1/leads", json={"email": "during@x.io"}), 10)
        assert lead.status_code == 201, lead.text
        creating = asyncio.ensure_future(tenant.post("/v1/webhook-endpoints", json={"url": "https://h.example.com/"}))
        await asyncio.sleep(0.5)
        assert not creating.done()  # two creations still exclude each other
        await holding.rollback()
    assert (await asyncio.wait_for(creating, 10)).status_code == 201
