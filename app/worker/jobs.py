"""Running jobs: claimed fairly across workspaces with a lease (a dead worker's job is taken over
when it expires; a live one renews it), run by kind, progress written as they go; CPU-heavy steps
go to a thread (`app/cpu.py: run_cpu`) so an in-process worker never stalls the API's event loop. Only the
latest claim of a job moves it: a worker stalled past its lease whose job was taken over changes
nothing when it wakes. A job gets MAX_ATTEMPTS claims: one whose worker died on the last (a job
that kills its process) is failed by a claim one more lease after its lease ran out, not run
again; a worker that stops hands its job back without using up an attempt, and one stopped while
recording a job's outcome records it first. A failure shows the tenant a generic problem with the
job's id; the exception goes to the log under that id."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from app import logs, metrics
from app.config import Settings
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.db.wakeups import JOBS
from app.domain.events import events as types
from app.domain.events.jobs import failure_problem
from app.ids import utcnow
from app.schemas.events.jobs import JobRead
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import events

log = logging.getLogger("app.worker.jobs")
MAX_ATTEMPTS = 3


class TakenOver(Exception):
    """Another worker claimed this job after this one's lease ran out: this run stops quietly."""


class JobRun:
    """What a job handler gets: its workspace, parameters, and a way to report progress."""

    def __init__(self, database: Database, job: dict[str, Any], lease: timedelta) -> None:
        self.database = database
        self.lease = lease
        self.job = job
        self.workspace_id: UUID = job["workspace_id"]
        self.params: dict[str, Any] = job["params"]
        self.attempt: int = job["attempts"] + 1  # this claim's number (the claim counted it)

    async def progress(self, **values: Any) -> None:
        """Report progress; it also renews the lease (a long job stays this worker's)."""
        now = utcnow()
        async with UnitOfWork(self.database, write=True) as uow:
            ours = await uow.job_queue().update_job(
                self.workspace_id,
                self.job["id"],
                {"progress": values, "updated_at": now, "lease_until": now + self.lease},
                attempt=self.attempt,
            )
            await uow.commit()
        if not ours:
            raise TakenOver(f"job {self.job['id']} was taken over by another worker")

    @property
    def last_attempt(self) -> bool:
        return bool(self.job["attempts"] + 1 >= MAX_ATTEMPTS)


async def redact_events(run: JobRun) -> dict[str, Any]:
    """`events.redact`: erase the data of every event about one resource (data-protection requests)
    that the requesting key's scopes (kept in the params) may read; none kept: nothing."""
    total = 0
    while True:
        async with UnitOfWork(run.database, write=True) as uow:
            ctx = Context(uow, run.workspace_id, SYSTEM, utcnow(), scopes=frozenset(run.params.get("scopes", ())))
            erased = await events.redact(ctx, run.params["resource_id"], 500)
            await uow.commit()
        if not erased:
            return {"redacted": total}
        total += erased
        await run.progress(done=total)


