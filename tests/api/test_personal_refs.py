"""Refs written with the data they point to (`personal_refs`), on both databases: an event naming a
person besides its resource, a stored Idempotency-Key answer, a failed import row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from app.db import tables
from app.db.bulk import copy, write_behind
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.services.privacy.subjects import EVENTS, IDEMPOTENCY, IMPORT_ERRORS, email_subject
from tests.api.test_forms import SITE, make_form, submissions_url
from tests.api.test_imports import MAPPING, PEOPLE, csv_bytes, imported, upload
from tests.api.test_orders import contact_of, order, sync
from tests.conftest import Tenant

r = tables.personal_refs


async def refs(database: Database, tenant: Tenant, place: str) -> set[tuple[str, str]]:
    """(subject, row_key) of the workspace's refs into `place`."""
    async with UnitOfWork(database, write=False) as uow:
        statement = select(r.c.subject, r.c.row_key).where(r.c.workspace_id == UUID(tenant.id), r.c.place == place)
        return {(s, k) for s, k in (await uow.execute(statement)).all()}


async def event_ids(tenant: Tenant, event_type: str) -> list[str]:
    found = (await tenant.get("/v1/events", params={"type": event_type, "limit": 100})).json()["data"]
    return [e["id"] for e in found]


async def test_events_naming_a_person_besides_their_resource_get_a_ref_and_a_persons_own_do_not(
    tenant: Tenant, database: Database
) -> None:
    form = await make_form(tenant)
    headers = {"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE}
    submitted = await tenant.client.post(submissions_url(form), json={"email": "sara@example.com"}, headers=headers)
    assert submitted.status_code == 201, submitted.text
    lead_id = await tenant.lead_of(submitted)
    [submission_event] = await event_ids(tenant, "form.submission_received")
    [lead_event] = await event_ids(tenant, "lead.created")
    [result] = await sync(tenant, order("5001"))
    contact_id = (await contact_of(tenant, result["id"]))["id"]
    [order_event] = await event_ids(tenant, "order.created")
    found = await refs(database, tenant, EVENTS)
    assert (lead_id, submission_event) in found
    # an order's event is found by the order's id, the order by its contact: no ref
    assert all(key != order_event for _, key in found) and contact_id
    assert all(key != lead_event for _, key in found)  # the lead's own event: found by its resource_id
    # the customer's own event (customer.created, about the contact) names nobody else either
    customer_events = set(await event_ids(tenant, "customer.created"))
    assert customer_events and not {key for _, key in found} & customer_events


async def test_a_stored_idempotent_answer_refers_to_the_person_it_created(tenant: Tenant, database: Database) -> None:
    headers = {"Idempotency-Key": "lead-1"}
    created = await tenant.post("/v1/leads", json={"email": "kian@example.com"}, headers=headers)
    assert created.status_code == 201, created.text
    assert await refs(database, tenant, IDEMPOTENCY) == {(created.json()["id"], "lead-1")}
    replayed = await tenant.post("/v1/leads", json={"email": "kian@example.com"}, headers=headers)
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert await refs(database, tenant, IDEMPOTENCY) == {(created.json()["id"], "lead-1")}
    # purged with its answer: the key used again later is another request's
    from datetime import timedelta

    from app.ids import utcnow
    from app.services.context import SERVICE_SCOPES, SYSTEM, Context
    from app.worker import recurring

    async with UnitOfWork(database) as uow:
        ctx = Context(uow, UUID(tenant.id), SYSTEM, utcnow() + timedelta(days=30), scopes=SERVICE_SCOPES)
        assert await recurring.purge_idempotency_keys(ctx) == 1
        await uow.commit()
    assert await refs(database, tenant, IDEMPOTENCY) == set()


async def test_a_failed_import_row_refers_to_its_persons_email(tenant: Tenant, database: Database) -> None:
    await tenant.patch("/v1/settings/deduplication", json={"on_duplicate": "reject"})
    done: dict[str, Any] = await imported(
        tenant, database, await upload(tenant, "leads", csv_bytes(PEOPLE, delimiter=";"), mapping=MAPPING)
    )
    # row 3's email does not parse (found only through its import); row 4's does (a duplicate)
    assert await refs(database, tenant, IMPORT_ERRORS) == {(email_subject("sara@acme.io"), f"{done['id']}:4")}


async def test_a_capture_writes_its_refs_in_its_one_statement(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a form capture's lead, submission, events and the submission event's ref are
    still one statement (the ref joins the write-behind rows)."""
    if database.is_sqlite:
        pytest.skip("SQLite writes each group in the transaction")
    form = await make_form(tenant)
    sent: list[list[str]] = []  # the tables of each write-behind statement
    statement, together = write_behind.statement, database.write_together

    def recording(dialect: Any, groups: Sequence[write_behind.Group], **kwargs: Any) -> Any:
        sent.append([g.table.name for g in groups])
        return statement(dialect, groups, **kwargs)

    async def recording_together(groups: Sequence[write_behind.Group], notify: str | None) -> None:
        sent.append([g.table.name for g in groups])
        await together(groups, notify)

    monkeypatch.setattr(write_behind, "statement", recording)
    monkeypatch.setattr(database, "write_together", recording_together)
    monkeypatch.setattr(copy, "insert_rows", None)  # never COPY here
    headers = {"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE}
    submitted = await tenant.client.post(submissions_url(form), json={"email": "nima@example.com"}, headers=headers)
    assert submitted.status_code == 201, submitted.text
    monkeypatch.undo()
    [written] = sent  # one statement: the fast lane's, or its unit's own
    assert {"leads", "form_submissions", "events", "personal_refs"} <= set(written)
    [event] = await event_ids(tenant, "form.submission_received")
    assert (await tenant.lead_of(submitted), event) in await refs(database, tenant, EVENTS)
