"""Typed errors raised by the domain and the services; mapped to RFC 9457 problems in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One invalid input: where it was (body, query, path, header), which field, and why."""

    location: str
    field: str
    message: str
    type: str = "value_error"


class DomainError(Exception):
    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = errors or []
        self.headers: dict[str, str] = headers or {}
        # RFC 9457 extension members (e.g. the existing references of an already qualified lead)
        self.extensions: dict[str, object] = dict(extensions or {})


class InvalidInput(DomainError):
    status = 422
    slug = "validation-error"
    title = "Invalid input"

    @classmethod
    def field(cls, field_name: str, message: str, *, location: str = "body", type: str = "value_error") -> InvalidInput:
        return cls(f"{field_name}: {message}", errors=[FieldError(location, field_name, message, type)])


class Unauthorized(DomainError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PreconditionFailed(DomainError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class TooManyRequests(DomainError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class IdempotencyKeyInUse(DomainError):
    """The first request with this Idempotency-Key is still being processed."""

    status = 409
    slug = "idempotency-key-in-use"
    title = "Idempotency key in use"


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was already used with a different request."""

    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency key reused"


@dataclass
class ErrorList:
    """Collects field errors so a caller can report all of them at once."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str, message: str, *, location: str = "body", type: str = "value_error") -> None:
        self.errors.append(FieldError(location, field_name, message, type))

    def raise_if_any(self) -> None:
        if self.errors:
            summary = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
            raise InvalidInput(summary, errors=list(self.errors))


class Unavailable(DomainError):
    """Temporarily not accepting this (e.g. a paused integration): retry later."""

    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class LimitExceeded(DomainError):
    """An operator's cap (environment, never a tenant setting) would be passed: the problem names
    the limit (`limit`: its setting's name, `value`: the cap) so the client knows which one."""

    status = 409
    slug = "limit-exceeded"
    title = "Limit exceeded"

    def __init__(self, detail: str, *, limit: str, value: int | float) -> None:
        super().__init__(detail, extensions={"limit": limit, "value": value})


class SecretNotReplayable(DomainError):
    """An Idempotency-Key replay of a response that carried a new secret: the secret was never
    stored, so the replay names the created resource instead. Revoke it and create a new one."""

    status = 409
    slug = "secret-not-replayable"
    title = "Secret not replayable"

    def __init__(self, detail: str, *, resource: str) -> None:
        super().__init__(detail, extensions={"resource": resource})
