"""Settings: read from the environment once, passed where needed (no os.environ elsewhere)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./crm.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    redis_url: str | None = None
    # Origins of browser frontends that call the API with secret keys. Form submissions never use
    # this list: their CORS answers come from the form and its publishable key.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Seconds a resolved API key stays in this process's lookup cache. A revocation is seen at once
    # by the process that made it and within this many seconds by every other process.
    api_key_cache_seconds: float = 5.0
    # Default limit for request bodies; routes may declare their own (x-max-body-bytes).
    max_body_bytes: int = 256 * 1024
    # CSV imports: the largest upload (streamed into the database in pieces, never held whole).
    import_max_bytes: int = 512 * 1024 * 1024
    # PostgreSQL connections per process. A request holds at most one at a time and waits for a free
    # one rather than opening extra connections (opening one costs more than most requests).
    database_pool_size: int = 20
    database_pool_timeout_seconds: float = 30.0
    # SQLite: how long a writer waits for the database lock before failing.
    sqlite_busy_timeout_ms: int = 5000

    # Rate limits per minute: per API key, and per client IP for form submissions.
    rate_limit_enabled: bool = True
    rate_limit_api_per_minute: int = 1200
    rate_limit_form_per_minute: int = 20
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
    # Development and tests only: allow webhook targets on loopback addresses.
    webhook_allow_loopback: bool = False
    # How long a worker owns an endpoint's queue (or a timer) before another worker may take over.
    worker_lease_seconds: float = 60.0
    worker_poll_seconds: float = 1.0
    # PostgreSQL: how often the worker ANALYZEs tables never analysed or more than doubled since
    # (sooner than autovacuum looks; app/worker/statistics.py). 0: leave it to autovacuum.
    worker_analyze_seconds: float = 2.0
    worker_concurrency: int = Field(default=16, ge=1)
    # Operator caps on what one workspace may take (never tenant settings, which the tenant could raise):
    # the webhook endpoints it may have (over it: 409 /problems/limit-exceeded), and the share of
    # one worker's concurrent deliveries (WORKER_CONCURRENCY) its endpoints may hold at once (at
    # least one delivery), so endpoints that never answer cannot starve other workspaces.
    webhook_endpoints_per_workspace: int = Field(default=50, ge=0)
    webhook_workspace_share: float = Field(default=0.25, gt=0, le=1)

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return [float(part) for part in value.split(",") if part.strip()]
        return value

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
