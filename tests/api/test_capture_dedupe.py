"""One open lead per person: a repeated submission counts on the open lead, a returning customer's
submission on their contact, and two submissions at the same instant still make one lead."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ScratchDatabases, Tenant, assert_problem, database_url
from tests.integration.server import Server, create_workspace, run_cli

SITE = "https://www.shop.example"


async def _form(tenant: Tenant) -> str:
    form = (await tenant.post("/v1/forms", json={"name": "Contact", "allowed_origins": [SITE]})).json()
    return f"/v1/forms/{form['id']}/submissions"


async def _submit(tenant: Tenant, path: str, **fields: Any) -> httpx.Response:
    return await tenant.client.post(
        path, json=fields, headers={"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE}
    )


async def test_a_second_submission_counts_on_the_open_lead_and_fills_what_it_lacked(tenant: Tenant) -> None:
    path = await _form(tenant)
    first = await _submit(tenant, path, email="sara@acme.io", first_name="Sara")
    second = await _submit(tenant, path, email="SARA@acme.io", first_name="Sarah", company="Acme", phone="+4930123456")
    assert second.status_code == 201 and await tenant.lead_of(second) == await tenant.lead_of(first)
    lead = (await tenant.get(f"/v1/leads/{await tenant.lead_of(first)}")).json()
    assert (lead["first_name"], lead["company"], lead["phone"]) == ("Sara", "Acme", "+4930123456")  # only the gaps
    assert [e["type"] for e in (await tenant.get(f"/v1/leads/{lead['id']}/engagements")).json()["data"]] == [
        "form_submit"
    ]
    assert len((await tenant.get("/v1/leads")).json()["data"]) == 1
    submissions = (await tenant.get(f"{path}")).json()["data"]
    assert sorted((s["lead_id"], s["merged"]) for s in submissions) == [(lead["id"], False), (lead["id"], True)]
    received = (await tenant.get("/v1/events", params={"type": "form.submission_received"})).json()["data"]
    assert sorted(e["data"]["merged"] for e in received) == [False, True]
    assert len((await tenant.get("/v1/events", params={"type": "lead.created"})).json()["data"]) == 1

    await tenant.patch("/v1/settings/deduplication", json={"update_matched_lead": False})
    await _submit(tenant, path, email="sara@acme.io", job_title="CTO")
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["job_title"] is None  # recorded, not applied


async def test_a_returning_customer_is_recorded_on_their_contact_not_as_a_new_lead(tenant: Tenant) -> None:
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Reza", "email": "reza@buyer.io"})).json()
    path = await _form(tenant)
    answer = await _submit(tenant, path, email="Reza@Buyer.io", first_name="Reza")
    assert answer.status_code == 201
    assert (await tenant.get("/v1/leads")).json()["data"] == []
    [submission] = (await tenant.get(path)).json()["data"]
    assert (submission["contact_id"], submission["lead_id"]) == (contact["id"], None)
    assert list(answer.json()) == ["submission_id"]  # a public form tells strangers nothing
    kinds = [e["kind"] for e in (await tenant.get(f"/v1/contacts/{contact['id']}/timeline")).json()["data"]]
    assert kinds == ["engagement"]
    await tenant.patch("/v1/settings/deduplication", json={"link_existing_contacts": False})
    await _submit(tenant, path, email="reza@buyer.io")
    assert len((await tenant.get("/v1/leads")).json()["data"]) == 1


async def test_the_api_refuses_a_second_open_lead_for_the_same_person(tenant: Tenant) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "IR"})
    await tenant.patch("/v1/settings/deduplication", json={"on_duplicate": "reject"})  # (new workspaces merge)
    first = (await tenant.post("/v1/leads", json={"email": "a@x.io", "phone": "09121234567"})).json()
    other = (await tenant.post("/v1/leads", json={"email": "b@x.io"})).json()
    by_phone = assert_problem(await tenant.post("/v1/leads", json={"phone": "+98 912 123 4567"}), 409)
    assert by_phone["existing_lead_id"] == first["id"]
    assert_problem(await tenant.patch(f"/v1/leads/{other['id']}", json={"email": "A@x.io"}), 409)
    batch = (await tenant.post("/v1/leads/batch", json={"leads": [{"email": "a@x.io"}, {"email": "c@x.io"}]})).json()
    assert [r["status"] for r in batch["results"]] == ["error", "created"]
    assert batch["results"][0]["problem"]["status"] == 409
    # A disqualified lead leaves the rule; reactivating it while another open lead has its email is a 409.
    await tenant.post(f"/v1/leads/{first['id']}/disqualify", json={"reason": "no_budget"})
    again = (await tenant.post("/v1/leads", json={"email": "a@x.io"})).json()
    assert again["id"] != first["id"]
    assert_problem(await tenant.post(f"/v1/leads/{first['id']}/reactivate"), 409)
    await tenant.post(f"/v1/leads/{first['id']}/merge", json={"lead_ids": [again["id"]]})  # merged: not open


async def test_simultaneous_double_submits_make_one_lead(tenant: Tenant) -> None:
    path = await _form(tenant)
    answers = await asyncio.gather(*(_submit(tenant, path, email="twin@x.io", first_name=f"T{n}") for n in range(8)))
    assert [a.status_code for a in answers] == [201] * 8
    assert len({await tenant.lead_of(a) for a in answers}) == 1
    assert len((await tenant.get("/v1/leads")).json()["data"]) == 1
    assert len((await tenant.get(path)).json()["data"]) == 8


async def test_a_double_among_simultaneous_submits_leaves_the_others_alone(tenant: Tenant) -> None:
    """Submissions arriving together are written together (one statement on PostgreSQL); a double
    among them makes that statement fail as a whole, and still every person gets one lead and
    every submission is stored once."""
    path = await _form(tenant)
    emails = [f"person{n}@x.io" for n in range(10)] + ["person3@x.io"]
    answers = await asyncio.gather(*(_submit(tenant, path, email=email) for email in emails))
    assert [a.status_code for a in answers] == [201] * 11
    assert await tenant.lead_of(answers[3]) == await tenant.lead_of(answers[10])
    assert len({await tenant.lead_of(a) for a in answers}) == 10
    leads = (await tenant.get("/v1/leads", params={"limit": 100})).json()["data"]
    assert sorted(lead["email"] for lead in leads) == sorted(set(emails))
    submissions = (await tenant.get(path, params={"limit": 100})).json()["data"]
    assert len(submissions) == 11 and sum(s["merged"] for s in submissions) == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_double_submits_to_several_server_processes_make_one_lead(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """The same form posted at the same instant to two server processes (PostgreSQL; SQLite: one
    process, its writers serialised): one lead, every submission stored once, never a 5xx."""
    url = await database_url(kind, tmp_path, scratch)
    run_cli(url, "migrate")
    keys = create_workspace(url, "Race")
    processes = 2 if kind == "postgresql" else 1
    servers = [Server(url, tmp_path / f"server{i}.log", RATE_LIMIT_ENABLED="false") for i in range(processes)]
    try:
        base = servers[0].url
        headers = {"Authorization": f"Bearer {keys['publishable_key']}", "Origin": SITE}
        async with httpx.AsyncClient(timeout=30) as client:
            form = (
                await client.post(f"{base}/v1/forms", json={"name": "F", "allowed_origins": [SITE]},
                                  headers={"Authorization": f"Bearer {keys['secret_key']}"})
            ).json()  # fmt: skip
            for round_ in range(5):
                posts = [
                    client.post(f"{servers[n % processes].url}/v1/forms/{form['id']}/submissions", headers=headers,
                                json={"email": f"race{round_}@x.io", "phone": f"+4930555{round_:04d}"})
                    for n in range(6)
                ]  # fmt: skip
                answers = await asyncio.gather(*posts)
                assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
                assert len({a.json()["submission_id"] for a in answers}) == 6
            auth = {"Authorization": f"Bearer {keys['secret_key']}"}
            leads = (await client.get(f"{base}/v1/leads", headers=auth, params={"limit": 100})).json()["data"]
            submissions = (await client.get(f"{base}/v1/forms/{form['id']}/submissions", headers=auth,
                                            params={"limit": 100})).json()["data"]  # fmt: skip
        assert len(leads) == 5 and len(submissions) == 30
        assert sum(s["merged"] for s in submissions) == 25
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        assert "Traceback" not in server.log.read_text()


async def test_each_field_a_public_post_fills_shows_on_the_timeline_with_the_submission(tenant: Tenant) -> None:
    """`update_matched_lead` lets a public post (by anyone who knows the email) fill a lead's empty
    fields: the lead's timeline shows each field it filled and the submission it came from."""
    path = await _form(tenant)
    lead = (await tenant.post("/v1/leads", json={"email": "sara@acme.io", "first_name": "Sara"})).json()
    answer = await _submit(tenant, path, email="sara@acme.io", first_name="Eve", company="Evil Corp", city="Paris")
    submission_id = answer.json()["submission_id"]
    timeline = (await tenant.get(f"/v1/leads/{lead['id']}/timeline")).json()["data"]
    [entry] = [e for e in timeline if e["kind"] == "engagement"]
    assert entry["data"]["type"] == "form_submit"
    properties = entry["data"]["properties"]
    assert properties["submission_id"] == submission_id  # the source
    assert properties["filled_fields"] == {"city": "Paris", "company": "Evil Corp"}  # first_name was not empty
    [listed] = (await tenant.get(path)).json()["data"]
    assert (listed["id"], listed["lead_id"], listed["merged"]) == (submission_id, lead["id"], True)

    await tenant.patch("/v1/settings/deduplication", json={"update_matched_lead": False})
    second = await _submit(tenant, path, email="sara@acme.io", job_title="CTO")
    timeline = (await tenant.get(f"/v1/leads/{lead['id']}/timeline")).json()["data"]
    latest = next(e for e in timeline if e["kind"] == "engagement")
    assert latest["data"]["properties"]["submission_id"] == second.json()["submission_id"]
    assert "filled_fields" not in latest["data"]["properties"]  # recorded, nothing filled


