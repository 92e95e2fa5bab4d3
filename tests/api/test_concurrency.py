"""Versions under concurrent writers, through HTTP: If-Match guards deletes as it guards updates,
and writers that name no version all apply, one after the other."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Tenant, assert_problem


async def _lead(tenant: Tenant, email: str) -> dict[str, Any]:
    response = await tenant.post("/v1/leads", json={"email": email, "first_name": "Ada"})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_stale_if_match_on_delete_is_412_and_changes_nothing(tenant: Tenant) -> None:
    lead = await _lead(tenant, "stale@example.com")
    endpoint = (await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/a"})).json()
    team = (await tenant.post("/v1/teams", json={"name": "Inside sales"})).json()
    for path, change in (
        (f"/v1/leads/{lead['id']}", {"first_name": "Grace"}),
        (f"/v1/webhook-endpoints/{endpoint['id']}", {"description": "orders feed"}),
        (f"/v1/teams/{team['id']}", {"name": "Field sales"}),
    ):
        changed = await tenant.patch(path, json=change)
        assert changed.status_code == 200 and changed.json()["version"] == 2, changed.text
        for stale in ('"1"', '"1", "3"', 'W/"2"'):  # an old version; none of the current; weak never matches
            assert_problem(await tenant.delete(path, headers={"If-Match": stale}), 412)
        current = await tenant.get(path)
        assert current.status_code == 200 and current.json()["version"] == 2, path
        assert current.json().get("archived_at") is None and current.json().get("deleted_at") is None
        deleted = await tenant.delete(path, headers={"If-Match": '"2"'})
        assert deleted.status_code == 200 and deleted.json()["version"] == 3, deleted.text
    assert (await tenant.get("/v1/leads", params={"archived": True})).json()["data"][0]["id"] == lead["id"]
    assert (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}")).status_code == 404


async def test_concurrent_patches_without_if_match_all_apply(tenant: Tenant, backend: str) -> None:
    """Each PATCH changes its own field and names no version: whichever writes second finds the row
    changed under it and applies on top of it (not a 409). Every change is kept and every answer
    has its own version."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: its writes never race")
    fields = {"first_name": "Grace", "last_name": "Hopper", "company": "Navy", "job_title": "Rear admiral"}
    for round_ in range(5):  # the race is real: repeated, so a lost one would show
        lead = await _lead(tenant, f"race{round_}@example.com")
        path = f"/v1/leads/{lead['id']}"
        pairs = list(fields.items())
        for first, second in (pairs[0:2], pairs[2:4]):
            answers = await asyncio.gather(
                tenant.patch(path, json=dict([first])), tenant.patch(path, json=dict([second]))
            )
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        stored = (await tenant.get(path)).json()
        assert {k: stored[k] for k in fields} == fields  # no update lost
        assert stored["version"] == 1 + len(fields)
        versions = (await tenant.get("/v1/events", params={"resource_id": lead["id"], "type": "lead.updated"})).json()
        seen = sorted(e["data"]["version"] for e in versions["data"])
        assert seen == list(range(2, 2 + len(fields)))  # one event per change, no version twice


async def test_concurrent_first_writes_of_a_settings_section_both_apply(tenant: Tenant, backend: str) -> None:
    """A section never written has no row: both writers insert, one insert finds the other's row and
    runs again as an update of it."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: its writes never race")
    answers = await asyncio.gather(
        tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": 48}),
        tenant.patch("/v1/settings/retention", json={"webhook_response_excerpt_days": 7}),
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert sorted(a.json()["version"] for a in answers) == [1, 2]
    stored = (await tenant.get("/v1/settings/retention")).json()
    assert (stored["idempotency_key_hours"], stored["webhook_response_excerpt_days"], stored["version"]) == (48, 7, 2)
