"""The audit log through HTTP on both databases: an entry per write (and per CSV export) with who,
what, when and from where, secrets and personal values masked; filters and keyset pages; the
chain the worker stamps, which finds an entry changed or removed in the database and survives
erasure and retention; no route changes or deletes an entry; one workspace never sees another's."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import delete, func, select, update

from app.config import Settings
from app.db import tables
from app.db.repositories.audit import audit as audit_repository
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.services.audit import audit
from app.services.audit.chain import stamp
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.worker import recurring
from app.worker.runner import Worker
from tests.conftest import Tenant, assert_problem

t = tables.audit_log


async def chained(database: Database) -> None:
    """The worker's stamping, until nothing waits (other tests' entries included)."""
    while await stamp(database):
        pass


async def entries(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = await tenant.get("/v1/audit-log", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def verify(tenant: Tenant) -> dict[str, Any]:
    response = await tenant.get("/v1/audit-log/verify")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def default_key_id(tenant: Tenant) -> str:
    keys = (await tenant.get("/v1/api-keys")).json()["data"]
    return str(next(k["id"] for k in keys if k["name"] == "Default secret key"))


async def service(database: Database, tenant: Tenant, days_ahead: float = 0) -> tuple[UnitOfWork, Context]:
    uow = UnitOfWork(database)
    now = utcnow() + timedelta(days=days_ahead)
    return uow, Context(uow, UUID(tenant.id), SYSTEM, now, scopes=SERVICE_SCOPES)


async def alter(database: Database, entry_id: str, **values: Any) -> None:
    """Change an entry (or its stamp: `seq`, `chain_hash`) behind the API's back, as someone with
    the database's password could."""
    stamp_values = {k: values.pop(k) for k in ("seq", "chain_hash") if k in values}
    async with database.engine.begin() as conn:
        if values:
            await conn.execute(update(t).where(t.c.id == UUID(entry_id)).values(**values))
        if stamp_values:
            stamps = tables.audit_stamps
            await conn.execute(update(stamps).where(stamps.c.entry_id == UUID(entry_id)).values(**stamp_values))


# -- what an entry records ----------------------------------------------------------------------------


async def test_a_lead_created_and_changed_is_audited_with_who_what_when_and_where(tenant: Tenant) -> None:
    headers = {"User-Agent": "crm-tests/1.0", "X-Request-ID": "req-create-1"}
    lead = (
        await tenant.post("/v1/leads", json={"email": "sara@example.com", "company": "Acme"}, headers=headers)
    ).json()
    await tenant.patch(
        f"/v1/leads/{lead['id']}",
        json={"email": "sara@acme.example", "company": "Acme Ltd"},
        headers={"X-Request-ID": "req-2"},
    )

    created, changed = sorted(await entries(tenant, resource="leads"), key=lambda e: e["occurred_at"])
    assert created["action"] == "create" and created["resource_id"] == lead["id"]
    assert created["route"] == "POST /v1/leads"
    assert created["key_id"] == await default_key_id(tenant) and created["member_id"] is None
    assert created["actor"] == {"type": "api_key", "id": created["key_id"]}
    assert created["ip"] == "127.0.0.1" and created["user_agent"] == "crm-tests/1.0"
    assert created["request_id"] == "req-create-1"
    assert created["changes"] is None and created["personal"] is None  # a creation's values are in its event
    assert created["seq"] is None and created["chain_hash"] is None  # the worker has not chained it yet

    assert changed["action"] == "update" and changed["route"] == "PATCH /v1/leads/{lead_id}"
    assert changed["request_id"] == "req-2"
    assert changed["changes"]["company"] == {"before": "***", "after": "***"}  # a lead's: personal
    assert changed["changes"]["email"] == {"before": "***", "after": "***"}  # personal: kept apart
    assert changed["personal"]["changes.company.after"] == "Acme Ltd"
    assert changed["personal"]["changes.email.before"] == "sara@example.com"
    assert changed["personal"]["changes.email.after"] == "sara@acme.example"
    assert "sara@" not in json.dumps(changed["changes"])
    assert (await tenant.get(f"/v1/audit-log/{changed['id']}")).json() == changed


