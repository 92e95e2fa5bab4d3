"""CORS preflight for form submissions: answered from the form's allowed origins (a preflight
carries no key; the key's own origins are enforced on the POST itself, or here when the page
passes it in the URL: the router resolves that key first)."""

from __future__ import annotations

from uuid import UUID

from app.db.unit_of_work import UnitOfWork
from app.domain.leads.capture import allowed_origins, origin_allowed


async def origin_may_post(uow: UnitOfWork, form_id: UUID, origin: str | None, key_origins: tuple[str, ...]) -> bool:
    if origin is None:
        return False
    form_origins = await uow.system().form_origins(form_id)
    if form_origins is None:
        return False
    return origin_allowed(origin, allowed_origins(form_origins, key_origins))
