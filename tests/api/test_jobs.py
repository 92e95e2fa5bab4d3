"""Jobs through HTTP on both databases: one queued job per identical request, a fair queue (no
workspace holds up another's work however much it queues), and failures that tell a tenant nothing
but the job's id while the cause goes to the operators' log. The claim loop is driven here as the
worker drives it (`jobs.claim`, then `jobs.run` per claimed job)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest

from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.worker import jobs
from app.worker.jobs import JobRun
from tests.api.test_imports import MAPPING, PEOPLE, csv_bytes, run_jobs, upload
from tests.conftest import Tenant

SECRET = "postgresql://crm:hunter2@db.internal/prod"  # what an exception's text may carry


def worker_settings(database: Database, **values: Any) -> Settings:
    return Settings(database_url=database.settings.database_url, **values)


async def request_refresh(tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/analytics/refresh", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"
    return dict(response.json())


def days_ago(days: int) -> str:
    return (utcnow().date() - dt.timedelta(days=days)).isoformat()


async def test_an_identical_request_while_one_is_queued_returns_the_queued_job(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    await run_jobs(database)  # nothing of earlier tests left queued
    first = await request_refresh(tenant, as_of=days_ago(1))
    again = await request_refresh(tenant, as_of=days_ago(1))
    assert again["id"] == first["id"] and again["status"] == "queued"
    other_day = await request_refresh(tenant, as_of=days_ago(2))
    assert other_day["id"] != first["id"]
    elsewhere = await request_refresh(other_tenant, as_of=days_ago(1))  # another workspace's own job
    assert elsewhere["id"] != first["id"]
    listed = (await tenant.get("/v1/jobs", params={"kind": "analytics.refresh"})).json()["data"]
    assert len(listed) == 2
    # Concurrent identical requests (separate transactions on PostgreSQL): still one job.
    racing = await asyncio.gather(*(request_refresh(tenant, as_of=days_ago(3)) for _ in range(4)))
    assert len({job["id"] for job in racing}) == 1
    # Once it has started, the same request is new work again.
    await run_jobs(database)
    assert (await tenant.get(f"/v1/jobs/{first['id']}")).json()["status"] == "succeeded"
    later = await request_refresh(tenant, as_of=days_ago(1))
    assert later["id"] != first["id"]
    await run_jobs(database)


async def test_six_refreshes_of_one_workspace_do_not_hold_up_anothers_import(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    await run_jobs(database)
    refreshes = [(await request_refresh(tenant, as_of=days_ago(day)))["id"] for day in range(1, 7)]
    response = await upload(other_tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING)
    assert response.status_code == 202, response.text
    import_job = response.json()["job_id"]
    settings = worker_settings(database)  # JOBS_RUNNING_PER_WORKSPACE_KIND: 1

    # A worker with room for four takes the oldest refresh and the import, not four refreshes.
    claimed = await jobs.claim(database, settings, 4)
    assert [str(job["id"]) for job in claimed] == [refreshes[0], import_job]
    assert await jobs.claim(database, settings, 4) == []  # the other five wait for the first
    await jobs.run(database, settings, claimed[1])
    done = (await other_tenant.get(response.headers["location"])).json()
    assert done["status"] == "completed" and done["rows_created"] == 2
    statuses = [(await tenant.get(f"/v1/jobs/{job_id}")).json()["status"] for job_id in refreshes]
    assert statuses == ["running"] + ["queued"] * 5
    await jobs.run(database, settings, claimed[0])

    # Then one at a time, in the order they were asked for.
    order = []
    while claimed := await jobs.claim(database, settings, 4):
        assert len(claimed) == 1
        order.append(str(claimed[0]["id"]))
        await jobs.run(database, settings, claimed[0])
    assert order == refreshes[1:]


async def test_workspaces_take_turns_even_for_a_worker_with_one_slot(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    """The queue is round robin across workspaces: a workspace just served waits behind every
    workspace already waiting, so the import does not wait for the six refreshes queued before it."""
    await run_jobs(database)
    refreshes = [(await request_refresh(tenant, as_of=days_ago(day)))["id"] for day in range(1, 7)]
    response = await upload(other_tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING)
    import_job = response.json()["job_id"]
    settings = worker_settings(database)

    order = []
    while claimed := await jobs.claim(database, settings, 1):
        order.append(str(claimed[0]["id"]))
        await jobs.run(database, settings, claimed[0])
    assert order[:2] == [refreshes[0], import_job]  # global FIFO would run all six refreshes first
    assert order[2:] == refreshes[1:]
    assert (await other_tenant.get(response.headers["location"])).json()["status"] == "completed"


async def test_a_freed_slot_goes_first_to_a_workspace_with_nothing_running(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    await run_jobs(database)
    settings = worker_settings(database)
    response = await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING)
    (running_import,) = await jobs.claim(database, settings, 1)  # the first workspace holds a slot
    queued_first = await request_refresh(tenant, as_of=days_ago(1))
    queued_later = await request_refresh(other_tenant, as_of=days_ago(1))
    (claimed,) = await jobs.claim(database, settings, 1)  # one free slot
    assert str(claimed["id"]) == queued_later["id"]  # though the other was queued before it
    for job in (running_import, claimed):
        await jobs.run(database, settings, job)
    await run_jobs(database)
    assert (await tenant.get(f"/v1/jobs/{queued_first['id']}")).json()["status"] == "succeeded"
    assert (await tenant.get(response.headers["location"])).json()["status"] == "completed"


async def test_a_failed_job_shows_a_generic_problem_with_its_id_and_logs_the_cause(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await run_jobs(database)

    async def leaky(run: JobRun) -> dict[str, Any]:
        raise RuntimeError(f"could not connect to {SECRET}")

    monkeypatch.setitem(jobs.HANDLERS, "events.redact", leaky)
    response = await tenant.post("/v1/events/redactions", json={"resource_id": "lead-1"})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    settings = worker_settings(database)
    with caplog.at_level(logging.ERROR, logger="app.worker.jobs"):
        claimed = await jobs.claim(database, settings, 1)
        await jobs.run(database, settings, claimed[0])
        waiting = (await tenant.get(f"/v1/jobs/{job_id}")).json()  # queued again for its retry
        assert waiting["status"] == "queued" and SECRET not in str(waiting)
        await run_jobs(database)
    job = (await tenant.get(f"/v1/jobs/{job_id}")).json()
    assert job["status"] == "failed"
    assert job["problem"]["job_id"] == job_id and job_id in job["problem"]["detail"]
    assert job["problem"]["type"] == "/problems/job-failed" and job["problem"]["status"] == 500
    events = (await tenant.get("/v1/events", params={"type": "job.failed"})).text
    assert job_id in events
    for shown in (str(job), (await tenant.get("/v1/jobs")).text, events):
        assert "hunter2" not in shown and "RuntimeError" not in shown
    logged = [r for r in caplog.records if job_id in r.getMessage()]
    assert len(logged) == 3 and all(r.exc_info and SECRET in str(r.exc_info[1]) for r in logged)
    assert SECRET in caplog.text


async def test_a_failed_import_shows_a_generic_problem_with_its_job_id(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from app.services.customers import imports

    await run_jobs(database)

    async def broken(*args: Any) -> Any:
        raise ValueError(f"row 1 of tenant 42: {SECRET}")

    monkeypatch.setattr(imports, "_write", broken)
    response = await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING)
    assert response.status_code == 202, response.text
    with caplog.at_level(logging.ERROR, logger="app.worker.jobs"):
        await run_jobs(database)
    failed = (await tenant.get(response.headers["location"])).json()
    job_id = failed["job_id"]
    assert failed["status"] == "failed" and failed["problem"]["job_id"] == job_id
    assert failed["problem"]["type"] == "/problems/import-failed" and job_id in failed["problem"]["detail"]
    job = (await tenant.get(f"/v1/jobs/{job_id}")).json()
    events = (await tenant.get("/v1/events", params={"type": "import.failed"})).text
    for shown in (str(failed), str(job), events):
        assert "hunter2" not in shown and "tenant 42" not in shown
    assert SECRET in caplog.text and job_id in caplog.text


async def test_a_run_whose_job_was_taken_over_changes_nothing(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker stalled past its lease: another worker claims the job again; when the first one
    wakes, its outcome is dropped (only the latest claim ends the job)."""
    await run_jobs(database)
    runs: list[int] = []

    async def counted(run: JobRun) -> dict[str, Any]:
        runs.append(run.attempt)
        return {"attempt": run.attempt}

    monkeypatch.setitem(jobs.HANDLERS, "events.redact", counted)
    job_id = (await tenant.post("/v1/events/redactions", json={"resource_id": "lead-2"})).json()["id"]
    settings = worker_settings(database)
    (stalled,) = await jobs.claim(database, settings, 1)
    async with UnitOfWork(database) as uow:  # its lease runs out
        past = utcnow() - dt.timedelta(seconds=1)
        await uow.job_queue().renew_job_lease(stalled["workspace_id"], stalled["id"], 1, past)
        await uow.commit()
    (taken_over,) = await jobs.claim(database, settings, 1)
    assert taken_over["id"] == stalled["id"]
    await jobs.run(database, settings, stalled)
    job = (await tenant.get(f"/v1/jobs/{job_id}")).json()
    assert job["status"] == "running" and job["result"] is None  # still the second claim's
    await jobs.run(database, settings, taken_over)
    job = (await tenant.get(f"/v1/jobs/{job_id}")).json()
    assert job["status"] == "succeeded" and job["result"] == {"attempt": 2} and runs == [1, 2]
    events = (await tenant.get("/v1/events", params={"type": "job.succeeded"})).json()["data"]
    assert [e["data"]["id"] for e in events].count(job_id) == 1