async def test_an_id_spelled_in_upper_case_is_recorded_canonical(tenant: Tenant, database: Database) -> None:
    lead = (await tenant.post("/v1/leads", json={"email": "upper@example.com", "company": "Acme"})).json()
    patched = await tenant.patch(f"/v1/leads/{lead['id'].upper()}", json={"email": "upper2@example.com"})
    assert patched.status_code == 200, patched.text

    [changed] = await entries(tenant, action="update")
    assert changed["resource_id"] == lead["id"]  # as the events and the API name it
    assert changed["changes"]["email"] == {"before": "***", "after": "***"}
    assert [e["id"] for e in await entries(tenant, resource_id=lead["id"].upper(), action="update")] == [changed["id"]]
    uow, ctx = await service(database, tenant)
    async with uow:
        assert await audit.erase_personal(ctx, "leads", lead["id"]) == 1
        await uow.commit()
    assert (await tenant.get(f"/v1/audit-log/{changed['id']}")).json()["personal"] is None


async def test_a_write_that_flushes_its_events_early_still_records_its_changes(tenant: Tenant) -> None:
    lead = (await tenant.post("/v1/leads", json={"email": "merge@example.com", "tags": ["expo"]})).json()
    # A merge writes its rows and events before its commit (a racing request's key is refused there).
    merged = await tenant.post(
        "/v1/leads", params={"on_duplicate": "merge"}, json={"email": "merge@example.com", "job_title": "Owner"}
    )
    assert merged.status_code in (200, 201), merged.text
    assert merged.json()["id"] == lead["id"]

    latest = (await entries(tenant, resource_id=lead["id"]))[0]
    assert latest["changes"] is not None and latest["changes"]["job_title"] == {"before": None, "after": "***"}
    assert latest["personal"]["changes.job_title.after"] == "Owner"


async def test_a_key_made_and_revoked_is_audited_once_each_and_its_secret_never(tenant: Tenant) -> None:
    made = await tenant.post(
        "/v1/api-keys", json={"name": "Reporting", "scopes": ["leads:read"]}, headers={"X-Request-ID": "make-key"}
    )
    key, key_id = made.json()["key"], made.json()["id"]
    await tenant.delete(f"/v1/api-keys/{key_id}", headers={"X-Request-ID": "revoke-key"})

    [created] = await entries(tenant, resource="api_keys", action="create")
    assert created["resource_id"] == key_id and created["request_id"] == "make-key"
    assert created["changes"]["key"] == {"before": None, "after": "***"}
    assert created["changes"]["scopes"] == {"before": None, "after": ["leads:read"]}
    assert created["changes"]["name"] == {"before": None, "after": "Reporting"}
    [revoked] = await entries(tenant, resource="api_keys", action="revoke")
    assert revoked["resource_id"] == key_id and revoked["route"] == "DELETE /v1/api-keys/{key_id}"
    assert revoked["changes"]["revoked_at"]["before"] is None and revoked["changes"]["revoked_at"]["after"]
    # one entry a request: the use case's own, not the route's as well
    assert [e["action"] for e in await entries(tenant, resource="api_keys")] == ["revoke", "create"]
    everything = json.dumps(await entries(tenant))
    assert key not in everything and key[3:] not in everything


async def test_a_settings_change_shows_each_field_before_and_after(tenant: Tenant) -> None:
    assert (await tenant.get("/v1/settings/retention")).json()["audit_log_days"] == 730
    await tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": 48, "audit_log_days": 365})
    await tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": 48})  # no change: still audited

    changed, unchanged = await entries(tenant, resource="settings", sort="occurred_at")
    assert changed["resource_id"] == "retention" and changed["action"] == "update"
    assert changed["route"] == "PATCH /v1/settings/retention"
    assert changed["changes"] == {
        "idempotency_key_hours": {"before": 24, "after": 48},
        "audit_log_days": {"before": 730, "after": 365},
    }
    assert unchanged["resource_id"] == "retention" and unchanged["changes"] is None
    assert_problem(await tenant.patch("/v1/settings/retention", json={"audit_log_days": 0}), 422, "audit_log_days")
    # Strict: `true` or "30" is a mistake to answer, not a number of days for the purge to act on.
    for wrong in (True, "30", 30.0):
        response = await tenant.patch("/v1/settings/retention", json={"audit_log_days": wrong})
        assert_problem(response, 422, "audit_log_days")
    assert (await tenant.get("/v1/settings/retention")).json()["audit_log_days"] == 365


