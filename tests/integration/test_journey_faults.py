"""Journey steps run exactly once although workers die mid-batch: 1,000 leads enrolled through the API
in a six-step journey (update, task, wait, update, send, task), one worker killed with SIGKILL while
its batch has written step runs it has not committed, two more started side by side and one of them
killed the same way, a fourth started beside the third to finish. Every enrolment completes with one
run of each step, one task per task step, one message and one of each tag, and one event of each.
Real processes on PostgreSQL: the API server and the workers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import ScratchDatabases, database_url
from tests.integration.server import ROOT, Server, cli_env, create_workspace, run_cli, tcp_ports

LEADS = 1_000
ENROLLING = 16  # requests in flight at once
ENV = {"WORKER_LEASE_SECONDS": "2", "WORKER_POLL_SECONDS": "0.1", "RATE_LIMIT_ENABLED": "false"}
STEPS = ["tag_a", "call", "pause", "tag_b", "hello", "follow"]


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        cwd=ROOT,
        env=cli_env(url, **ENV),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _client_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets: its database connections' `client_port` in
    pg_stat_activity."""
    return tcp_ports(pid)


async def _step_runs(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM enrolment_steps"))


async def _batch_in_flight(db: asyncpg.Connection, pid: int) -> bool:
    """The worker's journeys pass holds a transaction that wrote step runs not yet committed: it
    holds the lock an insert into enrolment_steps takes until its transaction ends."""
    ports = _client_ports(pid)
    found = await db.fetchval(
        """SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.relation = 'enrolment_steps'::regclass AND l.mode = 'RowExclusiveLock' AND l.granted
             AND a.client_port = ANY($1::int[])""",
        list(ports),
    )
    return bool(found)


async def _kill_mid_batch(db: asyncpg.Connection, worker: subprocess.Popen[bytes], after_runs: int) -> int:
    """SIGKILL the worker once `after_runs` step runs are committed, at a moment its batch has
    written more it has not committed; the step runs committed then."""
    deadline = time.monotonic() + 90
    while True:
        assert worker.poll() is None, f"the worker exited early ({worker.returncode})"
        committed = await _step_runs(db)
        if committed >= after_runs and await _batch_in_flight(db, worker.pid):
            os.kill(worker.pid, signal.SIGKILL)
            await asyncio.to_thread(worker.wait, 30)
            assert worker.returncode == -signal.SIGKILL
            return committed
        assert time.monotonic() < deadline, f"no batch in flight past {after_runs} step runs ({committed} now)"
        await asyncio.sleep(0.005)


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, why: Callable[[], Awaitable[str]]) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(await why())
        await asyncio.sleep(0.1)


@pytest.mark.slow
@pytest.mark.timeout(300)  # about a minute on two cores; more when they are busy
async def test_workers_killed_mid_batch_run_each_step_exactly_once(tmp_path: Path, scratch: ScratchDatabases) -> None:
    url = await database_url("postgresql", tmp_path, scratch)
    spawned: list[subprocess.Popen[bytes]] = []
    try:
        await _scenario(url, tmp_path, spawned)
    finally:  # a failed assertion never leaves a worker behind
        for process in spawned:
            if process.poll() is None:
                process.kill()
                process.wait(10)