async def test_a_stopping_worker_hands_its_running_job_back_within_seconds(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker told to stop (SIGTERM, or its server gone) does not wait for a long job to end: the
    job gets a short grace, then is handed back (its lease ends at once) for the next worker."""
    from app.worker import runner
    from app.worker.runner import Worker

    await run_jobs(database)
    started = asyncio.Event()

    async def endless(run: JobRun) -> dict[str, Any]:
        started.set()
        await asyncio.Event().wait()
        return {}

    monkeypatch.setitem(jobs.HANDLERS, "events.redact", endless)
    monkeypatch.setattr(runner, "JOB_STOP_GRACE_SECONDS", 0.5)
    job_id = (await tenant.post("/v1/events/redactions", json={"resource_id": "lead-3"})).json()["id"]
    worker = Worker(database, worker_settings(database, worker_poll_seconds=0.05, worker_analyze_seconds=0))
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(started.wait(), 30)
        worker.stop()
        await asyncio.wait_for(running, 60)  # before: it waited for the job to end (here: never)
    finally:
        running.cancel()
    settings = worker_settings(database)
    # Handed back within seconds, not at the end of its 60 s lease (the hand-back is shielded from
    # the cancellation and may finish just after the worker's run on a loaded machine)
    deadline = asyncio.get_running_loop().time() + 20
    while not (claimed := await jobs.claim(database, settings, 1)):
        assert asyncio.get_running_loop().time() < deadline, "the stopped worker's job was not handed back"
        await asyncio.sleep(0.1)
    (resumed,) = claimed
    assert str(resumed["id"]) == job_id and resumed["attempts"] == 0  # the hand-back used no attempt
    monkeypatch.setitem(jobs.HANDLERS, "events.redact", lambda run: asyncio.sleep(0, {"resumed": True}))
    await jobs.run(database, settings, resumed)
    assert (await tenant.get(f"/v1/jobs/{job_id}")).json()["result"] == {"resumed": True}


async def test_a_job_that_succeeds_on_a_retry_shows_no_problem(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await run_jobs(database)

    async def flaky(run: JobRun) -> dict[str, Any]:
        if run.attempt == 1:
            raise ConnectionError("the database went away")
        return {"attempt": run.attempt}

    monkeypatch.setitem(jobs.HANDLERS, "events.redact", flaky)
    job_id = (await tenant.post("/v1/events/redactions", json={"resource_id": "lead-4"})).json()["id"]
    await run_jobs(database)
    job = (await tenant.get(f"/v1/jobs/{job_id}")).json()
    assert (job["status"], job["result"], job["problem"]) == ("succeeded", {"attempt": 2}, None)


LEASE = dt.timedelta(seconds=Settings.model_fields["worker_lease_seconds"].default)


async def lose_worker(
    database: Database, job: dict[str, Any], ago: dt.timedelta = LEASE + dt.timedelta(seconds=1)
) -> None:
    """The worker running this claim of the job died: its lease ran out `ago` (by default more than
    one more lease ago: long enough for a last attempt to count as lost) with no outcome recorded."""
    async with UnitOfWork(database) as uow:
        past = utcnow() - ago
        assert await uow.job_queue().renew_job_lease(job["workspace_id"], job["id"], job["attempts"] + 1, past)
        await uow.commit()


async def test_a_job_whose_worker_died_on_its_last_attempt_fails_and_the_queue_behind_it_moves(
    tenant: Tenant, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A job that kills its process (out of memory, a native crash) is not run again after its
    last attempt: it fails, and the next job of its kind in the workspace starts."""
    await run_jobs(database)
    killer = (await tenant.post("/v1/events/redactions", json={"resource_id": "lead-5"})).json()["id"]
    behind = (await tenant.post("/v1/events/redactions", json={"resource_id": "lead-6"})).json()["id"]
    settings = worker_settings(database)  # JOBS_RUNNING_PER_WORKSPACE_KIND: 1
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        (claimed,) = await jobs.claim(database, settings, 4)
        assert str(claimed["id"]) == killer and claimed["attempts"] + 1 == attempt
        await lose_worker(database, claimed)
    with caplog.at_level(logging.ERROR, logger="app.worker.jobs"):
        (claimed,) = await jobs.claim(database, settings, 4)  # before: the killer, a fourth time
    assert str(claimed["id"]) == behind
    failed = (await tenant.get(f"/v1/jobs/{killer}")).json()
    assert failed["status"] == "failed" and failed["finished_at"] is not None
    assert failed["problem"]["type"] == "/problems/job-failed" and failed["problem"]["job_id"] == killer
    events = (await tenant.get("/v1/events", params={"type": "job.failed"})).json()["data"]
    assert [e["data"]["id"] for e in events].count(killer) == 1
    assert any(killer in r.getMessage() for r in caplog.records)  # the operators learn which job
    await jobs.run(database, settings, claimed)
    assert (await tenant.get(f"/v1/jobs/{behind}")).json()["status"] == "succeeded"
    assert await jobs.claim(database, settings, 4) == []  # and the failed one stays failed


async def import_lost_on_every_attempt(tenant: Tenant, database: Database) -> tuple[Any, Settings]:
    """An import whose worker is lost on each of its attempts: its answer and the worker settings."""
    await run_jobs(database)
    response = await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING)
    assert response.status_code == 202, response.text
    settings = worker_settings(database)
    for _ in range(jobs.MAX_ATTEMPTS):
        (claimed,) = await jobs.claim(database, settings, 4)
        assert str(claimed["id"]) == response.json()["job_id"]
        await lose_worker(database, claimed)
    return response, settings