async def test_a_csv_export_is_a_sensitive_read_and_audited(tenant: Tenant) -> None:
    await tenant.post("/v1/leads", json={"email": "reza@example.com"})
    assert (await tenant.get("/v1/leads")).status_code == 200  # a plain read: not audited
    response = await tenant.get("/v1/exports/leads.csv", params={"q": "reza", "status": "new"})
    assert response.status_code == 200 and "reza@example.com" in response.text

    [exported] = await entries(tenant, action="export")
    assert exported["resource"] == "leads" and exported["route"] == "GET /v1/exports/leads.csv"
    assert exported["detail"] == {"filters": {"q": "***", "status": "new"}}  # a search is personal
    assert exported["personal"] == {"detail.filters.q": "reza"}
    assert [e["action"] for e in await entries(tenant)] == ["export", "create"]


async def test_an_export_by_custom_field_keeps_its_value_only_where_erasure_reaches(tenant: Tenant) -> None:
    await tenant.post("/v1/custom-fields", json={"key": "plan", "label": "Plan", "type": "text"})
    body = {"key": "religion", "label": "Religion", "type": "text", "sensitive": True}
    assert (await tenant.post("/v1/custom-fields", json=body)).status_code == 201
    await tenant.post("/v1/leads", json={"email": "cf@example.com", "custom_fields": {"plan": "gold"}})
    response = await tenant.get("/v1/exports/leads.csv", params={"cf.plan": "gold", "cf.religion": "Baha'i"})
    assert response.status_code == 200, response.text

    [exported] = await entries(tenant, action="export")
    assert exported["detail"] == {"filters": {"cf.plan": "***", "cf.religion": "***"}}
    assert exported["personal"] == {"detail.filters.cf.plan": "gold"}  # erasable; the sensitive value nowhere
    assert "Baha" not in json.dumps(await entries(tenant))


async def test_a_failed_write_and_a_replay_leave_no_entry(tenant: Tenant) -> None:
    assert_problem(await tenant.post("/v1/leads", json={"email": "not an email"}), 422, "email")
    once = {"Idempotency-Key": "lead-1"}
    first = await tenant.post("/v1/leads", json={"email": "once@example.com"}, headers=once)
    replay = await tenant.post("/v1/leads", json={"email": "once@example.com"}, headers=once)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert [e["resource_id"] for e in await entries(tenant)] == [first.json()["id"]]


async def test_public_form_posts_are_not_audited(tenant: Tenant) -> None:
    form = (await tenant.post("/v1/forms", json={"name": "Contact"})).json()
    posted = await tenant.post(
        f"/v1/forms/{form['id']}/submissions", json={"email": "visitor@example.com"}, key=tenant.publishable_key
    )
    assert posted.status_code == 201, posted.text
    assert [e["resource"] for e in await entries(tenant)] == ["forms"]  # the form's creation only


# -- reading ------------------------------------------------------------------------------------------


async def test_filters_and_keyset_pages(tenant: Tenant) -> None:
    member = (await tenant.post("/v1/members", json={"name": "Sara", "email": "sara@team.example"})).json()
    bound = await tenant.key_with("leads:write", member_id=member["id"])
    start = utcnow()
    ids = [(await tenant.post("/v1/leads", json={"email": f"l{n}@x.io"}, key=bound)).json()["id"] for n in range(5)]
    await tenant.patch(f"/v1/leads/{ids[0]}", json={"company": "Acme"})

    by_member = await entries(tenant, member_id=member["id"])
    assert [e["resource_id"] for e in by_member] == ids[::-1]  # newest first
    assert {e["actor"]["type"] for e in by_member} == {"member"}
    key_id = by_member[0]["key_id"]
    assert len(await entries(tenant, key_id=key_id)) == 5
    assert [e["action"] for e in await entries(tenant, resource="leads", action="update")] == ["update"]
    assert len(await entries(tenant, resource="leads", occurred_after=start.isoformat())) == 6
    assert await entries(tenant, resource="leads", occurred_before=start.isoformat()) == []
    assert [e["resource"] for e in await entries(tenant, resource_id=ids[0])] == ["leads", "leads"]

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"resource": "leads", "limit": 2, "sort": "occurred_at"}
        if cursor:
            params["cursor"] = cursor
        page = (await tenant.get("/v1/audit-log", params=params)).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 6 == len(set(seen))
    assert [e["id"] for e in await entries(tenant, resource="leads", sort="occurred_at")] == seen
    assert_problem(await tenant.get("/v1/audit-log", params={"member_id": "nope"}), 422, "member_id")
    assert_problem(await tenant.get("/v1/audit-log", params={"cursor": "garbage"}), 422, "cursor")
    assert_problem(await tenant.get("/v1/audit-log", params={"sort": "action"}), 422, "sort")


