"""Who does what, where and when: passed to every use case."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from app.db.repositories.registry import BoundRepositories
from app.db.unit_of_work import UnitOfWork
from app.domain.concurrency import lost_update
from app.domain.workspace.api_keys import ADMIN, allows


@dataclass(frozen=True)
class Actor:
    """The member bound to the calling key, else the key itself; `system` for internal work."""

    type: str  # "member" | "api_key" | "system"
    id: str | None = None

    def __str__(self) -> str:
        return self.type if self.id is None else f"{self.type}:{self.id}"

    @classmethod
    def parse(cls, raw: str) -> Actor:
        kind, _, ident = raw.partition(":")
        return cls(kind, ident or None)


# A row as a repository returns it: its table's typed row (`LeadRow`) or a plain dict.
RowT = TypeVar("RowT", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for its audit entry (app/services/audit): the key and the member
    it acts as, the client's address and user agent, the request id, the method and route template."""

    key_id: UUID | None = None
    member_id: UUID | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    method: str | None = None
    route: str | None = None  # the template: /v1/leads/{lead_id}


SYSTEM = Actor("system")
# The scopes of work the service does on its own behalf (worker, timers, jobs): every scope. Such
# work names them explicitly; a context that names none may read nothing scoped.
SERVICE_SCOPES: frozenset[str] = frozenset({ADMIN})


@dataclass(frozen=True)
class Context(BoundRepositories):
    """A use case's caller and its unit of work, with the tenant repositories already bound to
    the caller's workspace (`ctx.leads`, `ctx.contacts`, ...; app/db/repositories/registry.py)."""

    uow: UnitOfWork
    workspace_id: UUID
    actor: Actor
    now: datetime
    # Event types this use case does not emit one by one (a CSV import announces itself once).
    quiet: frozenset[str] = frozenset()
    # What the caller may read: a request carries its key's scopes, so composite reads (the 360
    # view, the event log, a new webhook endpoint) show only what those scopes allow. Work the
    # service does on its own behalf (worker, timers, jobs) passes SERVICE_SCOPES. The default is
    # no scope at all, so a context built without thinking of scopes fails closed, never open.
    scopes: frozenset[str] = frozenset()
    # The request behind this use case (None: work the service does on its own behalf).
    origin: Origin | None = None

    def allows(self, scope: str) -> bool:
        return allows(self.scopes, scope)

    def derive(self, uow: UnitOfWork, now: datetime | None = None) -> Context:
        """The same caller (workspace, actor, scopes, quiet types, origin) in another unit of work, e.g.
        each page of an export after the first: it must read with the request's scopes."""
        return replace(self, uow=uow, now=self.now if now is None else now)

    def audit_new(self) -> dict[str, object]:
        return {
            "created_at": self.now,
            "updated_at": self.now,
            "created_by": str(self.actor),
            "updated_by": str(self.actor),
        }

    def audit_change(self) -> dict[str, object]:
        return {"updated_at": self.now, "updated_by": str(self.actor)}


def changed_fields(row: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The requested changes that would really change the row (so versions do not churn)."""
    return {k: v for k, v in changes.items() if row.get(k) != v}


async def write_changes(
    ctx: Context,
    row: Mapping[str, Any],
    values: Mapping[str, Any],
    update: Callable[[int, dict[str, Any]], Awaitable[RowT | None]],
    *,
    if_match: str | None,
) -> RowT:
    """Compare-and-set on the row's version, stamping who changed it and when; 412 (with If-Match)
    or 409 when another writer changed it between our read and our write."""
    updated = await update(row["version"], {**values, **ctx.audit_change()})
    if updated is None:
        raise lost_update(if_match)
    return updated