async def test_an_import_whose_worker_died_on_its_last_attempt_fails_with_its_job(
    tenant: Tenant, database: Database
) -> None:
    response, settings = await import_lost_on_every_attempt(tenant, database)
    job_id = response.json()["job_id"]
    assert await jobs.claim(database, settings, 4) == []
    failed = (await tenant.get(response.headers["location"])).json()
    assert failed["status"] == "failed" and failed["problem"]["type"] == "/problems/import-failed"
    assert failed["problem"]["job_id"] == job_id
    assert (await tenant.get(f"/v1/jobs/{job_id}")).json()["status"] == "failed"
    announced = (await tenant.get("/v1/events", params={"type": "import.failed"})).json()["data"]
    assert [e["data"]["id"] for e in announced] == [failed["id"]]


async def test_a_job_handed_back_on_every_stop_keeps_its_attempts(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rolling deploys stop the worker in the middle of a long job, again and again: handing it
    back is not a failure, so it still has every attempt for a real one."""
    await run_jobs(database)
    started = asyncio.Event()
    attempts: list[int] = []

    async def long_then_flaky(run: JobRun) -> dict[str, Any]:
        attempts.append(run.attempt)
        if len(attempts) <= jobs.MAX_ATTEMPTS + 1:  # stopped during each of these runs
            started.set()
            await asyncio.Event().wait()
        if run.attempt == 1:
            raise ConnectionError("the database went away")  # a real failure: retried
        return {"attempt": run.attempt}

    monkeypatch.setitem(jobs.HANDLERS, "events.redact", long_then_flaky)
    job_id = (await tenant.post("/v1/events/redactions", json={"resource_id": "lead-7"})).json()["id"]
    settings = worker_settings(database)
    for _ in range(jobs.MAX_ATTEMPTS + 1):
        (claimed,) = await jobs.claim(database, settings, 1)  # at once: handed back, not left to expire
        assert str(claimed["id"]) == job_id and claimed["attempts"] == 0
        running = asyncio.create_task(jobs.run(database, settings, claimed))
        await asyncio.wait_for(started.wait(), 30)
        started.clear()
        running.cancel()  # what a stopping worker does after its grace (app/worker/runner.py)
        with pytest.raises(asyncio.CancelledError):
            await running
        assert (await tenant.get(f"/v1/jobs/{job_id}")).json()["status"] == "running"
    await run_jobs(database)
    job = (await tenant.get(f"/v1/jobs/{job_id}")).json()
    # before: the hand-backs had used up its attempts, and the failure after them was its last
    assert (job["status"], job["result"], job["problem"]) == ("succeeded", {"attempt": 2}, None)
    assert attempts == [1] * (jobs.MAX_ATTEMPTS + 2) + [2]


async def test_a_last_attempt_is_failed_only_a_lease_after_its_lease_ran_out(
    tenant: Tenant, database: Database
) -> None:
    """A worker whose lease renewals failed for a while (the database away) may still be running its
    job's last attempt: the job is neither failed under it nor counted as ended (the next job of its
    kind waits) until one more lease has passed."""
    await run_jobs(database)
    slow = (await tenant.post("/v1/events/redactions", json={"resource_id": "lead-8"})).json()["id"]
    behind = (await tenant.post("/v1/events/redactions", json={"resource_id": "lead-9"})).json()["id"]
    settings = worker_settings(database)  # JOBS_RUNNING_PER_WORKSPACE_KIND: 1
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        (claimed,) = await jobs.claim(database, settings, 4)
        assert str(claimed["id"]) == slow and claimed["attempts"] + 1 == attempt
        last = attempt == jobs.MAX_ATTEMPTS
        await lose_worker(database, claimed, dt.timedelta(seconds=5) if last else LEASE * 2)
    assert await jobs.claim(database, settings, 4) == []  # before: `slow` failed, `behind` claimed
    assert (await tenant.get(f"/v1/jobs/{slow}")).json()["status"] == "running"
    assert (await tenant.get(f"/v1/jobs/{behind}")).json()["status"] == "queued"
    await lose_worker(database, claimed)  # now more than a lease ago: its worker is gone
    (claimed,) = await jobs.claim(database, settings, 4)
    assert str(claimed["id"]) == behind
    failed = (await tenant.get(f"/v1/jobs/{slow}")).json()
    assert failed["status"] == "failed" and failed["problem"]["job_id"] == slow


async def test_a_lost_job_that_cannot_be_failed_holds_up_no_claim(
    tenant: Tenant,
    other_tenant: Tenant,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A lost job whose failure cannot be recorded (a row its records cannot be read from) is logged
    and left: claims go on for every workspace, and it is not claimed again."""
    from app.services.customers import imports

    response, settings = await import_lost_on_every_attempt(tenant, database)
    job_id = response.json()["job_id"]

    async def unreadable(*args: Any, **kwargs: Any) -> bool:
        raise ValueError("created_by: not an actor")

    monkeypatch.setattr(imports, "fail_in", unreadable)
    other = (await other_tenant.post("/v1/events/redactions", json={"resource_id": "lead-1"})).json()["id"]
    with caplog.at_level(logging.ERROR, logger="app.worker.jobs"):
        (claimed,) = await jobs.claim(database, settings, 4)  # before: the claim raised
    assert str(claimed["id"]) == other
    assert any(job_id in r.getMessage() for r in caplog.records)  # the operators learn which job
    await jobs.run(database, settings, claimed)
    assert (await other_tenant.get(f"/v1/jobs/{other}")).json()["status"] == "succeeded"
    assert await jobs.claim(database, settings, 4) == []  # the lost one is not claimed again
    assert (await tenant.get(f"/v1/jobs/{job_id}")).json()["status"] == "running"
    monkeypatch.undo()  # the row mended: the next claim fails it, with its import
    assert await jobs.claim(database, settings, 4) == []
    assert (await tenant.get(f"/v1/jobs/{job_id}")).json()["status"] == "failed"
    assert (await tenant.get(response.headers["location"])).json()["status"] == "failed"