async def test_reading_the_log_needs_audit_read(tenant: Tenant) -> None:
    leads_only = await tenant.key_with("leads:write")
    assert_problem(await tenant.get("/v1/audit-log", key=leads_only), 403)
    assert_problem(await tenant.get("/v1/audit-log/verify", key=leads_only), 403)
    auditor = await tenant.key_with("audit:read")
    assert (await tenant.get("/v1/audit-log", key=auditor)).status_code == 200
    assert (await tenant.get("/v1/audit-log/verify", key=auditor)).status_code == 200
    assert_problem(await tenant.post("/v1/api-keys", json={"name": "w", "scopes": ["audit:write"]}), 422, "scopes.0")


async def test_no_route_changes_or_deletes_an_entry(tenant: Tenant) -> None:
    await tenant.post("/v1/leads", json={"email": "kept@example.com"})
    [entry] = await entries(tenant)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert_problem(await tenant.request(method, "/v1/audit-log", json={}), 405)
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert_problem(await tenant.request(method, f"/v1/audit-log/{entry['id']}", json={"action": "x"}), 405)
    assert await entries(tenant) == [entry]


async def test_another_workspace_sees_none_of_the_entries(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    await tenant.post("/v1/leads", json={"email": "mine@example.com"})
    [mine] = await entries(tenant)
    await chained(database)
    assert await entries(other_tenant) == []
    assert_problem(await other_tenant.get(f"/v1/audit-log/{mine['id']}"), 404)
    assert await entries(other_tenant, resource_id=mine["resource_id"]) == []
    assert (await verify(other_tenant))["checked"] == 0
    assert (await verify(tenant))["checked"] == 1


# -- the chain ----------------------------------------------------------------------------------------


async def make_entries(tenant: Tenant, count: int) -> list[str]:
    for n in range(count):
        await tenant.post("/v1/leads", json={"email": f"chain{n}@example.com"})
    return [e["id"] for e in await entries(tenant, sort="occurred_at")]


async def test_the_worker_chains_entries_and_verify_holds(tenant: Tenant, database: Database) -> None:
    assert await verify(tenant) == {
        "ok": True, "checked": 0, "first_break": None, "anchor_seq": 0, "last_seq": None, "last_chain_hash": None
    }  # fmt: skip
    ids = await make_entries(tenant, 3)
    assert (await verify(tenant))["checked"] == 0  # not chained yet: no break either
    await chained(database)
    listed = await entries(tenant, sort="occurred_at")
    assert [e["seq"] for e in listed] == [1, 2, 3] and [e["id"] for e in listed] == ids
    result = await verify(tenant)
    assert result["ok"] and result["checked"] == 3 and result["first_break"] is None
    assert result["last_seq"] == 3 and result["last_chain_hash"] == listed[-1]["chain_hash"]
    await tenant.post("/v1/leads", json={"email": "later@example.com"})  # an unchained tail is no break
    assert (await verify(tenant))["checked"] == 3


async def test_the_running_worker_chains_new_entries(tenant: Tenant, database: Database) -> None:
    settings = Settings(database_url=database.settings.database_url, worker_poll_seconds=0.05, worker_analyze_seconds=0)
    worker = Worker(database, settings)
    running = asyncio.create_task(worker.run())
    try:
        await tenant.post("/v1/leads", json={"email": "worker@example.com"})
        deadline = time.monotonic() + 20
        while (await entries(tenant))[0]["seq"] is None:
            assert time.monotonic() < deadline, "not chained"
            await asyncio.sleep(0.05)
        assert (await verify(tenant))["checked"] == 1
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)


async def test_an_entry_altered_in_the_database_is_found(tenant: Tenant, database: Database) -> None:
    ids = await make_entries(tenant, 4)
    await chained(database)
    await alter(database, ids[1], action="read")
    result = await verify(tenant)
    assert result == {**result, "ok": False, "first_break": ids[1], "checked": 1}


async def test_a_chain_hash_rewritten_or_a_diff_changed_is_found(tenant: Tenant, database: Database) -> None:
    ids = await make_entries(tenant, 3)
    await tenant.patch(f"/v1/leads/{(await entries(tenant))[0]['resource_id']}", json={"company": "Before"})
    await chained(database)
    patched = (await entries(tenant, action="update"))[0]
    await alter(database, patched["id"], changes={"company": {"before": None, "after": "Forged"}})
    assert (await verify(tenant))["first_break"] == patched["id"]
    await alter(database, patched["id"], changes=patched["changes"])
    assert (await verify(tenant))["ok"]
    await alter(database, ids[0], chain_hash="0" * 64)
    assert (await verify(tenant))["first_break"] == ids[0]


