"""Unfiltered list pages and reads by id go straight to the driver on PostgreSQL (UnitOfWork.fetch_rows,
outside a transaction): their rows must be the rows SQLAlchemy gives for the same statement, value for
value and type for type, and their pages the pages of the filtered path, cursor for cursor."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from app.db.bulk import positional
from app.db.repositories.base import live_page, select_by_id
from app.db.repositories.leads.leads import SORTABLE
from app.db.session import Database
from app.db.tables import accounts, leads, metadata, tasks
from app.db.unit_of_work import UnitOfWork
from tests.conftest import Tenant, assert_problem


async def _seed(tenant: Tenant) -> list[str]:
    """Leads whose rows use every kind of value a lead has: JSON, floats, booleans, timestamps, nulls."""
    defined = await tenant.post("/v1/custom-fields", json={"key": "budget", "label": "Budget", "type": "number"})
    assert defined.status_code == 201, defined.text
    ids = []
    for n in range(7):
        body: dict[str, Any] = {
            "first_name": f"Row{n}",
            "email": f"row{n}@example.com",
            "tags": ["driver", f"t{n}"],
            "source": "web_form",
            "custom_fields": {"budget": n * 1.5},
        }
        created = await tenant.post("/v1/leads", json=body)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    for n, lead_id in enumerate(ids[:4]):  # scores, activity times and a stage differ between rows
        kind = "demo_request" if n % 2 else "pricing_page_view"
        engaged = await tenant.post(f"/v1/leads/{lead_id}/engagements", json={"type": kind})
        assert engaged.status_code == 201, engaged.text
        if n % 2:
            activity = {"type": "call", "subject": f"call {n}", "lead_id": lead_id}
            assert (await tenant.post("/v1/activities", json=activity)).status_code == 201
    assert (await tenant.delete(f"/v1/leads/{ids[5]}")).status_code == 200
    return ids


async def _both(database: Database, statement: Any, params: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """The rows through the driver (a unit of work not yet in a transaction) and through SQLAlchemy."""
    async with UnitOfWork(database, write=False) as uow:
        direct = await uow.fetch_rows(statement, params)
    async with UnitOfWork(database, write=False) as uow:
        await uow.connection()  # started: fetch_rows goes through SQLAlchemy
        through_sqlalchemy = await uow.fetch_rows(statement, params)
    return direct, through_sqlalchemy


def _typed(rows: list[dict]) -> list[dict]:
    return [{key: (type(value), value) for key, value in row.items()} for row in rows]


async def test_driver_rows_equal_sqlalchemys(database: Database, tenant: Tenant) -> None:
    ids = await _seed(tenant)
    ws = uuid.UUID(tenant.id)
    for field, key in SORTABLE.items():
        for descending in (False, True):
            statement = live_page(leads, field, key, descending=descending, after=False)
            direct, through_sqlalchemy = await _both(database, statement, {"_ws": ws, "_limit": 50})
            assert direct and _typed(direct) == _typed(through_sqlalchemy), field
    direct, through_sqlalchemy = await _both(database, select_by_id(leads), {"_ws": ws, "_id": uuid.UUID(ids[0])})
    assert len(direct) == 1 and _typed(direct) == _typed(through_sqlalchemy)
    lead = direct[0]
    assert isinstance(lead["tags"], list) and isinstance(lead["custom_fields"], dict)
    assert lead["created_at"].utcoffset().total_seconds() == 0


@pytest.mark.parametrize("table", [leads, accounts, tasks], ids=lambda t: t.name)
async def test_the_core_tables_are_read_through_the_driver(database: Database, table: Any) -> None:
    """Every column of the core resources is of a type whose driver value is the column's result, so
    their pages and reads by id skip SQLAlchemy's machinery on PostgreSQL."""
    if database.is_sqlite:
        pytest.skip("SQLite reads go through SQLAlchemy")
    assert positional._compiled(select_by_id(table), database.engine.dialect) is not None


async def test_a_column_that_needs_processing_keeps_sqlalchemys_path(database: Database) -> None:
    from sqlalchemy import Column, Numeric, Table, select

    shadow = Table("leads", metadata.__class__(), Column("score", Numeric(asdecimal=False)))
    assert positional._compiled(select(shadow), database.engine.dialect) is None


async def _walk(tenant: Tenant, params: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = await tenant.get("/v1/leads", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        seen += [row["id"] for row in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return seen


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "updated_at", "-score", "score", "-last_activity_at"])
async def test_unfiltered_pages_are_the_filtered_paths_pages(tenant: Tenant, sort: str) -> None:
    ids = await _seed(tenant)
    unfiltered = await _walk(tenant, {"sort": sort})
    # score_min=0 matches every lead but builds the statement per request, as any filter does
    assert unfiltered == await _walk(tenant, {"sort": sort, "score_min": 0})
    assert ids[5] not in unfiltered  # archived leads are not listed
    expected = 6 if sort.lstrip("-") != "last_activity_at" else 2  # leads without activity cannot be placed
    assert len(unfiltered) == len(set(unfiltered)) == expected
    full = (await tenant.get("/v1/leads", params={"sort": sort})).json()["data"]
    assert [row["id"] for row in full] == unfiltered


async def test_a_cursor_without_a_time_offset_is_refused(tenant: Tenant) -> None:
    await _seed(tenant)
    page = (await tenant.get("/v1/leads", params={"limit": 2})).json()
    raw = json.loads(base64.urlsafe_b64decode(page["next_cursor"] + "=="))
    forged = json.dumps({**raw, "v": raw["v"][:26]}).encode()  # the same time, its offset cut off
    assert raw["v"][26:] == "+00:00"
    cursor = base64.urlsafe_b64encode(forged).decode().rstrip("=")
    assert_problem(await tenant.get("/v1/leads", params={"limit": 2, "cursor": cursor}), 422, "cursor")
