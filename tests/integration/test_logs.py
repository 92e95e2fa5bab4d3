"""Logs end to end: a request traced to the worker's delivery lines by its request id and its events'
ids (both databases), and the real server writing nothing but JSON lines with LOG_FORMAT=json
(uvicorn's own lines too, its access log replaced by the request log)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.logs import JsonFormatter
from app.services.context import SYSTEM, Context
from app.services.events import timers
from app.worker import jobs
from app.worker import timers as worker_timers
from tests.api.test_request_log import EMAIL, _capture
from tests.conftest import Tenant
from tests.integration.receiver import Receiver
from tests.integration.server import Server, create_workspace, run_cli
from tests.integration.test_webhooks import app, running_worker, subscribe, until

__all__ = ["app"]  # the webhook tests' app: receivers on loopback may be subscribed


async def test_a_delivery_line_names_the_event_the_request_line_names(tenant: Tenant, database: Database) -> None:
    with _capture(JsonFormatter()) as logged:
        async with Receiver() as receiver, running_worker(database):
            endpoint = await subscribe(tenant, receiver.url, event_types=["member.created"])
            created = await tenant.post(
                "/v1/members", json={"name": "Sara", "email": EMAIL}, headers={"X-Request-ID": "checkout-7f3a"}
            )
            assert created.status_code == 201, created.text
            [hook] = await receiver.wait_for(1)
            event_id = json.loads(hook.body)["id"]

            def delivery_lines() -> list[dict]:  # type: ignore[type-arg]
                parsed = [json.loads(line) for line in logged.lines]
                return [x for x in parsed if x.get("kind") == "webhook_delivery" and x["event_id"] == event_id]

            async def delivered() -> bool:
                return bool(delivery_lines())

            await until(delivered)

            async def turn_ended() -> bool:
                return any('"kind":"webhook_batch"' in x and endpoint["id"] in x for x in logged.lines)

            await until(turn_ended)

    assert created.headers["X-Request-ID"] == "checkout-7f3a"  # the caller's id is kept
    request = logged.of("checkout-7f3a")
    assert request["route"] == "/v1/members" and event_id in request["event_ids"]
    [line] = delivery_lines()
    assert line["request_id"] == "checkout-7f3a"  # the request is named in the worker's line
    assert line["endpoint_id"] == endpoint["id"] and line["workspace_id"] == tenant.id
    assert line["event_type"] == "member.created" and line["status_code"] == 200 and line["outcome"] == "succeeded"
    assert line["attempt"] == 1 and line["level"] == "info" and line["ts"].endswith("Z")
    assert isinstance(line["duration_ms"], int) and line["delivery_id"]
    dispatch = [json.loads(x) for x in logged.lines if '"kind":"dispatch_pass"' in x]
    assert dispatch and all(d["events"] >= 1 and d["duration_ms"] >= 0 for d in dispatch)
    everything = "\n".join(logged.lines)
    assert EMAIL not in everything and endpoint["secret"] not in everything and tenant.secret_key not in everything


def test_the_server_writes_json_lines_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    run_cli(url, "migrate")
    keys = create_workspace(url, "Logged")  # not an empty database: no demo workspace is printed
    with Server(url, tmp_path / "server.log", LOG_FORMAT="json", LOG_LEVEL="info") as server:
        headers = {"Authorization": f"Bearer {keys['secret_key']}", "X-Request-ID": "served-1"}
        answer = httpx.get(f"{server.url}/v1/leads", params={"email": EMAIL}, headers=headers, timeout=10)
        assert answer.status_code == 200
        missing = httpx.get(f"{server.url}/v1/nowhere?email={EMAIL}", timeout=10)
        assert missing.status_code == 404
    lines = [json.loads(line) for line in server.output().splitlines() if line.strip()]  # every line is JSON
    assert any(x.get("logger", "").startswith("uvicorn") and "startup" in x["message"].lower() for x in lines), lines
    [served] = [x for x in lines if x.get("request_id") == "served-1"]
    assert served["route"] == "/v1/leads" and served["status"] == 200 and served["workspace_id"] == keys["workspace_id"]
    [unmatched] = [x for x in lines if x.get("route") == "unmatched"]
    assert unmatched["status"] == 404 and unmatched["error_type"] == "/problems/not-found"
    assert not [x for x in lines if x.get("logger") == "uvicorn.access"]  # replaced by the request log
    text = server.output()
    assert EMAIL not in text and "email%40" not in text and keys["secret_key"] not in text


async def test_a_job_and_a_timer_pass_are_a_line_each(tenant: Tenant, database: Database) -> None:
    settings = Settings(database_url=database.settings.database_url)
    with _capture(JsonFormatter()) as logged:
        refresh = await tenant.post("/v1/analytics/refresh", json={})
        assert refresh.status_code == 202, refresh.text
        job_id = refresh.json()["id"]
        for _ in range(20):  # earlier tests sharing the database may have left jobs ahead of it
            if not await jobs.run_due(database, settings) or any(job_id in line for line in logged.lines):
                break
        async with UnitOfWork(database) as uow:
            ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow())
            payload = {"type": "task.due", "data": {"task": EMAIL}, "resource_id": "t-logged"}
            await timers.schedule(ctx, "notify", utcnow(), payload, key=f"logged-{uuid.uuid4()}")
            await uow.commit()
        assert await worker_timers.fire_due(database, settings) >= 1

    parsed = [json.loads(line) for line in logged.lines]
    [job] = [x for x in parsed if x.get("kind") == "job" and x["job_id"] == job_id]
    assert job["job_kind"] == "analytics.refresh" and job["status"] == "succeeded" and job["attempt"] == 1
    assert job["workspace_id"] == tenant.id and job["duration_ms"] >= 0 and job["message"] == "job ended"
    [timer_pass] = [x for x in parsed if x.get("kind") == "timer_pass"]
    assert timer_pass["fired"] >= 1 and timer_pass["failed"] == 0 and "notify" in timer_pass["kinds"]
    assert EMAIL not in "\n".join(logged.lines)