async def test_a_removed_entry_is_found_in_the_middle_and_at_the_end(tenant: Tenant, database: Database) -> None:
    ids = await make_entries(tenant, 4)
    await chained(database)
    async with database.engine.begin() as conn:
        await conn.execute(delete(t).where(t.c.id == UUID(ids[3])))  # the last one
    assert (await verify(tenant))["first_break"] == ids[3]
    async with database.engine.begin() as conn:
        await conn.execute(delete(t).where(t.c.id == UUID(ids[1])))
    assert (await verify(tenant))["first_break"] == ids[2]  # follows a missing entry


async def test_erasing_personal_values_keeps_the_chain(tenant: Tenant, database: Database) -> None:
    lead = (await tenant.post("/v1/leads", json={"email": "erase@example.com"})).json()
    await tenant.patch(f"/v1/leads/{lead['id']}", json={"email": "erase2@example.com", "first_name": "Nima"})
    await tenant.get("/v1/exports/leads.csv", params={"q": "Nima"})
    await chained(database)
    [changed] = await entries(tenant, action="update")
    assert changed["personal"]["changes.first_name.after"] == "Nima"

    uow, ctx = await service(database, tenant)
    async with uow:
        assert await audit.erase_personal(ctx, "leads", lead["id"]) == 1
        await uow.commit()
    assert (await tenant.get(f"/v1/audit-log/{changed['id']}")).json()["personal"] is None
    assert (await verify(tenant))["ok"]

    [exported] = await entries(tenant, action="export")
    await alter(database, exported["id"], personal=None)  # nulled directly in the database: no break either
    async with database.engine.connect() as conn:
        assert (await conn.execute(select(t.c.personal).where(t.c.id == UUID(exported["id"])))).scalar() is None
    result = await verify(tenant)
    assert result["ok"] and result["checked"] == 3

    # Personal values changed rather than erased are a break.
    await tenant.patch(f"/v1/leads/{lead['id']}", json={"email": "erase3@example.com"})
    await chained(database)
    latest = (await entries(tenant, action="update"))[0]
    await alter(database, latest["id"], personal={"salt": "00", "values": {"changes.email.after": "forged@x.io"}})
    assert (await verify(tenant))["first_break"] == latest["id"]


async def test_a_lead_anonymised_by_retention_leaves_no_personal_values_in_the_log(
    tenant: Tenant, database: Database
) -> None:
    from tests.api.test_data_retention import _archived, _move_back, _nightly

    assert (await tenant.patch("/v1/settings/retention", json={"archived_lead_days": 30})).status_code == 200
    kept = (await tenant.post("/v1/leads", json={"email": "kept@example.com"})).json()
    await tenant.patch(f"/v1/leads/{kept['id']}", json={"email": "kept2@example.com"})
    lead_id = (await tenant.post("/v1/leads", json={"email": "gone@example.com"})).json()["id"]
    changed = await tenant.patch(
        f"/v1/leads/{lead_id}",
        json={"email": "gone2@example.com", "company": "Karimi & Sons", "job_title": "Owner", "city": "Tehran"},
    )
    assert changed.status_code == 200, changed.text
    [entry] = await entries(tenant, resource_id=lead_id, action="update")
    assert entry["personal"]["changes.company.after"] == "Karimi & Sons"
    assert entry["changes"]["city"] == {"before": None, "after": "***"}  # a lead's identifying fields
    assert "Tehran" not in json.dumps(entry["changes"]) and "Owner" not in json.dumps(entry["changes"])
    archived = await _archived(tenant, "archived@example.com")
    await tenant.delete(f"/v1/leads/{lead_id}")
    for old in (lead_id, archived["id"]):
        await _move_back(database, tables.leads, "archived_at", old, 31)
    await chained(database)

    assert (await _nightly(database, tenant, utcnow()))["result"]["archived_leads"]["removed"] == 2
    for old in (lead_id, archived["id"]):
        assert all(e["personal"] is None for e in await entries(tenant, resource_id=old))
    assert (await tenant.get(f"/v1/audit-log/{entry['id']}")).json()["changes"] == entry["changes"]
    [kept_entry] = await entries(tenant, resource_id=kept["id"], action="update")
    assert kept_entry["personal"]["changes.email.after"] == "kept2@example.com"  # not archived: untouched
    await chained(database)
    assert (await verify(tenant))["ok"]


