"""Fixed-window rate limits per minute: shared between processes through Redis when REDIS_URL is
set, in this process's memory otherwise. A Redis outage fails open (logged), never closed."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from app.config import Settings

log = logging.getLogger("app.ratelimit")
WINDOW = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self, policy: str) -> dict[str, str]:
        """IETF draft-ietf-httpapi-ratelimit-headers fields, plus Retry-After when refused."""
        headers = {
            "RateLimit-Policy": f'"{policy}";q={self.limit};w={WINDOW}',
            "RateLimit": f'"{policy}";r={self.remaining};t={self.reset_seconds}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


class RateLimiter(Protocol):
    async def hit(self, bucket: str, limit: int) -> Verdict: ...

    async def peek(self, bucket: str, limit: int) -> Verdict:
        """The bucket's state without counting: refused once more than `limit` hits were counted
        in this window (for limits that count only failures, checked before every attempt)."""
        ...


def _window(now: float) -> tuple[int, int]:
    start = int(now) // WINDOW * WINDOW
    return start, start + WINDOW - int(now)


class InProcessRateLimiter:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, bucket: str, limit: int) -> Verdict:
        window, reset = _window(time.time())
        start, count = self._counts.get(bucket, (window, 0))
        count = count + 1 if start == window else 1
        if len(self._counts) > 100_000:  # forget finished windows
            self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
        self._counts[bucket] = (window, count)
        return Verdict(count <= limit, limit, max(limit - count, 0), reset)

    async def peek(self, bucket: str, limit: int) -> Verdict:
        window, reset = _window(time.time())
        start, count = self._counts.get(bucket, (window, 0))
        count = count if start == window else 0
        return Verdict(count <= limit, limit, max(limit - count, 0), reset)


class RedisRateLimiter:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        # An outage is logged when it starts and when it ends, not once per request it lets through.
        self.unavailable = False

    async def hit(self, bucket: str, limit: int) -> Verdict:
        window, reset = _window(time.time())
        key = f"crm:rl:{bucket}:{window}"
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, WINDOW + 1)
                count, _ = await pipe.execute()
        except Exception as exc:  # fail open: an outage of the limiter must not stop the API
            self._failed(exc)
            return Verdict(True, limit, limit, reset)
        self._answered()
        return Verdict(int(count) <= limit, limit, max(limit - int(count), 0), reset)

    async def peek(self, bucket: str, limit: int) -> Verdict:
        window, reset = _window(time.time())
        try:
            count = int(await self.redis.get(f"crm:rl:{bucket}:{window}") or 0)
        except Exception as exc:  # fail open, as hit() does
            self._failed(exc)
            return Verdict(True, limit, limit, reset)
        self._answered()
        return Verdict(count <= limit, limit, max(limit - count, 0), reset)

    def _failed(self, exc: Exception) -> None:
        if not self.unavailable:
            self.unavailable = True
            log.warning("rate limiter unavailable (%s): allowing every request until Redis answers", type(exc).__name__)

    def _answered(self) -> None:
        if self.unavailable:
            self.unavailable = False
            log.warning("rate limiter available again: limits apply")


def build(settings: Settings) -> RateLimiter | None:
    if not settings.rate_limit_enabled:
        return None
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url)
    return InProcessRateLimiter()
