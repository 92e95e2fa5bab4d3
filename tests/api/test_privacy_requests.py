"""Privacy requests through HTTP on both databases: an export gathers the person's records by
every identity key; an erasure (and its dry run) leaves tombstones, hashed `erased` suppressions
and `erasure.completed`; a later capture of the same address is a new person."""

from __future__ import annotations

import json
from uuid import UUID

from sqlalchemy import select

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from tests.api.test_analytics import run_jobs
from tests.conftest import Tenant, assert_problem, drain_dispatch


async def _lead(tenant: Tenant, **fields: object) -> dict:
    body = {"first_name": "Sara", "last_name": "Karimi", "email": "Sara.Karimi@Example.com", "phone": "+989121112233",
            "source": "other", **fields}  # fmt: skip
    answer = await tenant.post("/v1/leads", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_an_export_gathers_the_person_by_every_key(tenant: Tenant, database: Database) -> None:
    lead = await _lead(tenant)
    note = await tenant.post("/v1/activities", json={"lead_id": lead["id"], "type": "note", "notes": "Sara called"})
    assert note.status_code == 201, note.text
    other = await _lead(tenant, email="someone@example.com", phone="+989127778899", first_name="Other")
    answer = await tenant.post("/v1/privacy/exports", json={"email": "sara.karimi@example.com"})
    assert answer.status_code == 202, answer.text
    request = answer.json()
    assert request["status"] == "pending" and request["job_id"]
    assert request["matched"] == [{"resource": "leads", "id": lead["id"], "keys": ["email"]}]
    assert "sara" not in json.dumps(request).lower()  # keyed digests only
    assert_problem(await tenant.get(f"/v1/privacy/exports/{request['id']}/download"), 409)
    await drain_dispatch(database)
    await run_jobs(database)
    done = (await tenant.get(f"/v1/privacy/exports/{request['id']}")).json()
    assert done["status"] == "ready" and done["expires_at"] and done["document_bytes"] > 0, done
    download = await tenant.get(f"/v1/privacy/exports/{request['id']}/download")
    assert download.status_code == 200 and download.headers["content-type"].startswith("application/json")
    document = download.json()
    resources = document["resources"]
    assert [r["id"] for r in resources["leads"]] == [lead["id"]]
    assert [r["id"] for r in resources["activities"]] == [note.json()["id"]]
    assert any(e["resource_id"] == lead["id"] and e["type"] == "lead.created" for e in resources["events"])
    assert other["id"] not in download.text
    # the download is audited
    entries = (await tenant.get("/v1/audit-log", params={"resource": "privacy_exports"})).json()["data"]
    assert {e["action"] for e in entries} >= {"create", "download"}
    # by phone too, in national form
    by_phone = (await tenant.post("/v1/privacy/exports", json={"phone": "+98 912 111 2233"})).json()
    assert by_phone["matched"][0]["keys"] == ["phone"]


async def test_an_erasure_leaves_tombstones_and_hashed_suppressions(tenant: Tenant, database: Database) -> None:
    lead = await _lead(tenant)
    await tenant.post(
        "/v1/activities", json={"lead_id": lead["id"], "type": "note", "notes": "Karimi asked for a quote"}
    )
    dry = await tenant.post("/v1/privacy/erasures?dry_run=true", json={"lead_id": lead["id"], "reason": "asked"})
    assert dry.status_code == 200, dry.text
    counts = dry.json()["counts"]
    assert dry.json()["id"] is None and dry.json()["dry_run"] is True
    assert counts["leads"] == 1 and counts["activities"] == 1 and counts["suppressions"] == 3, counts
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["email"] == "Sara.Karimi@example.com"
    assert_problem(await tenant.post("/v1/privacy/erasures", json={"lead_id": lead["id"]}), 422, "reason")
    answer = await tenant.post("/v1/privacy/erasures", json={"lead_id": lead["id"], "reason": "asked"})
    assert answer.status_code == 202, answer.text
    await drain_dispatch(database)
    await run_jobs(database)
    await drain_dispatch(database)
    done = (await tenant.get(f"/v1/privacy/erasures/{answer.json()['id']}")).json()
    assert done["status"] == "completed", done
    assert done["counts"]["leads"] == 1 and done["counts"]["suppressions"] == 3
    erased = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    assert erased["email"] is None and erased["first_name"] is None and erased["erased_at"] is not None
    activity = (await tenant.get("/v1/activities", params={"lead_id": lead["id"]})).json()["data"][0]
    assert "Karimi" not in json.dumps(activity) and "[erased]" in activity["notes"]
    async with UnitOfWork(database, write=False) as uow:
        sp = tables.suppressions
        rows = (await uow.execute(select(sp).where(sp.c.workspace_id == UUID(tenant.id)))).mappings().all()
    assert sorted(r["channel"] for r in rows) == ["email", "sms", "whatsapp"]
    assert all(r["address"] is None and r["reason"] == "erased" for r in rows)
    completed = (await tenant.get("/v1/events", params={"type": "erasure.completed"})).json()["data"]
    assert completed and completed[0]["data"]["id"] == answer.json()["id"]
    assert "sara" not in json.dumps(completed).lower()
    # a second request finds no one by the email any more, and changes nothing
    again = await tenant.post(
        "/v1/privacy/erasures?dry_run=true", json={"email": "sara.karimi@example.com", "reason": "x"}
    )
    assert again.json()["matched"] == [] and again.json()["counts"] == {}
    # the same address captured again is a new person
    new = await _lead(tenant)
    assert new["id"] != lead["id"]


async def test_scopes_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    lead = await _lead(tenant)
    request = (await tenant.post("/v1/privacy/exports", json={"lead_id": lead["id"]})).json()
    key = await tenant.key_with("leads:read", "leads:write")
    assert (await tenant.post("/v1/privacy/exports", json={"lead_id": lead["id"]}, key=key)).status_code == 403
    assert (
        await tenant.post("/v1/privacy/erasures", json={"lead_id": lead["id"], "reason": "r"}, key=key)
    ).status_code == 403
    assert (await tenant.get(f"/v1/privacy/exports/{request['id']}", key=key)).status_code == 403
    assert (await other_tenant.get(f"/v1/privacy/exports/{request['id']}")).status_code == 404
    assert (await other_tenant.get(f"/v1/privacy/exports/{request['id']}/download")).status_code == 404
    # another workspace's lead id matches nothing there
    theirs = (await other_tenant.post("/v1/privacy/exports", json={"lead_id": lead["id"]})).json()
    assert theirs["matched"] == []
    assert_problem(await tenant.post("/v1/privacy/exports", json={}), 422, "email")
    assert_problem(await tenant.post("/v1/privacy/exports", json={"email": "not-an-email"}), 422, "email")
    assert_problem(await tenant.post("/v1/privacy/exports", json={"phone": "12"}), 422, "phone")


async def test_an_export_expires_and_the_nightly_pass_purges_it(tenant: Tenant, database: Database) -> None:
    from datetime import timedelta

    from tests.api.test_data_retention import _nightly

    lead = await _lead(tenant)
    request = (await tenant.post("/v1/privacy/exports", json={"lead_id": lead["id"]})).json()
    await run_jobs(database)
    ready = (await tenant.get(f"/v1/privacy/exports/{request['id']}")).json()
    assert ready["status"] == "ready"
    assert (await tenant.get(f"/v1/privacy/exports/{request['id']}/download")).status_code == 200
    # a night before it expires keeps it; the night after, it is gone
    from app.ids import utcnow

    early = await _nightly(database, tenant, utcnow())
    assert early["result"]["privacy_exports"]["removed"] == 0
    assert (await tenant.get(f"/v1/privacy/exports/{request['id']}/download")).status_code == 200
    later = await _nightly(database, tenant, utcnow() + timedelta(days=8))
    assert later["result"]["privacy_exports"]["removed"] == 1, later
    gone = (await tenant.get(f"/v1/privacy/exports/{request['id']}")).json()
    assert gone["status"] == "expired" and gone["document_bytes"] is None
    assert_problem(await tenant.get(f"/v1/privacy/exports/{request['id']}/download"), 410)
    async with UnitOfWork(database, write=False) as uow:
        pr = tables.privacy_requests
        document = (await uow.execute(select(pr.c.document).where(pr.c.id == UUID(request["id"])))).scalar_one()
    assert document is None


async def test_an_account_named_after_the_person_is_scrubbed_and_a_company_kept(
    tenant: Tenant, database: Database
) -> None:
    person = await _lead(tenant, city="Shiraz", email="sara@karimi-family.ir")
    company = await _lead(tenant, first_name="Reza", email="reza@acme.example", phone="+989125556677", company="Acme")
    accounts = {}
    for lead in (person, company):
        answer = await tenant.post(f"/v1/leads/{lead['id']}/qualify", json={"opportunity": None})
        assert answer.status_code == 200, answer.text
        accounts[lead["id"]] = answer.json()["account_id"]
    named = (await tenant.get(f"/v1/accounts/{accounts[person['id']]}")).json()
    assert named["name"] == "Sara Karimi" and named["city"] == "Shiraz"
    for lead in (person, company):
        answer = await tenant.post("/v1/privacy/erasures", json={"lead_id": lead["id"], "reason": "asked"})
        assert answer.status_code == 202, answer.text
    await run_jobs(database)
    scrubbed = (await tenant.get(f"/v1/accounts/{accounts[person['id']]}")).json()
    assert "Sara" not in scrubbed["name"] and "Karimi" not in scrubbed["name"], scrubbed
    assert scrubbed["city"] is None and scrubbed["domain"] is None
    events = (await tenant.get("/v1/events", params={"resource_id": accounts[person["id"]]})).json()["data"]
    assert events and all(e["data"] == {"redacted": True} for e in events)
    kept = (await tenant.get(f"/v1/accounts/{accounts[company['id']]}")).json()
    assert kept["name"] == "Acme"


async def test_a_capture_right_after_an_erasure_request_is_a_new_person_opted_out(
    tenant: Tenant, database: Database
) -> None:
    from tests.api.test_erased_addresses import _statuses

    someone = await _lead(tenant, email="first@example.com", phone="+989120001122", first_name="First")
    assert (await _statuses(tenant, "lead", someone["id"]))["email"][0] != "opted_out"  # nothing erased yet
    lead = await _lead(tenant)
    answer = await tenant.post("/v1/privacy/erasures", json={"lead_id": lead["id"], "reason": "asked"})
    assert answer.status_code == 202 and answer.json()["counts"] == {"suppressions": 3}
    # suppressed as erased from the request on, before its job ran: a capture now is a new person
    assert (await tenant.delete(f"/v1/leads/{lead['id']}")).status_code == 200
    new = await _lead(tenant, first_name="Sara again")
    assert new["id"] != lead["id"]
    assert (await _statuses(tenant, "lead", new["id"]))["email"] == ("opted_out", "erasure")
    await run_jobs(database)
    assert (await tenant.get(f"/v1/leads/{new['id']}")).json()["first_name"] == "Sara again"


async def test_captures_racing_an_erasure_land_before_it_and_are_erased_or_after_it_as_new_people(
    tenant: Tenant, database: Database, backend: str
) -> None:
    """PostgreSQL, real concurrency: an erasure job with enough of the person's rows to take a while,
    and captures of the same address arriving all along it. Each lands on the person before the
    tombstone (and is erased with them) or after it, as a new person opted out by the hashed
    suppression: never personal data on the tombstone, never a new person free to be marketed to."""
    import asyncio

    import pytest

    from tests.api.test_erased_addresses import _statuses

    if backend == "sqlite":
        pytest.skip("SQLite runs one writer at a time: its writes never race")
    lead = await _lead(tenant)
    for n in range(120):  # rows the erasure walks page by page
        note = {"lead_id": lead["id"], "type": "note", "notes": f"Sara Karimi note {n}"}
        assert (await tenant.post("/v1/activities", json=note)).status_code == 201
    answer = await tenant.post("/v1/privacy/erasures", json={"lead_id": lead["id"], "reason": "asked"})
    assert answer.status_code == 202
    await tenant.delete(f"/v1/leads/{lead['id']}")  # closed: a capture now makes a new lead...
    await tenant.post(f"/v1/leads/{lead['id']}/reactivate", json={})  # ...or, reopened, merges into it
    results: list[tuple[int, str]] = []
    done = asyncio.Event()

    async def capture() -> None:
        n = 0
        while not done.is_set():
            n += 1
            body = {"first_name": "Sara", "last_name": f"Racer{n}", "email": "sara.karimi@example.com",
                    "source": "other"}  # fmt: skip
            response = await tenant.post("/v1/leads", json=body)
            assert response.status_code in (200, 201), response.text
            results.append((response.status_code, response.json()["id"]))
            await asyncio.sleep(0.01)

    async def erase() -> None:
        try:
            await run_jobs(database)
        finally:
            done.set()

    await asyncio.gather(erase(), capture(), capture())
    assert results
    assert (await tenant.get(f"/v1/privacy/erasures/{answer.json()['id']}")).json()["status"] == "completed"
    tombstone = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    assert tombstone["erased_at"] and tombstone["email"] is None and tombstone["first_name"] is None
    assert tombstone["last_name"] is None, tombstone  # no capture refilled it
    for _, lead_id in results:
        if lead_id == lead["id"]:
            continue  # landed on the person before the erasure: erased with them (above)
        assert (await _statuses(tenant, "lead", lead_id))["email"] == ("opted_out", "erasure"), lead_id
    activities = (await tenant.get("/v1/activities", params={"lead_id": lead["id"], "limit": 200})).json()["data"]
    assert activities and not any("Sara" in (a["notes"] or "") or "Karimi" in (a["notes"] or "") for a in activities)


async def test_an_export_is_sent_gzipped_to_a_client_that_accepts_it(tenant: Tenant, database: Database) -> None:
    lead = await _lead(tenant)
    request = (await tenant.post("/v1/privacy/exports", json={"lead_id": lead["id"]})).json()
    await run_jobs(database)
    url = f"/v1/privacy/exports/{request['id']}/download"
    plain = await tenant.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    zipped = await tenant.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.json() == plain.json()  # httpx decoded it