async def test_a_job_cancelled_while_recording_its_outcome_still_records_it(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker stopping just as a job ends: the outcome it was writing is written (else the job
    would stay running under a live lease, and on its last attempt be failed though it succeeded)."""
    await run_jobs(database)
    monkeypatch.setitem(jobs.HANDLERS, "events.redact", lambda run: asyncio.sleep(0, {"done": True}))
    job_id = (await tenant.post("/v1/events/redactions", json={"resource_id": "lead-2"})).json()["id"]
    settings = worker_settings(database)
    (claimed,) = await jobs.claim(database, settings, 1)
    writing, go_on = asyncio.Event(), asyncio.Event()
    record = jobs.events.record

    async def slow_record(*args: Any, **kwargs: Any) -> Any:
        writing.set()
        await go_on.wait()
        return await record(*args, **kwargs)

    monkeypatch.setattr(jobs.events, "record", slow_record)
    running = asyncio.create_task(jobs.run(database, settings, claimed))
    await asyncio.wait_for(writing.wait(), 30)  # in the outcome's transaction
    running.cancel()  # what a stopping worker does after its grace (app/worker/runner.py)
    await asyncio.sleep(0.1)
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, 30)
    monkeypatch.setattr(jobs.events, "record", record)
    job = (await tenant.get(f"/v1/jobs/{job_id}")).json()
    assert (job["status"], job["result"]) == ("succeeded", {"done": True})  # before: still running
    announced = (await tenant.get("/v1/events", params={"type": "job.succeeded"})).json()["data"]
    assert [e["data"]["id"] for e in announced].count(job_id) == 1
