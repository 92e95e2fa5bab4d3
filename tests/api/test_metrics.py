"""Prometheus metrics of the API on both databases: requests counted by route template (never the
raw path), form submissions by outcome, no tenant anywhere in the text, and /metrics never on the
API itself. Scraped over HTTP from the metrics server (its own port) this test process starts;
counters are process-wide, so the tests compare a scrape before with one after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from app import metrics
from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.services.context import SYSTEM, Context
from app.services.events import timers
from app.worker import timers as worker_timers
from tests.api.test_imports import run_jobs
from tests.conftest import Tenant
from tests.integration.server import free_port

SITE = "https://www.shop.example"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def metrics_url() -> Iterator[str]:
    port = free_port()
    assert metrics.serve_metrics(port, "127.0.0.1")
    yield f"http://127.0.0.1:{port}/metrics"


async def scrape(url: str) -> tuple[str, Samples]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_without_tenants(tenant: Tenant, metrics_url: str) -> None:
    _, before = await scrape(metrics_url)
    created = await tenant.post("/v1/leads", json={"email": "sara@example.com", "first_name": "Sara"})
    assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    for _ in range(2):
        assert (await tenant.get(f"/v1/leads/{lead_id}")).status_code == 200
    assert (await tenant.get("/v1/no-such-thing/at-all")).status_code == 404

    text, after = await scrape(metrics_url)
    count = "crm_http_requests_total"
    assert (
        value(after, count, route="/v1/leads", method="POST", status="201")
        - value(before, count, route="/v1/leads", method="POST", status="201")
        == 1
    )
    one = {"route": "/v1/leads/{lead_id}", "method": "GET", "status": "200"}
    assert value(after, count, **one) - value(before, count, **one) == 2
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(after, count, **unmatched) - value(before, count, **unmatched) >= 1
    timed = {"route": "/v1/leads/{lead_id}", "method": "GET"}
    assert (
        value(after, "crm_http_request_duration_seconds_count", **timed)
        - value(before, "crm_http_request_duration_seconds_count", **timed)
        == 2
    )
    assert value(after, "crm_http_request_duration_seconds_bucket", le="+Inf", **timed) >= 2
    for raw in (tenant.id, lead_id, "no-such-thing", "sara@example.com"):
        assert raw not in text


async def test_form_submissions_are_counted_by_outcome(tenant: Tenant, metrics_url: str) -> None:
    form = (
        await tenant.post("/v1/forms", json={"name": "Contact", "allowed_origins": [SITE], "honeypot_field": "website"})
    ).json()
    url = f"/v1/forms/{form['id']}/submissions"
    public = {"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE}
    _, before = await scrape(metrics_url)
    accepted = await tenant.client.post(url, json={"email": "ali@example.com"}, headers=public)
    assert accepted.status_code == 201, accepted.text
    spam = await tenant.client.post(url, json={"email": "bot@example.com", "website": "http://x"}, headers=public)
    assert spam.status_code == 201, spam.text
    rejected = await tenant.client.post(url, json={"first_name": "No address"}, headers=public)
    assert rejected.status_code == 422, rejected.text
    # Form-encoded: FastAPI's route, not the JSON fast lane; counted the same way.
    posted = await tenant.client.post(url, data={"email": "reza@example.com"}, headers=public)
    assert posted.status_code == 201, posted.text

    text, after = await scrape(metrics_url)
    outcomes = {"accepted": 2, "spam": 1, "rejected": 1}
    for outcome, expected in outcomes.items():
        moved = value(after, "crm_form_submissions_total", outcome=outcome) - value(
            before, "crm_form_submissions_total", outcome=outcome
        )
        assert moved == expected, outcome
    route = {"route": "/v1/forms/{form_id}/submissions", "method": "POST", "status": "201"}
    assert value(after, "crm_http_requests_total", **route) - value(before, "crm_http_requests_total", **route) == 3
    assert form["id"] not in text and tenant.id not in text


async def test_what_counts_stored_work_counts_it_once_committed(database: Database) -> None:
    """Counters of stored things (form submissions) move after the commit: not for a unit of work
    rolled back (a refused or retried write), once for one committed."""
    counted: list[str] = []
    async with UnitOfWork(database) as uow:
        await uow.execute(sa.select(1))
        uow.after_commit(lambda: counted.append("rolled back"))
        await uow.rollback()
        await uow.commit()
    async with UnitOfWork(database) as uow:
        uow.after_commit(lambda: counted.append("left"))  # leaving without a commit rolls back
    async with UnitOfWork(database) as uow:
        await uow.execute(sa.select(1))
        uow.after_commit(lambda: counted.append("stored"))
        with pytest.raises(ZeroDivisionError):
            async with uow.savepoint():  # a part that failed alone: what it would count is not stored
                uow.after_commit(lambda: counted.append("in a failed savepoint"))
                raise ZeroDivisionError
        uow.after_commit(lambda: 1 / 0)  # a failing callback is logged; the others still run
        uow.after_commit(lambda: counted.append("also stored"))
        assert counted == []  # not before the commit
        await uow.commit()
        await uow.commit()
    assert counted == ["stored", "also stored"]


async def test_the_api_has_no_metrics_endpoint(tenant: Tenant) -> None:
    assert (await tenant.client.get("/metrics")).status_code == 404
    assert (await tenant.get("/metrics")).status_code == 404


async def test_jobs_are_counted_by_kind_and_outcome(tenant: Tenant, database: Database, metrics_url: str) -> None:
    await run_jobs(database)  # other tests' jobs out of the way
    _, before = await scrape(metrics_url)
    response = await tenant.post("/v1/events/redactions", json={"resource_id": "lead-1"})
    assert response.status_code == 202, response.text
    await run_jobs(database)
    text, after = await scrape(metrics_url)
    done = {"kind": "events.redact", "outcome": "succeeded"}
    assert value(after, "crm_jobs_total", **done) - value(before, "crm_jobs_total", **done) == 1
    timed = {"kind": "events.redact"}
    assert (
        value(after, "crm_job_duration_seconds_count", **timed)
        - value(before, "crm_job_duration_seconds_count", **timed)
        == 1
    )
    assert response.json()["id"] not in text and tenant.id not in text


async def test_timers_lag_is_observed_when_they_fire(tenant: Tenant, database: Database, metrics_url: str) -> None:
    settings = Settings(database_url=database.settings.database_url)
    while await worker_timers.fire_due(database, settings):  # other tests' due timers out of the way
        pass
    _, before = await scrape(metrics_url)
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow())
        payload = {"type": "task.due", "data": {"task": "late"}, "resource_id": "t-metrics"}
        await timers.schedule(ctx, "notify", utcnow() - timedelta(seconds=30), payload, key="metrics-late")
        await uow.commit()
    assert await worker_timers.fire_due(database, settings) == 1
    _, after = await scrape(metrics_url)
    count = "crm_timers_lag_seconds_count"
    assert value(after, count) - value(before, count) == 1
    assert value(after, "crm_timers_lag_seconds_sum") - value(before, "crm_timers_lag_seconds_sum") >= 30
    late = "crm_timers_lag_seconds_bucket"
    assert value(after, late, le="10.0") - value(before, late, le="10.0") == 0  # 30 s late: past the 10 s bucket
    assert value(after, late, le="60.0") - value(before, late, le="60.0") == 1
