"""Running jobs: claimed with a lease (a dead worker's job is taken over when it expires), run by
kind, progress written as they go; CPU-heavy steps go to a thread (`run_cpu`) so an in-process
worker never stalls the API's event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain import events as types
from app.ids import utcnow
from app.schemas.jobs import JobRead
from app.services import events
from app.services.context import SYSTEM, Context

log = logging.getLogger("app.worker.jobs")
T = TypeVar("T")
MAX_ATTEMPTS = 3


class JobRun:
    """What a job handler gets: its workspace, parameters, and a way to report progress."""

    def __init__(self, database: Database, job: dict[str, Any], lease: timedelta) -> None:
        self.database = database
        self.lease = lease
        self.job = job
        self.workspace_id: UUID = job["workspace_id"]
        self.params: dict[str, Any] = job["params"]

    async def progress(self, **values: Any) -> None:
        """Report progress; it also renews the lease (a long job stays this worker's)."""
        now = utcnow()
        async with UnitOfWork(self.database, write=True) as uow:
            await uow.outbox().update_job(
                self.workspace_id,
                self.job["id"],
                {"progress": values, "updated_at": now, "lease_until": now + self.lease},
            )
            await uow.commit()

    @property
    def last_attempt(self) -> bool:
        return bool(self.job["attempts"] + 1 >= MAX_ATTEMPTS)


async def run_cpu(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a CPU-heavy step (numpy/scipy release the GIL) off the event loop."""
    return await asyncio.to_thread(partial(function, *args, **kwargs))


async def redact_events(run: JobRun) -> dict[str, Any]:
    """`events.redact`: erase the data of every event about one resource (data-protection requests)."""
    total = 0
    while True:
        async with UnitOfWork(run.database, write=True) as uow:
            erased = await uow.events(run.workspace_id).redact(run.params["resource_id"], utcnow(), 500)
            await uow.commit()
        if not erased:
            return {"redacted": total}
        total += erased
        await run.progress(done=total)


async def rescore_leads(run: JobRun) -> dict[str, Any]:
    """`leads.rescore`: every live lead of the workspace, a page per transaction (so the job makes
    progress that a restart keeps: it resumes after the last page it committed)."""
    from app.services import scoring

    after = run.job.get("progress", {}).get("after") if isinstance(run.job.get("progress"), dict) else None
    after_id = UUID(after) if after else None
    seen = changed = 0
    while True:
        async with UnitOfWork(run.database, write=True) as uow:
            ctx = Context(uow, run.workspace_id, SYSTEM, utcnow())
            last, page_seen, page_changed = await scoring.rescore_page(
                ctx, after=after_id, limit=RESCORE_PAGE, cause=str(run.params.get("cause", "rescore"))
            )
            await uow.commit()
        if last is None:
            return {"leads": seen, "changed": changed}
        seen, changed, after_id = seen + page_seen, changed + page_changed, last
        await run.progress(done=seen, changed=changed, after=str(last))


async def run_import(run: JobRun) -> dict[str, Any]:
    """`imports.run`: apply a stored CSV upload (app/services/imports.py); on its last attempt a
    failure marks the import failed (announced as `import.failed`)."""
    from app.domain.errors import Conflict
    from app.services import imports

    import_id = UUID(run.params["import_id"])
    try:
        return await imports.run_job(run.database, run.workspace_id, import_id, run.progress)
    except Conflict:
        raise  # another worker took it over: it goes on
    except Exception as exc:
        if run.last_attempt or isinstance(exc, LookupError):
            await imports.fail(run.database, run.workspace_id, import_id, exc)
        raise


async def refresh_analytics(run: JobRun) -> dict[str, Any]:
    """`analytics.refresh`: a new snapshot of the workspace's customer values (app/services/analytics.py)."""
    from app.services import analytics

    return await analytics.refresh(
        run.database, run.workspace_id, {**run.params, "job_id": run.job["id"]}, run.progress
    )


RESCORE_PAGE = 1000
HANDLERS: dict[str, Callable[[JobRun], Awaitable[dict[str, Any]]]] = {
    "events.redact": redact_events,
    "leads.rescore": rescore_leads,
    "imports.run": run_import,
    "analytics.refresh": refresh_analytics,
}


async def run_due(database: Database, settings: Settings, *, limit: int = 4) -> int:
    now = utcnow()
    lease = timedelta(seconds=settings.worker_lease_seconds)
    async with UnitOfWork(database, write=True) as uow:
        claimed = await uow.outbox().claim_jobs(now, now + lease, limit)
        await uow.commit()
    await asyncio.gather(*(_run(database, job, lease) for job in claimed))
    return len(claimed)


async def _run(database: Database, job: dict[str, Any], lease: timedelta) -> None:
    handler = HANDLERS.get(job["kind"])
    try:
        if handler is None:
            raise LookupError(f"no handler for job kind {job['kind']!r}")
        result = await handler(JobRun(database, job, lease))
        outcome: dict[str, Any] = {"status": "succeeded", "result": result}
        event_type = types.JOB_SUCCEEDED
    except Exception as exc:
        log.exception("job %s (%s) failed", job["id"], job["kind"])
        retry = job["attempts"] + 1 < MAX_ATTEMPTS and not isinstance(exc, LookupError)
        problem = {
            "type": "/problems/job-failed",
            "title": "Job failed",
            "status": 500,
            "detail": f"{type(exc).__name__}: {exc}"[:500],
        }
        outcome = {"status": "queued" if retry else "failed", "problem": problem}
        event_type = None if retry else types.JOB_FAILED
    now = utcnow()
    async with UnitOfWork(database, write=True) as uow:
        final = {**outcome, "lease_until": None, "updated_at": now, "updated_by": str(SYSTEM)}
        if outcome["status"] != "queued":
            final["finished_at"] = now
        await uow.outbox().update_job(job["workspace_id"], job["id"], final)
        if event_type is not None:
            row = await uow.jobs(job["workspace_id"]).get(job["id"])
            assert row is not None
            await events.record(Context(uow, job["workspace_id"], SYSTEM, now), event_type, JobRead.model_validate(row))
        await uow.commit()
