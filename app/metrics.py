"""Prometheus metrics: every metric this service exposes, the HTTP middleware that counts requests,
and the metrics endpoint (its own port, METRICS_PORT; never the API's).

One scrape shows the whole installation on the machine. `serve` makes a fresh directory for
prometheus-client's multiprocess mode (app/metrics_directory.py) before anything imports prometheus-client
and exports it as PROMETHEUS_MULTIPROC_DIR, so the API process(es) and the worker child it starts
write their values to files there; the serve process alone answers scrapes (`serve_metrics`),
summing the files of every process. A standalone `python -m app worker` (no serve parent) serves
its own values on METRICS_PORT.

Cardinality: labels carry route templates, methods, status codes and small fixed sets of kinds and
outcomes; never a workspace id, a person, or a raw URL. Tenants are counted, not labelled."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server
from prometheus_client.registry import REGISTRY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import route_template
from app.metrics_directory import MULTIPROC_ENV

log = logging.getLogger("app.metrics")
# Seconds between two samples of what is read rather than counted (pools, the events backlog).
SAMPLE_SECONDS = 5.0
# Lags: from milliseconds (a timer fired on time) to hours (a delivery retried for a day).
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400, float("inf"))
JOB_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, float("inf"))

HTTP_REQUESTS = Counter("crm_http_requests", "HTTP requests answered", ["route", "method", "status"])
HTTP_DURATION = Histogram(
    "crm_http_request_duration_seconds", "Time from a request's arrival to its answer's end", ["route", "method"]
)
DB_POOL = Gauge(
    "crm_db_pool_connections",
    "Database connections in the processes' pools, by state (in_use, idle)",
    ["state"],
    multiprocess_mode="livesum",
)
EVENTS_BACKLOG = Gauge(
    "crm_events_backlog",
    "Undelivered work: events not yet dispatched plus webhook deliveries pending for enabled endpoints",
    multiprocess_mode="livemax",
)
WORKER_HEARTBEAT = Gauge(
    "crm_worker_heartbeat_timestamp_seconds",
    "When a worker's metrics loop last read the database (Unix time, every few seconds): "
    "one that stops moving is a worker whose event loop or database is stuck",
    multiprocess_mode="livemax",
)
EVENTS_OLDEST_AGE = Gauge(
    "crm_events_oldest_age_seconds",
    "Age of the oldest undelivered event or delivery (0: none)",
    multiprocess_mode="livemax",
)
WEBHOOK_DELIVERIES = Counter(
    "crm_webhook_deliveries", "Webhook delivery attempts by outcome (delivered, retried, failed)", ["outcome"]
)
WEBHOOK_LAG = Histogram(
    "crm_webhook_delivery_lag_seconds", "From an event's occurrence to its delivery's success", buckets=LAG_BUCKETS
)
TIMERS_LAG = Histogram("crm_timers_lag_seconds", "From a timer's due time to its firing", buckets=LAG_BUCKETS)
JOBS = Counter("crm_jobs", "Job runs by kind and outcome (succeeded, retried, failed, taken_over)", ["kind", "outcome"])
JOB_DURATION = Histogram("crm_job_duration_seconds", "Job run time by kind", ["kind"], buckets=JOB_BUCKETS)
MESSAGES = Counter(
    "crm_messages",
    "Message send attempts by channel type and outcome (sent, retried, bounced, unknown, failed, released)",
    ["channel", "outcome"],
)
FORM_SUBMISSIONS = Counter(
    "crm_form_submissions", "Form submissions by outcome (accepted, spam, rejected)", ["outcome"]
)
FORM_ACCEPTED = FORM_SUBMISSIONS.labels("accepted")
FORM_SPAM = FORM_SUBMISSIONS.labels("spam")
FORM_REJECTED = FORM_SUBMISSIONS.labels("rejected")
POOL_IN_USE = DB_POOL.labels("in_use")
POOL_IDLE = DB_POOL.labels("idle")


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def serve_metrics(port: int, host: str) -> bool:
    """Answer scrapes on `port` from a thread of this process: the sum over every process writing to
    the multiprocess directory, or this process's own values outside multiprocess mode. False (and
    a warning) when the port is taken: the service runs on without metrics rather than not at all."""
    registry: CollectorRegistry = REGISTRY
    if multiprocess_directory() is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.warning("metrics not served: cannot listen on %s:%d (%s)", host, port, exc)
        return False
    return True


def process_exited(pid: int) -> None:
    """A process writing to the multiprocess directory is gone: its live gauges no longer count."""
    if multiprocess_directory() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def sample_pool(pool: Any) -> None:
    """The connections of this process's pool now (QueuePool's counts; other pools are not sampled)."""
    checkedout: Callable[[], int] | None = getattr(pool, "checkedout", None)
    checkedin: Callable[[], int] | None = getattr(pool, "checkedin", None)
    if checkedout is None or checkedin is None:
        return
    POOL_IN_USE.set(checkedout())
    POOL_IDLE.set(checkedin())


class _Requests:
    """Bound children per label values: one dict lookup per request instead of prometheus-client's
    locked label resolution."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], Any] = {}
        self.durations: dict[tuple[str, str], Any] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, str(status))
        counter = self.counts.get(key)
        if counter is None:
            counter = self.counts[key] = HTTP_REQUESTS.labels(*key)
        counter.inc()
        timed = self.durations.get(key[:2])
        if timed is None:
            timed = self.durations[key[:2]] = HTTP_DURATION.labels(route, method)
        timed.observe(seconds)


_requests = _Requests()
# Methods as labels: the ones routes declare; anything else (made up by a client) is counted as OTHER.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetricsMiddleware:
    """Counts and times every HTTP request by route template, method and status (pure ASGI: a
    clock read, a wrapped `send` and two metric updates per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server answers if the app raises before starting its response

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            method = scope["method"]
            _requests.observe(
                route_template(scope), method if method in _METHODS else "OTHER", status, time.perf_counter() - start
            )