async def rescore_leads(run: JobRun) -> dict[str, Any]:
    """`leads.rescore`: every live lead of the workspace, a page per transaction (so the job makes
    progress that a restart keeps: it resumes after the last page it committed)."""
    from app.services.leads import scoring

    after = run.job.get("progress", {}).get("after") if isinstance(run.job.get("progress"), dict) else None
    after_id = UUID(after) if after else None
    seen = changed = 0
    while True:
        async with UnitOfWork(run.database, write=True) as uow:
            ctx = Context(uow, run.workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
            last, page_seen, page_changed = await scoring.rescore_page(
                ctx, after=after_id, limit=RESCORE_PAGE, cause=str(run.params.get("cause", "rescore"))
            )
            await uow.commit()
        if last is None:
            return {"leads": seen, "changed": changed}
        seen, changed, after_id = seen + page_seen, changed + page_changed, last
        await run.progress(done=seen, changed=changed, after=str(last))


async def run_import(run: JobRun) -> dict[str, Any]:
    """`imports.run`: apply a stored CSV upload (app/services/customers/imports.py); on its last attempt a
    failure marks the import failed (announced as `import.failed`)."""
    from app.domain.errors import Conflict
    from app.services.customers import imports

    import_id = UUID(run.params["import_id"])
    try:
        return await imports.run_job(run.database, run.workspace_id, import_id, run.progress)
    except TakenOver:
        raise
    except Conflict as exc:
        raise TakenOver(str(exc)) from exc  # another worker applied a batch first: it goes on
    except Exception as exc:
        if run.last_attempt or isinstance(exc, LookupError):
            await imports.fail(run.database, run.workspace_id, import_id, run.job["id"])
        raise


async def refresh_analytics(run: JobRun) -> dict[str, Any]:
    """`analytics.refresh`: a new snapshot of the workspace's customer values (app/services/analytics/analytics.py)."""
    from app.services.analytics import analytics

    return await analytics.refresh(
        run.database, run.workspace_id, {**run.params, "job_id": run.job["id"]}, run.progress
    )


async def refresh_sales_forecasts(run: JobRun) -> dict[str, Any]:
    """`reports.refresh_forecasts`: recompute the workspace's cached sales forecasts whose data
    moved (app/services/reports/sales_forecast.py)."""
    from app.services.reports import sales_forecast

    return await sales_forecast.refresh(run.database, run.workspace_id, run.progress)


async def enforce_retention(run: JobRun) -> dict[str, Any]:
    """`retention.enforce`: the workspace's retention classes, a page per transaction; a retry goes on
    from the progress the attempt before it kept (app/services/workspace/retention.py)."""
    from app.services.workspace import retention

    saved = run.job.get("progress")
    return await retention.run(
        run.database, run.workspace_id, run.params, saved if isinstance(saved, dict) else None, run.progress
    )


async def export_person(run: JobRun) -> dict[str, Any]:
    """`privacy.export`: one person's records into a document (app/services/privacy/jobs.py)."""
    from app.services.privacy import jobs as privacy

    return await _privacy_job(run, privacy.run_export(run.database, run.workspace_id, run.params))


async def erase_person(run: JobRun) -> dict[str, Any]:
    """`privacy.erase`: one person's data anonymised everywhere (app/services/privacy/jobs.py)."""
    from app.services.privacy import jobs as privacy

    return await _privacy_job(run, privacy.run_erasure(run.database, run.workspace_id, run.params, run.progress))


async def redact_shop(run: JobRun) -> dict[str, Any]:
    """`privacy.shop_redact`: every contact that came only from one shop, erased (app/services/privacy/jobs.py)."""
    from app.services.privacy import jobs as privacy

    progress = run.job.get("progress") if isinstance(run.job.get("progress"), dict) else {}
    params = {**run.params, **{k: (progress or {}).get(k) for k in ("after", "erased", "skipped")}}
    return await privacy.run_shop_redact(run.database, run.workspace_id, params, run.progress)


async def _privacy_job(run: JobRun, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """A privacy job whose last attempt fails leaves its request `failed` (with the job's problem)."""
    from app.services.privacy import jobs as privacy

    try:
        return await work
    except TakenOver:
        raise
    except Exception as exc:
        if run.last_attempt or isinstance(exc, LookupError):
            await privacy.fail(run.database, run.workspace_id, run.params, failure_problem(run.job["id"]))
        raise


RESCORE_PAGE = 1000
HANDLERS: dict[str, Callable[[JobRun], Awaitable[dict[str, Any]]]] = {
    "events.redact": redact_events,
    "leads.rescore": rescore_leads,
    "imports.run": run_import,
    "analytics.refresh": refresh_analytics,
    "reports.refresh_forecasts": refresh_sales_forecasts,
    "retention.enforce": enforce_retention,
    "privacy.export": export_person,
    "privacy.erase": erase_person,
    "privacy.shop_redact": redact_shop,
}


async def claim(database: Database, settings: Settings, limit: int) -> list[dict[str, Any]]:
    """Claim up to `limit` jobs (at most one per workspace) in the fair order of
    `app/db/repositories/events/jobs.py: fair_heads`, within JOBS_RUNNING_PER_WORKSPACE_KIND. First, each
    in a transaction of its own, fail the jobs whose worker died on their last attempt
    (`_fail_lost`): one that cannot be failed never holds up the claim."""
    now = utcnow()
    lease = timedelta(seconds=settings.worker_lease_seconds)
    await _fail_lost(database, now - lease, now)
    async with UnitOfWork(database, write=True) as uow:
        claimed = await uow.job_queue().claim_jobs(
            now,
            now + lease,
            limit,
            per_kind=settings.jobs_running_per_workspace_kind,
            max_attempts=MAX_ATTEMPTS,
            lost_before=now - lease,
        )
        await uow.commit()
    return claimed


LOST_PER_CLAIM = 100  # a bound on one claim's work; more are failed by the next claims


async def _fail_lost(database: Database, before: datetime, now: datetime) -> None:
    """Fail the running jobs whose lease expired on their last attempt, one lease before `now` or
    earlier (`before`): a worker whose renewals failed for a while (the database away) may still be
    running its job, and must not see it failed under it. Their worker died running them (out of
    memory, a native crash), so it never recorded an outcome; claimed again, such a job would kill
    every worker that takes it, for ever, and hold up its workspace's queue of its kind. Recorded
    as `run` records a failure that is not retried: the generic problem, `job.failed`, and for an
    import the import failed (`import.failed`).

    Each job in a short transaction of its own: one that cannot be failed (a row its records cannot
    be read from) is logged and left, and never stops the claim (it is not claimed either: its
    attempts are used up). An import's stored upload is deleted in a step of its own after that."""
    from app.services.customers import imports

    async with UnitOfWork(database, write=False) as uow:
        lost = await uow.job_queue().lost_jobs(before, MAX_ATTEMPTS, LOST_PER_CLAIM)
    for job in lost:
        try:
            failed_import = await _fail_one_lost(database, job, before, now)
        except Exception:
            log.exception(
                "job %s (%s) of workspace %s: its worker was lost during its last attempt, and it "
                "could not be failed; it is tried again at the next claim",
                job["id"], job["kind"], job["workspace_id"],
            )  # fmt: skip
            continue
        if failed_import is not None:
            try:
                await imports.drop_upload(database, job["workspace_id"], failed_import)
            except Exception:
                log.exception("could not delete the stored upload of failed import %s", failed_import)


async def _fail_one_lost(database: Database, job: dict[str, Any], before: datetime, now: datetime) -> UUID | None:
    """Fail one lost job (and its import) if it is still lost; the import failed with it, if any."""
    from app.services.customers import imports

    final = {
        "status": "failed",
        "problem": failure_problem(job["id"]),
        "lease_until": None,
        "finished_at": now,
        "updated_at": now,
        "updated_by": str(SYSTEM),
    }
    async with UnitOfWork(database, write=True) as uow:
        if not await uow.job_queue().end_lost_job(job["workspace_id"], job["id"], job["attempts"], before, final):
            return None  # renewed or ended since it was listed
        import_id = _import_of(job)
        failed_import = None
        if import_id is not None and await imports.fail_in(
            uow, job["workspace_id"], import_id, job["id"], now, drop_chunks=False
        ):
            failed_import = import_id
        row = await WorkspaceRepositories(uow, job["workspace_id"]).jobs.get(job["id"])
        assert row is not None
        ctx = Context(uow, job["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
        if job["kind"] in ("privacy.export", "privacy.erase"):  # its request fails with it
            from app.services.privacy import jobs as privacy

            await privacy.fail_in(ctx, job["params"], final["problem"])
        await events.record(ctx, types.JOB_FAILED, JobRead.model_validate(row))
        await uow.commit()
    log.error(
        "job %s (%s) of workspace %s failed: its worker was lost during attempt %d, the last",
        job["id"], job["kind"], job["workspace_id"], job["attempts"],
    )  # fmt: skip
    return failed_import


def _import_of(job: dict[str, Any]) -> UUID | None:
    """The import an `imports.run` job applies (None for other kinds, or params that name none)."""
    raw = job["params"].get("import_id") if job["kind"] == "imports.run" else None
    try:
        return UUID(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


async def run_due(database: Database, settings: Settings, *, limit: int = 4) -> int:
    """Claim jobs and run them to the end; how many were claimed (tests drive the queue with it)."""
    claimed = await claim(database, settings, limit)
    await asyncio.gather(*(run(database, settings, job) for job in claimed))
    return len(claimed)


async def run(database: Database, settings: Settings, job: dict[str, Any]) -> None:
    """Run one claimed job and record how it ended (while the claim is still ours)."""
    lease = timedelta(seconds=settings.worker_lease_seconds)
    attempt = job["attempts"] + 1
    started = time.perf_counter()
    handler = HANDLERS.get(job["kind"])
    kind = job["kind"] if handler is not None else "unknown"  # labels: the known kinds only
    keeper = asyncio.create_task(_keep_lease(database, job, attempt, lease))
    try:
        if handler is None:
            raise LookupError(f"no handler for job kind {job['kind']!r}")
        result = await handler(JobRun(database, job, lease))
        # A success clears the problem an earlier attempt left.
        outcome: dict[str, Any] = {"status": "succeeded", "result": result, "problem": None}
        event_type: str | None = types.JOB_SUCCEEDED
    except TakenOver:
        log.warning("job %s (%s) was taken over by another worker; this run stops", job["id"], job["kind"])
        metrics.JOBS.labels(kind, "taken_over").inc()
        return
    except asyncio.CancelledError:
        # The worker is stopping: hand the job back now rather than when its lease runs out.
        await asyncio.shield(_release(database, job, attempt))
        raise
    except Exception as exc:
        # The cause (which may quote anything: data, a connection string) is for operators only.
        log.exception(
            "job %s (%s) of workspace %s failed on attempt %d", job["id"], job["kind"], job["workspace_id"], attempt
        )
        retry = attempt < MAX_ATTEMPTS and not isinstance(exc, LookupError)  # gone or unknown: no retry
        # Queued again for a retry, but not as a new request: a new identical request queues its own.
        cleared: dict[str, Any] = {"fingerprint": None} if retry else {}
        outcome = {"status": "queued" if retry else "failed", "problem": failure_problem(job["id"]), **cleared}
        event_type = None if retry else types.JOB_FAILED
    finally:
        keeper.cancel()
    metrics.JOBS.labels(kind, "retried" if outcome["status"] == "queued" else outcome["status"]).inc()
    metrics.JOB_DURATION.labels(kind).observe(time.perf_counter() - started)
    # A stop may cancel the job while it records its outcome: cancelled there, the write would roll
    # back and leave a finished job running under a live lease (on its last attempt, failed by a
    # later claim though it succeeded). The write is finished first; the cancellation follows it.
    await _to_completion(_record_outcome(database, job, attempt, outcome, event_type))
    logs.structured(
        log,
        "job",
        "job ended",
        job_id=str(job["id"]),
        workspace_id=str(job["workspace_id"]),
        job_kind=job["kind"],
        attempt=attempt,
        status=outcome["status"],
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


async def _to_completion(step: Awaitable[None]) -> None:
    """Await `step` to its end even if this task is cancelled meanwhile; then re-raise the cancellation."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    task.result()


async def _record_outcome(
    database: Database, job: dict[str, Any], attempt: int, outcome: dict[str, Any], event_type: str | None
) -> None:
    """End the run as `outcome` says (while the claim is still ours), announcing it with `event_type`."""
    now = utcnow()
    async with UnitOfWork(database, write=True) as uow:
        final = {**outcome, "lease_until": None, "updated_at": now, "updated_by": str(SYSTEM)}
        if outcome["status"] != "queued":
            final["finished_at"] = now
        if not await uow.job_queue().update_job(job["workspace_id"], job["id"], final, attempt=attempt):
            log.warning("job %s (%s) was taken over by another worker; its outcome here is dropped", job["id"],
                        job["kind"])  # fmt: skip
            return
        if outcome["status"] == "queued":
            uow.wake(JOBS)
        if event_type is not None:
            row = await WorkspaceRepositories(uow, job["workspace_id"]).jobs.get(job["id"])
            assert row is not None
            await events.record(
                Context(uow, job["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES),
                event_type,
                JobRead.model_validate(row),
            )
        await uow.commit()


async def _keep_lease(database: Database, job: dict[str, Any], attempt: int, lease: timedelta) -> None:
    """Renew the lease every third of it while the job runs: a long step that reports no progress
    (a model fit) must not look like a dead worker's job."""
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)
        try:
            async with UnitOfWork(database, write=True) as uow:
                ours = await uow.job_queue().renew_job_lease(job["workspace_id"], job["id"], attempt, utcnow() + lease)
                await uow.commit()
        except Exception:  # the database away for a moment: try again at the next beat
            log.warning("could not renew the lease of job %s", job["id"], exc_info=True)
            continue
        if not ours:
            return


async def _release(database: Database, job: dict[str, Any], attempt: int) -> None:
    """A stopping worker's job: its lease ends now, so the next claim (any worker) resumes it. The
    job did not fail, so this claim is given back: a job handed back on every deploy still has all
    its attempts for real failures. (A worker that stalled past its lease on the claim before this
    one owns the job again, as if it had never been taken over: it is still running it.)"""
    try:
        async with UnitOfWork(database, write=True) as uow:
            if await uow.job_queue().release_job(job["workspace_id"], job["id"], attempt, utcnow()):
                uow.wake(JOBS)  # waiting workers resume it now, not at their next poll
            await uow.commit()
    except Exception:
        log.warning("could not hand job %s back; it is resumed when its lease ends", job["id"], exc_info=True)
