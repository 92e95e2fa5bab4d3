"""Command line: serve | migrate | create-workspace | openapi."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import app.blas  # noqa: F401  (first: BLAS threads are set before numpy loads)
from app import logs, metrics_directory, serving
from app.config import get_settings
from app.db.migrate import upgrade
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.errors import InvalidInput
from app.ids import utcnow
from app.services.workspace import workspaces

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


async def _migrate() -> None:
    database = Database(get_settings())
    try:
        await upgrade(database)
    finally:
        await database.dispose()


async def _create_workspace(name: str, region: str | None, timezone: str, currency: str) -> workspaces.NewWorkspace:
    database = Database(get_settings())
    try:
        async with UnitOfWork(database) as uow:
            created = await workspaces.create(
                uow, name=name, region=region, timezone=timezone, currency=currency, now=utcnow()
            )
            await uow.commit()
        return created
    finally:
        await database.dispose()


async def _prepare_for_serving() -> workspaces.NewWorkspace | None:
    settings = get_settings()
    database = Database(settings)
    try:
        await upgrade(database)
        if not settings.is_sqlite:
            return None
        async with UnitOfWork(database) as uow:
            created = await workspaces.create_demo_if_empty(uow, now=utcnow())
            await uow.commit()
        return created
    finally:
        await database.dispose()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (uvicorn[standard] brings it, except on Windows)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _run_worker(parent_pid: int | None) -> None:
    import signal

    from app.worker.process import exit_with_parent
    from app.worker.runner import Worker

    settings = get_settings()
    database = Database(settings, application_name="crm-worker")
    worker = Worker(database, settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    watch = asyncio.create_task(exit_with_parent(parent_pid, worker)) if parent_pid else None
    try:
        await worker.run()
    finally:
        if watch is not None:
            watch.cancel()
        await database.dispose()
    import os

    from app.cpu import cpu_steps_running

    # Only the job CPU steps' threads (`run_cpu`) are asked about: other threads (an idle pool's,
    # such as the outbound address lookups') end at interpreter exit, and a normal exit runs the
    # atexit handlers and the runner's executor shutdown.
    if cpu_steps_running():
        # A CPU step of a job (a model fit in a thread) cannot be interrupted, and the interpreter
        # would wait for it to end before exiting. Its job was handed back and everything else is
        # closed: exit now, so a stopped or orphaned worker goes within seconds.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM ends `serve` with exit status 0, as a stop asked for, not by dying of the signal
    (143). Installed first: a SIGTERM while the server is still starting (migrations, imports)
    exits at once. Once uvicorn runs it handles SIGTERM itself (no new connections, requests in
    flight finished within SHUTDOWN_GRACE_SECONDS, then the app's shutdown: the worker stopped),
    then raises the signal again for the handler it found: this one, which exits 0."""
    import signal

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


