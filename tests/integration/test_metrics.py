"""Metrics of a real `python -m app serve` on PostgreSQL with its worker child: one scrape of
METRICS_PORT sums the API process's and the worker's values; METRICS_PORT=0 listens nowhere but
the API's port; a standalone worker serves its own."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.db.session import Database
from tests.conftest import ScratchDatabases, Tenant, database_url
from tests.integration.receiver import Receiver
from tests.integration.server import ROOT, Server, children, create_workspace, free_port, run_cli, tcp_ports
from tests.integration.test_email_messages import app, client, running_worker, settled, tenant  # noqa: F401
from tests.integration.test_sms_messages import ACCOUNT, PHONE, TOKEN, twilio
from tests.integration.test_worker_processes import WORKER_ENV, add_members, start_worker, subscribe


def listening_ports(pid: int) -> set[int]:
    return tcp_ports(pid, listening=True)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


async def scrape_until(
    url: str, *wanted: tuple[str, dict[str, str]], present: tuple[str, ...] = (), timeout: float = 60.0
) -> str:
    """The metrics text once every `wanted` sample is there and above zero, and every `present`
    metric there at all."""
    deadline = time.monotonic() + timeout
    text = ""
    async with httpx.AsyncClient() as scraper:
        while time.monotonic() < deadline:
            try:
                response = await scraper.get(url)
            except httpx.TransportError:  # a standalone worker still starting
                await asyncio.sleep(0.2)
                continue
            assert response.status_code == 200
            text = response.text
            found = samples(text)
            names = {name for name, _ in found}
            if all(found.get((name, frozenset(labels.items())), 0) > 0 for name, labels in wanted) and all(
                name in names for name in present
            ):
                return text
            await asyncio.sleep(0.2)
    raise AssertionError(f"not all of {wanted} in {timeout} s:\n{text}")


@pytest.mark.slow
async def test_one_scrape_sums_the_api_and_its_worker_process(scratch: ScratchDatabases, tmp_path: Path) -> None:
    url = await database_url("postgresql", tmp_path, scratch)
    run_cli(url, "migrate")
    created = create_workspace(url, "Metrics")
    workspace_id = uuid.UUID(created["workspace_id"])
    database = Database(Settings(database_url=url))
    port = free_port()
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with Receiver() as receiver:
            await subscribe(database, workspace_id, receiver.url)
            with Server(url, tmp_path / "server.log", worker=True, METRICS_PORT=str(port), **WORKER_ENV) as server:
                [worker] = children(server.process.pid)
                assert listening_ports(server.process.pid) == {server.port, port}
                assert listening_ports(worker) == set()  # the worker child writes; serve answers
                auth = {"Authorization": f"Bearer {created['secret_key']}"}
                async with httpx.AsyncClient(base_url=server.url, headers=auth) as api:
                    lead = await api.post("/v1/leads", json={"email": "sara@example.com"})
                    assert lead.status_code == 201, lead.text
                    assert (await api.get(f"/v1/leads/{lead.json()['id']}")).status_code == 200
                    assert (await api.get("/metrics")).status_code == 404  # never on the API's port
                await add_members(database, workspace_id, 1)  # member.created: a webhook from the worker
                await receiver.wait_for(1, timeout=60)
                text = await scrape_until(
                    metrics_url,
                    ("crm_http_requests_total", {"route": "/v1/leads", "method": "POST", "status": "201"}),
                    ("crm_http_requests_total", {"route": "/v1/leads/{lead_id}", "method": "GET", "status": "200"}),
                    ("crm_webhook_deliveries_total", {"outcome": "delivered"}),
                    ("crm_webhook_delivery_lag_seconds_count", {}),
                    present=("crm_events_backlog", "crm_events_oldest_age_seconds", "crm_db_pool_connections"),
                )
                assert str(workspace_id) not in text and lead.json()["id"] not in text

                # The worker restarted by serve: the dead one's counts stay in the sum.
                os.kill(worker, signal.SIGKILL)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and set(children(server.process.pid)) in (set(), {worker}):
                    await asyncio.sleep(0.2)
                await scrape_until(metrics_url, ("crm_webhook_deliveries_total", {"outcome": "delivered"}))
    finally:
        await database.dispose()


async def test_metrics_port_zero_listens_nowhere_else(scratch: ScratchDatabases, tmp_path: Path) -> None:
    url = await database_url("postgresql", tmp_path, scratch)
    run_cli(url, "migrate")
    with Server(url, tmp_path / "server.log", worker=True, METRICS_PORT="0") as server:
        [worker] = children(server.process.pid)
        assert listening_ports(server.process.pid) == {server.port}
        assert listening_ports(worker) == set()
        environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
        assert not any(entry.startswith(b"PROMETHEUS_MULTIPROC_DIR=") for entry in environ)


async def test_a_standalone_worker_serves_its_own_metrics(scratch: ScratchDatabases, tmp_path: Path) -> None:
    url = await database_url("postgresql", tmp_path, scratch)
    run_cli(url, "migrate")
    port = free_port()
    worker = start_worker(url, tmp_path / "worker.log", METRICS_PORT=str(port))
    # compose.yaml's health check of the worker service, on this worker's port.
    check = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["worker"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    script = check[3].replace("127.0.0.1:9464", f"127.0.0.1:{port}")

    def healthy() -> bool:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
        return done.returncode == 0

    try:
        text = await scrape_until(
            f"http://127.0.0.1:{port}/metrics",
            ("crm_worker_heartbeat_timestamp_seconds", {}),  # set once its loops have read the database
            present=("crm_events_backlog", "crm_db_pool_connections"),
        )
        assert abs(samples(text)[("crm_worker_heartbeat_timestamp_seconds", frozenset())] - time.time()) < 30
        assert healthy()
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert not healthy()  # gone


async def test_messages_are_counted_by_channel_and_outcome(database: Database, tenant: Tenant) -> None:  # noqa: F811
    """In this process (no multiprocess directory): an SMS sent by a real worker through a local
    Twilio counts once as sms/sent."""
    sid = "SM" + tenant.id.replace("-", "")
    before = REGISTRY.get_sample_value("crm_messages_total", {"channel": "sms", "outcome": "sent"}) or 0.0
    async with twilio(sid) as provider:
        channel = {"type": "sms", "provider": "twilio", "name": "Twilio",
                   "settings": {"account_sid": ACCOUNT, "auth_token": TOKEN, "from": "+15017122661",
                                "api_base_url": f"http://127.0.0.1:{provider.port}"}}  # fmt: skip
        assert (await tenant.post("/v1/channels", json=channel)).status_code == 201
        policy = {"quiet_hours": None, "frequency_cap": None}
        assert (await tenant.patch("/v1/settings/messaging", json=policy)).status_code == 200
        lead = (await tenant.post("/v1/leads", json={"first_name": "Sara", "phone": PHONE})).json()
        consent = await tenant.request("PUT", f"/v1/leads/{lead['id']}/consents/sms",
                                       json={"status": "opted_in", "source": "api"})  # fmt: skip
        assert consent.status_code == 200, consent.text
        async with running_worker(database):
            queued = await tenant.post("/v1/messages", json={"lead_id": lead["id"], "channel": "sms",
                                                             "body_text": "Hello", "purpose": "marketing"})  # fmt: skip
            assert queued.status_code == 202, queued.text
            await settled(tenant, queued.json()["id"], "sent")
    after = REGISTRY.get_sample_value("crm_messages_total", {"channel": "sms", "outcome": "sent"})
    assert after == before + 1