async def _scenario(url: str, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    started = time.monotonic()
    timings: dict[str, float] = {}
    run_cli(url, "migrate")
    keys = create_workspace(url, "Journey faults")
    auth = {"Authorization": f"Bearer {keys['secret_key']}"}
    db = await asyncpg.connect(url)
    try:
        with Server(url, tmp_path / "api.log", **ENV) as server:
            limits = httpx.Limits(max_connections=ENROLLING)
            async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=60, limits=limits) as api:
                journey_id, lead_ids = await _journey_and_leads(api)
                timings["setup"] = time.monotonic() - started

                first = _worker(url, tmp_path / "worker-1.log")
                spawned.append(first)
                began = time.monotonic()
                enrolling = asyncio.create_task(_enrol_all(api, journey_id, lead_ids))
                runs = len(STEPS) * LEADS
                try:
                    killed_at = [await _kill_mid_batch(db, first, after_runs=runs // 10)]
                except BaseException:
                    enrolling.cancel()
                    raise
                timings["kill 1"] = time.monotonic() - began
                enrolment_ids = await enrolling
                timings["enrol"] = time.monotonic() - began

                second = _worker(url, tmp_path / "worker-2.log")
                third = _worker(url, tmp_path / "worker-3.log")
                spawned += [second, third]
                killed_at.append(await _kill_mid_batch(db, second, after_runs=(2 * killed_at[0] + runs) // 3))
                timings["kill 2"] = time.monotonic() - began
                fourth = _worker(url, tmp_path / "worker-4.log")  # two side by side to the end
                spawned.append(fourth)

                async def all_ended() -> bool:
                    return bool(await db.fetchval("SELECT count(*) FROM enrolments WHERE status <> 'active'") == LEADS)

                async def why() -> str:
                    rows = await db.fetch("SELECT status, current_step, count(*) FROM enrolments GROUP BY 1, 2")
                    logs = "\n".join((tmp_path / f"worker-{n}.log").read_text()[-2000:] for n in (3, 4))
                    return f"enrolments never all ended: {[tuple(r) for r in rows]}\n{logs}"

                await _until(all_ended, 150, why)
                timings["run"] = time.monotonic() - began
                await asyncio.sleep(0.5)  # time for a wrong second run to happen
                for worker in (third, fourth):
                    worker.terminate()
                    assert await asyncio.to_thread(worker.wait, 30) == 0
                sample = [(await api.get(f"/v1/enrolments/{i}")).json() for i in enrolment_ids[:: LEADS // 10]]
        for n in range(1, 5):  # no pass failed (a failed one waits RETRY_AFTER): only kills got in the way
            assert "failed to advance" not in (tmp_path / f"worker-{n}.log").read_text(), n
        await _check_exactly_once(db, lead_ids, enrolment_ids, sample)
    finally:
        await db.close()
    timings["total"] = time.monotonic() - started
    rounded = {k: round(v, 1) for k, v in timings.items()}
    print(f"killed after {killed_at} committed step runs; seconds {rounded}")


async def _journey_and_leads(api: httpx.AsyncClient) -> tuple[str, list[str]]:
    template = await api.post("/v1/templates", json={"name": "Hi", "channel": "email", "subject": "Hi",
                                                      "body_text": "Hello {{ person.first_name }}"})  # fmt: skip
    assert template.status_code == 201, template.text
    document = {
        "name": "Exactly once", "audience": "leads", "trigger": {"type": "manual"},
        "steps": [
            {"id": "tag_a", "type": "update", "set": {"tags": {"add": ["a"]}}},
            {"id": "call", "type": "task", "title": "Call {{ person.first_name }}", "due_in_seconds": 3600},
            {"id": "pause", "type": "wait", "seconds": 1},
            {"id": "tag_b", "type": "update", "set": {"tags": {"add": ["b"]}}},
            # no email channel: the message is recorded blocked (channel_missing), once
            {"id": "hello", "type": "send", "channel": "email", "template_id": template.json()["id"],
             "purpose": "transactional"},
            {"id": "follow", "type": "task", "title": "Follow up {{ person.first_name }}", "due_in_seconds": 7200},
        ],
    }  # fmt: skip
    created = await api.post("/v1/journeys", json=document)
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    published = await api.post(f"/v1/journeys/{journey_id}/publish")
    assert published.status_code == 200, published.text
    lead_ids: list[str] = []
    for start in range(0, LEADS, 500):
        numbers = range(start, min(start + 500, LEADS))
        items = [{"first_name": f"P{i:04d}", "email": f"p{i:04d}@example.com"} for i in numbers]
        answer = await api.post("/v1/leads/batch", json={"leads": items})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert {r["status"] for r in results} == {"created"}, results[:3]
        lead_ids += [r["id"] for r in sorted(results, key=lambda r: r["index"])]
    return journey_id, lead_ids


async def _enrol_all(api: httpx.AsyncClient, journey_id: str, lead_ids: list[str]) -> list[str]:
    gate = asyncio.Semaphore(ENROLLING)

    async def enrol(lead_id: str) -> str:
        async with gate:
            answer = await api.post(f"/v1/journeys/{journey_id}/enrolments", json={"lead_id": lead_id})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    return list(await asyncio.gather(*(enrol(lead_id) for lead_id in lead_ids)))


async def _check_exactly_once(
    db: asyncpg.Connection, lead_ids: list[str], enrolment_ids: list[str], sample: list[dict[str, Any]]
) -> None:
    enrolments = await db.fetch("SELECT id::text, lead_id::text, status, exit_reason, current_step FROM enrolments")
    assert len(enrolments) == LEADS and len(set(enrolment_ids)) == LEADS
    assert Counter((r["status"], r["exit_reason"]) for r in enrolments) == {("completed", None): LEADS}
    lead_of = {r["id"]: r["lead_id"] for r in enrolments}
    assert sorted(lead_of.values()) == sorted(lead_ids)
    name_of = {r["id"]: r["first_name"] for r in await db.fetch("SELECT id::text, first_name FROM leads")}

    # one run of each step, in order, at its first visit, finished
    runs = await db.fetch(
        """SELECT enrolment_id::text, array_agg(step_id ORDER BY number) AS steps,
                  array_agg(number ORDER BY number) AS numbers, array_agg(visit) AS visits,
                  bool_and(finished_at IS NOT NULL) AS finished
           FROM enrolment_steps GROUP BY enrolment_id"""
    )
    assert len(runs) == LEADS
    for run in runs:
        assert run["steps"] == STEPS and run["numbers"] == [1, 2, 3, 4, 5, 6], dict(run)
        assert set(run["visits"]) == {1} and run["finished"], dict(run)

    # what the steps did: one task per task step and lead, one message per lead, each the one its run names
    results = {
        (r["enrolment_id"], r["step_id"]): r["result"]
        for r in await db.fetch(
            "SELECT enrolment_id::text, step_id, result::jsonb->>'task_id' AS result FROM enrolment_steps"
            " WHERE step_id IN ('call', 'follow')"
        )
    }
    tasks = await db.fetch("SELECT id::text, lead_id::text, title FROM tasks")
    assert len(tasks) == 2 * LEADS
    assert Counter((t["lead_id"], t["title"]) for t in tasks) == Counter(
        {(lead, f"{verb} {name_of[lead]}"): 1 for lead in lead_ids for verb in ("Call", "Follow up")}
    )
    task_of = {(t["lead_id"], t["title"].split(" P")[0]): t["id"] for t in tasks}
    for enrolment_id, lead_id in lead_of.items():
        assert results[(enrolment_id, "call")] == task_of[(lead_id, "Call")]
        assert results[(enrolment_id, "follow")] == task_of[(lead_id, "Follow up")]
    messages = await db.fetch("SELECT id::text, lead_id::text, status, block_reason FROM messages")
    assert Counter(m["lead_id"] for m in messages) == Counter(lead_ids)
    assert {(m["status"], m["block_reason"]) for m in messages} == {("blocked", "channel_missing")}
    sent = {
        r["enrolment_id"]: r["message_id"]
        for r in await db.fetch(
            "SELECT enrolment_id::text, result::jsonb->>'message_id' AS message_id FROM enrolment_steps"
            " WHERE step_id = 'hello'"
        )
    }
    assert {lead_of[e]: m for e, m in sent.items()} == {m["lead_id"]: m["id"] for m in messages}

    # each tag once on each lead
    tags = await db.fetch("SELECT id::text, tags::jsonb AS tags FROM leads")
    assert len(tags) == LEADS
    for row in tags:
        assert sorted(json.loads(row["tags"])) == ["a", "b"], dict(row)

    # one event per thing done, none for work a killed batch lost
    events = Counter({r["type"]: r["count"] for r in await db.fetch("SELECT type, count(*) FROM events GROUP BY type")})
    for kind, number in {"journey.enrolled": LEADS, "journey.completed": LEADS, "task.created": 2 * LEADS,
                         "message.blocked": LEADS, "lead.updated": 2 * LEADS}.items():  # fmt: skip
        assert events[kind] == number, (kind, events)

    # the API shows the same
    for shown in sample:
        assert shown["status"] == "completed", shown
        assert [(s["step_id"], s["visit"]) for s in shown["steps"]] == [(s, 1) for s in STEPS]