def _tune_gc() -> None:
    """Long-running processes: move what startup allocated out of the collector's sight and collect
    the young generation less often (most request garbage is freed by reference counting anyway).
    Form submissions cost less CPU with a higher threshold (benchmarks/README.md). A 1,000-order
    batch holds many live objects while it is being written, so a low threshold set off a young
    collection per batch that walked all of them, a large share of the API's CPU in order sync. At
    500,000, requests' objects are freed by reference counting before the collector looks (form
    capture costs the same either way)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(500_000, 50, 100)


def write_openapi(path: Path = OPENAPI_PATH) -> None:
    from app.main import create_app

    document = create_app().openapi()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="CRM API")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply migrations, then serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-worker", action="store_true", help="do not run the background worker in-process")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes on the one port (PostgreSQL; default 1); the background worker stays one child process",
    )
    commands.add_parser("migrate", help="apply pending migrations")
    worker = commands.add_parser(
        "worker", help="run the background worker (PostgreSQL; serve also starts one, as a child process)"
    )
    worker.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    create = commands.add_parser("create-workspace", help="create a workspace and print its first keys")
    create.add_argument("name")
    create.add_argument("--region", help="default phone region, ISO 3166-1 alpha-2 (e.g. IR)")
    create.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    create.add_argument("--currency", default="USD", help="ISO 4217 reporting currency (default USD)")
    create.add_argument("--json", action="store_true", help="print JSON")
    openapi = commands.add_parser("openapi", help="write openapi/openapi.json")
    openapi.add_argument("--output", type=Path, default=OPENAPI_PATH)
    args = parser.parse_args(argv)

    if args.command == "migrate":
        asyncio.run(_migrate())
        print("database migrated to head")
    elif args.command == "create-workspace":
        try:
            created = asyncio.run(_create_workspace(args.name, args.region, args.timezone, args.currency))
        except InvalidInput as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 2
        result = {
            "workspace_id": str(created.workspace["id"]),
            "secret_key": created.secret_key,
            "publishable_key": created.publishable_key,
        }
        if args.json:
            print(json.dumps(result))
        else:
            print(f"workspace {result['workspace_id']} ({args.name})")
            print(f"  secret key (admin):  {created.secret_key}")
            print(f"  publishable key:     {created.publishable_key}")
            print("Keys are shown only once: store them now.")
    elif args.command == "worker":
        settings = get_settings()
        if settings.is_sqlite:
            print(
                "error: the worker needs PostgreSQL. SQLite is single-process: `python -m app serve` already "
                "runs the worker in-process.",
                file=sys.stderr,
            )
            return 2
        logs.configure(settings.log_format, settings.log_level)
        if args.parent_pid is None and settings.metrics_port:  # serve's child: serve answers the scrapes
            from app import metrics

            metrics.serve_metrics(settings.metrics_port, settings.host)
        _tune_gc()
        # The API runs on uvloop (uvicorn's choice); the worker's many small queries gain from it too.
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_run_worker(args.parent_pid))
    elif args.command == "openapi":
        write_openapi(args.output)
        print(f"wrote {args.output}")
    elif args.command == "serve":
        import uvicorn

        _exit_cleanly_on_sigterm()
        settings = get_settings()
        logs.configure(settings.log_format, settings.log_level)
        if args.workers < 1:
            print("error: --workers must be 1 or more", file=sys.stderr)
            return 2
        if args.workers > 1 and settings.is_sqlite:
            print(serving.SQLITE_REFUSAL, file=sys.stderr)
            return 2
        # Metrics: one directory for every process of this server (the worker child inherits it),
        # chosen before prometheus-client is imported; the scrapes are answered here alone.
        metrics_dir = metrics_directory.use_directory() if settings.metrics_port else None
        demo = asyncio.run(_prepare_for_serving())
        if demo is not None:
            print("Created workspace 'demo'. Its keys are shown only once:", flush=True)
            print(f"  secret key (admin): {demo.secret_key}", flush=True)
            print(f"  publishable key:    {demo.publishable_key}", flush=True)
        from app.request_limits import hard_head_bytes, http_protocol

        served: dict[str, Any] = {
            "host": args.host or settings.host,
            "port": args.port or settings.port,
            "log_level": settings.log_level.lower(),
            "log_config": None,  # uvicorn's lines go through the root logger's format (logs.configure)
            "access_log": False,  # replaced by the request log (app/logs.py: RequestLogMiddleware)
            "proxy_headers": True,
            # Request heads past the app's own limits (414 / 431 problems) up to these hard ones
            # reach the app; past them the server refuses them as they stream in.
            "http": http_protocol(settings.max_url_bytes, settings.max_header_bytes),
            "h11_max_incomplete_event_size": hard_head_bytes(settings.max_header_bytes),
            "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        }
        if metrics_dir is not None:
            from app import metrics

            metrics.serve_metrics(settings.metrics_port, args.host or settings.host)
        _tune_gc()
        if args.workers > 1:
            # N API processes (uvicorn's supervisor, here) and one worker child for all of them.
            supervisor = None if args.no_worker else serving.SupervisedWorker(settings)
            if metrics_dir is not None:
                serving.sweep_dead_processes(metrics_dir)
            try:
                if supervisor is not None:
                    supervisor.start()
                if not isinstance(served["http"], str):  # each process makes its own protocol class
                    served["http"] = "app.request_limits:ServedHttpProtocol"
                uvicorn.run("app.serving:serving_app", factory=True, workers=args.workers, **served)
            finally:
                if supervisor is not None:
                    supervisor.stop()
            return 0
        from app.main import create_app

        app = create_app(settings, worker=not args.no_worker, worker_process=not settings.is_sqlite)
        uvicorn.run(app, **served)
    return 0


if __name__ == "__main__":
    sys.exit(main())