async def test_retention_purges_from_the_start_of_the_chain_and_verify_starts_at_the_anchor(
    tenant: Tenant, database: Database
) -> None:
    old = await make_entries(tenant, 3)
    await chained(database)
    cut = utcnow()
    await make_entries(tenant, 2)
    await chained(database)
    listed = await entries(tenant, sort="occurred_at")

    uow, ctx = await service(database, tenant)
    async with uow:
        assert await audit.purge(ctx, cut) == 3
        await uow.commit()
    remaining = await entries(tenant, sort="occurred_at")
    assert [e["id"] for e in remaining] == [e["id"] for e in listed[3:]]
    assert not {e["id"] for e in remaining} & set(old)
    result = await verify(tenant)
    assert result["ok"] and result["checked"] == 2 and result["anchor_seq"] == 3
    uow, ctx = await service(database, tenant)
    async with uow:
        assert await audit.purge(ctx, cut) == 0  # nothing older left
        await uow.commit()

    # The nightly task, by the retention setting: two days ahead with one day kept, everything goes.
    await tenant.patch("/v1/settings/retention", json={"audit_log_days": 1})
    await chained(database)
    uow, ctx = await service(database, tenant, days_ahead=2)
    async with uow:
        assert await recurring.purge_audit_log(ctx) == 3  # the two leads and the settings change
        await uow.commit()
    assert await entries(tenant) == []
    result = await verify(tenant)
    assert result["ok"] and result["checked"] == 0 and result["anchor_seq"] == 6

    await make_entries(tenant, 2)  # the chain goes on from the anchor
    await chained(database)
    assert [e["seq"] for e in await entries(tenant, sort="occurred_at")] == [7, 8]
    result = await verify(tenant)
    assert result["ok"] and result["checked"] == 2
    first = (await entries(tenant, sort="occurred_at"))[0]
    await alter(database, first["id"], resource_id="someone-else")
    assert (await verify(tenant))["first_break"] == first["id"]


async def test_a_purge_deletes_in_bounded_pages_and_leaves_the_anchor_at_the_last(
    tenant: Tenant, database: Database, monkeypatch: Any
) -> None:
    await make_entries(tenant, 5)
    await chained(database)
    cut = utcnow()
    await make_entries(tenant, 1)
    await chained(database)
    listed = await entries(tenant, sort="occurred_at")
    statements: list[str] = []
    purge_through = audit_repository.AuditRepository.purge_through

    async def counted(self: Any, seq: int, *args: Any, **kwargs: Any) -> int:
        statements.append(f"{kwargs['after_seq']}..{seq}")
        return await purge_through(self, seq, *args, **kwargs)

    monkeypatch.setattr(audit_repository.AuditRepository, "purge_through", counted)
    uow, ctx = await service(database, tenant)
    async with uow:
        assert await audit.purge(ctx, cut, page=2) == 5
        await uow.commit()
    assert statements == ["0..2", "2..4", "4..5"]  # two seqs a statement, from the anchor up
    assert [e["id"] for e in await entries(tenant)] == [listed[-1]["id"]]
    result = await verify(tenant)
    assert result["ok"] and result["checked"] == 1 and result["anchor_seq"] == 5


async def test_the_log_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths["/v1/audit-log"]) == {"get"}
    assert set(paths["/v1/audit-log/verify"]) == {"get"}
    assert set(paths["/v1/audit-log/{entry_id}"]) == {"get"}


async def test_a_queued_entry_of_a_workspace_that_is_gone_never_stops_the_chain(
    tenant: Tenant, database: Database
) -> None:
    """The stamping queue has no foreign key: a row left by a workspace removed behind the API's back
    is forgotten, and everyone else's entries are chained as usual."""
    from uuid import uuid4

    async with database.engine.begin() as conn:
        await conn.execute(tables.audit_queue.insert().values(workspace_id=uuid4(), id=uuid4(), digest="0" * 64))
    ids = await make_entries(tenant, 2)
    await chained(database)
    assert [e["seq"] for e in await entries(tenant, sort="occurred_at")] == [1, 2]
    assert [e["id"] for e in await entries(tenant, sort="occurred_at")] == ids
    async with database.engine.connect() as conn:
        left = (await conn.execute(select(func.count()).select_from(tables.audit_queue))).scalar_one()
    assert left == 0
    assert (await verify(tenant))["ok"]
