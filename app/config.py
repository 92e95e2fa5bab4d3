"""Settings: read from the environment once, passed where needed (no os.environ elsewhere)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./crm.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    # On SIGTERM (a container being stopped) `serve` stops accepting connections and gives requests
    # in flight this long to finish; those still running then are cancelled. The worker is stopped
    # after them (its own grace: app/worker/runner.py stop_seconds). Keep it below the platform's
    # kill timeout (Kubernetes' terminationGracePeriodSeconds, 30 s; `docker stop -t`, 10 s).
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    log_level: str = "info"
    # `json`: one JSON object per line (what log collectors read; the Docker image sets it);
    # `text`: readable lines for a terminal (app/logs.py).
    log_format: str = "text"
    # Prometheus metrics (app/metrics.py) on their own port, on HOST; never on the API's port. 0: none.
    metrics_port: int = Field(default=9464, ge=0, le=65_535)
    redis_url: str | None = None
    # Origins of browser frontends that call the API with secret keys. Form submissions never use
    # this list: their CORS answers come from the form and its publishable key.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Seconds a resolved API key stays in this process's lookup cache. A revocation is seen at once
    # by the process that made it and within this many seconds by every other process.
    api_key_cache_seconds: float = 5.0
    # Default limit for request bodies; routes may declare their own (x-max-body-bytes).
    max_body_bytes: int = 256 * 1024
    # Request target (path and query, as sent) and header block limits: 414 / 431 problems past
    # them (app/request_limits.py). 8 KiB is the request line RFC 9110 asks every server to take;
    # 32 KiB of headers holds browsers' cookies and proxies' forwarding headers with room. The
    # server itself refuses targets past 65,535 bytes and heads past max(1 MiB, 4 x the header limit).
    max_url_bytes: int = Field(default=8 * 1024, ge=1024, le=65_535)
    max_header_bytes: int = Field(default=32 * 1024, ge=4 * 1024, le=1024 * 1024)
    # CSV imports: the largest upload (streamed into the database in pieces, never held whole).
    import_max_bytes: int = 512 * 1024 * 1024
    # PostgreSQL connections per process. A request holds at most one at a time and waits for a free
    # one rather than opening extra connections (opening one costs more than most requests).
    database_pool_size: int = 20
    database_pool_timeout_seconds: float = 30.0
    # SQLite: how long a writer waits for the database lock before failing. As long as a request
    # waits for a pooled connection on PostgreSQL: the API and the in-process worker share one event
    # loop, so on a loaded machine another writer's transaction can last seconds of wall time, and a
    # request that waits a little longer beats one that fails.
    sqlite_busy_timeout_ms: int = 30000

    # Rate limits per minute: per API key, and per client IP for form submissions.
    rate_limit_enabled: bool = True
    rate_limit_api_per_minute: int = 1200
    rate_limit_form_per_minute: int = 20
    # API keys: failed authentications (a presented key that is malformed, unknown, revoked,
    # expired or its member deactivated) allowed per client IP and minute, secret and publishable
    # keys each with a budget of their own. Past it, until the minute ends, the IP gets 429 without
    # a lookup for every key of that kind it presents, except keys this process found good in the
    # last 15 minutes: guessing stops rather than slows, and good keys sharing the address keep
    # working. A request with no key at all is not counted.
    rate_limit_auth_failures_per_minute: int = 30
    # Good keys each process keeps in its lookup cache (refused keys have a small table of their
    # own, so made-up keys never push good ones out).
    api_key_cache_size: int = 10_000
    # Shop webhooks. Per integration: the deliveries whose signature checks out (counted once
    # verified, so forged requests never use up a shop's budget). A flash sale of ~1,500 orders a
    # minute sends about four webhooks per order (orders/create, orders/paid, orders/updated,
    # customers/update), so 6,000 leaves room; a refused delivery is answered 429 with Retry-After
    # and the platform sends it again later.
    rate_limit_shop_webhook_per_minute: int = 6000
    # Per client IP and integration URL: requests that are not verified deliveries (bad or missing
    # signature, another shop, no such integration, too large, not JSON, WooCommerce's unsigned
    # ping). Past it that IP gets 429 on that URL before its body is read, until the minute ends.
    # Keyed by URL too because Shopify and WooCommerce.com send every shop's webhooks from shared
    # addresses: one shop with a wrong secret must not get other shops' deliveries refused. A
    # platform sends no unverified requests but a ping when a webhook is saved, so 60 is plenty.
    rate_limit_shop_webhook_unverified_per_minute: int = Field(default=60, ge=1)
    # Forms: how long a form and a workspace's lookups are cached per process (seconds).
    form_cache_seconds: float = 5.0

    # Webhooks and the worker.
    # One deadline for a whole delivery attempt: connecting, sending and the whole reply (of which
    # at most 4 KiB is read). A receiver that trickles its reply is cut here.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Seconds before attempt 1, 2, 3, ...; after the last failed attempt a delivery is `failed`.
    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    )
    # Development and tests only: allow outbound targets (webhook endpoints, message providers) on
    # loopback addresses. WEBHOOK_ALLOW_LOOPBACK, its earlier name, still sets it.
    outbound_allow_loopback: bool = Field(
        default=False, validation_alias=AliasChoices("outbound_allow_loopback", "webhook_allow_loopback")
    )
    # Seconds before attempt 2, 3, ... of a message its provider provably never took (refused
    # connection, TLS failure, SMTP 4xx, a documented "not accepted"); after the last, it fails.
    message_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [30, 120, 600, 3600, 21600]
    )
    # How long a worker owns an endpoint's queue (or a timer) before another worker may take over.
    worker_lease_seconds: float = 60.0
    worker_poll_seconds: float = 1.0
    # PostgreSQL: how often the worker ANALYZEs tables never analysed or more than doubled since
    # (sooner than autovacuum looks; app/worker/statistics.py). 0: leave it to autovacuum.
    worker_analyze_seconds: float = 2.0
    # How often the worker evaluates saved segments' members (contact.segment_entered / _exited,
    # journeys' segment triggers).
    segment_refresh_seconds: float = Field(default=300.0, gt=0)
    worker_concurrency: int = Field(default=16, ge=1)
    # Operator caps on what one workspace may take (never tenant settings, which the tenant could raise):
    # the webhook endpoints it may have (over it: 409 /problems/limit-exceeded), and the share of
    # one worker's concurrent deliveries (WORKER_CONCURRENCY) its endpoints may hold at once (at
    # least one delivery), so endpoints that never answer cannot starve other workspaces.
    webhook_endpoints_per_workspace: int = Field(default=50, ge=0)
    webhook_workspace_share: float = Field(default=0.25, gt=0, le=1)

    # Fair shares of the shared background work and storage (operator caps; a request past one is a
    # 409 /problems/limit-exceeded naming the setting).
    # Jobs of one kind a workspace may have running at once. 1: one workspace's refreshes or imports
    # run one after the other, in the order they were asked for (an orders import after a contacts
    # import sees its contacts; two refreshes of one workspace would fit the same data twice), and
    # never hold more than one worker slot per kind while other workspaces wait.
    jobs_running_per_workspace_kind: int = Field(default=1, ge=1)
    # Jobs one worker process runs at once (each is I/O plus CPU in a thread).
    worker_jobs_concurrency: int = Field(default=4, ge=1)
    # CSV uploads of one workspace streaming in at once (imports in status `uploading`).
    import_uploads_per_workspace: int = Field(default=3, ge=1)
    # Bytes of CSV uploads one workspace may keep stored at once (imports uploading, queued or
    # running; an import's pieces are deleted when it ends). Checked as each piece is stored.
    import_stored_bytes_per_workspace: int = Field(default=2 * 1024**3, ge=1)

    # The address people's mail clients and providers reach this service at: tracked links, the
    # open pixel, unsubscribe pages and provider callbacks are built on it (the worker renders
    # outside any request). Default: http://HOST:PORT.
    public_base_url: str | None = None
    # Seals secrets stored at rest (channel passwords and tokens) and keys the hashes of suppressed
    # addresses and the signatures of public tokens: a urlsafe-base64 32-byte key (Fernet), or
    # several separated by commas, the first sealing and every one opening (rotation). Unset, a key
    # is generated once into SECRETS_KEY_FILE.
    secrets_key: str | None = None
    secrets_key_file: str = "./crm-secrets.key"

    @property
    def webhook_allow_loopback(self) -> bool:
        """The earlier name of `outbound_allow_loopback`."""
        return self.outbound_allow_loopback

    @property
    def public_url(self) -> str:
        """`public_base_url` without a trailing slash, or http://HOST:PORT."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @field_validator("webhook_retry_schedule", "message_retry_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return [float(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _known_format(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("json", "text"):
            return value.strip().lower()
        raise ValueError(f"LOG_FORMAT must be `json` or `text`, not {value!r}")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the plain URLs people paste (postgres://, postgresql://, sqlite://)."""
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if value.startswith(plain):
                return driver + value[len(plain) :]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
