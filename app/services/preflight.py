"""CORS preflight for form submissions: answered from the form's allowed origins (a preflight
carries no key; the key's own origins are enforced on the POST itself, or here when the page
passes it in the URL)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from app.db.unit_of_work import UnitOfWork
from app.domain.errors import DomainError
from app.domain.leads.capture import allowed_origins, origin_allowed
from app.services.api_keys import KeyResolver


async def origin_may_post(
    uow: UnitOfWork, resolver: KeyResolver, form_id: UUID, origin: str | None, token: str | None, now: datetime
) -> bool:
    if origin is None:
        return False
    form_origins = await uow.system().form_origins(form_id)
    if form_origins is None:
        return False
    key_origins: tuple[str, ...] = ()
    if token:
        try:
            key_origins = (await resolver.resolve(token, now)).allowed_origins
        except DomainError:  # an unknown or revoked key in the URL: no preflight either
            return False
    return origin_allowed(origin, allowed_origins(form_origins, key_origins))
