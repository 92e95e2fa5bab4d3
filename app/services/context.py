"""Who does what, where and when: passed to every use case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.db.unit_of_work import UnitOfWork


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


SYSTEM = Actor("system")


@dataclass(frozen=True)
class Context:
    uow: UnitOfWork
    workspace_id: UUID
    actor: Actor
    now: datetime

    def audit_new(self) -> dict[str, object]:
        return {
            "created_at": self.now,
            "updated_at": self.now,
            "created_by": str(self.actor),
            "updated_by": str(self.actor),
        }

    def audit_change(self) -> dict[str, object]:
        return {"updated_at": self.now, "updated_by": str(self.actor)}