async def test_a_public_post_racing_a_members_edit_keeps_the_edit(
    tenant: Tenant, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member edits a lead while a public post matching it fills its empty fields: the post's
    write loses the version check, runs again on the lead as the member left it, and fills only
    what is still empty (nothing the member typed is overwritten, no 409 tells the stranger)."""
    if backend == "sqlite":
        pytest.skip("SQLite runs one writer at a time: its writes never race")
    from app.services.leads import capture

    path = await _form(tenant)
    lead = (await tenant.post("/v1/leads", json={"email": "sara@acme.io", "tags": ["old"]})).json()
    update, raced = capture.leads.update_as_read, []

    async def member_edits_first(ctx: Any, row: Any, changes: Any) -> Any:
        if not raced:  # between the post's read of the lead and its write
            raced.append(True)
            edit = await tenant.patch(f"/v1/leads/{row['id']}", json={"tags": ["old", "vip"], "company": "Typed"})
            assert edit.status_code == 200, edit.text
        return await update(ctx, row, changes)

    monkeypatch.setattr(capture.leads, "update_as_read", member_edits_first)
    answer = await _submit(tenant, path, email="sara@acme.io", company="Evil Corp", city="Paris")
    assert answer.status_code == 201, answer.text
    stored = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    assert (stored["company"], stored["city"], stored["tags"][:2]) == ("Typed", "Paris", ["old", "vip"])
    assert raced == [True]
