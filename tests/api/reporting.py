"""Helpers for the reports' filter tests: a form whose submissions are given leads', a campaign
that messaged given leads (rows written directly: the capture and sending paths have their own
tests), rows changed in place, exchange rates."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import insert, update

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from tests.conftest import Tenant

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def set_rows(database: Database, table: Any, ids: list[str] | str, **values: Any) -> None:
    chosen = [ids] if isinstance(ids, str) else ids
    async with UnitOfWork(database) as uow:
        await uow.execute(update(table).where(table.c.id.in_([UUID(i) for i in chosen])).values(**values))
        await uow.commit()


async def form_with(tenant: Tenant, database: Database, leads: list[str], spam: tuple[str, ...] = ()) -> str:
    """A form that `leads` submitted (and `spam` leads, marked spam: not counted)."""
    created = await tenant.post("/v1/forms", json={"name": f"Form {uuid4().hex[:6]}"})
    assert created.status_code == 201, created.text
    form_id = str(created.json()["id"])
    rows = [{"workspace_id": UUID(tenant.id), "id": uuid4(), "form_id": UUID(form_id), "lead_id": UUID(lead),
             "spam": lead in spam, "fields": {}, "meta": {}, "created_at": NOW}
            for lead in [*leads, *spam]]  # fmt: skip
    if rows:
        async with UnitOfWork(database) as uow:
            await uow.execute(insert(tables.form_submissions), rows)
            await uow.commit()
    return form_id


async def campaign_with(tenant: Tenant, database: Database, messaged: list[str], held_out: tuple[str, ...] = ()) -> str:
    """A campaign (a draft, made through the API) that messaged `messaged` and held `held_out` out."""
    body = {"name": "T", "channel": "email", "subject": "Hello", "body_text": "Hello", "body_html": "<p>Hello</p>"}
    template = await tenant.post("/v1/templates", json=body)
    assert template.status_code == 201, template.text
    variants = [{"name": "A", "template_id": template.json()["id"], "weight": 1}]
    created = await tenant.post("/v1/campaigns", json={"name": "Spring", "channel": "email", "variants": variants})
    assert created.status_code == 201, created.text
    campaign_id = str(created.json()["id"])
    rows = [{"workspace_id": UUID(tenant.id), "campaign_id": UUID(campaign_id), "person_id": UUID(person),
             "arm": "A", "pilot": False, "status": status, "created_at": NOW}
            for status, people in (("messaged", messaged), ("holdout", held_out)) for person in people]  # fmt: skip
    if rows:
        async with UnitOfWork(database) as uow:
            await uow.execute(insert(tables.campaign_recipients), rows)
            await uow.commit()
    return campaign_id


async def rate(tenant: Tenant, currency: str, value: str, day: dt.date) -> None:
    answer = await tenant.post("/v1/exchange-rates", json={"currency": currency, "rate": value,
                                                            "effective_on": day.isoformat()})  # fmt: skip
    assert answer.status_code in (200, 201), answer.text
