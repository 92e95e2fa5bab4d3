"""Duplicate candidates and merging through HTTP on both databases."""

from __future__ import annotations

from typing import Any

import pytest

from app.db.session import Database
from app.services import scoring
from tests.conftest import Tenant, assert_problem
from tests.integration.test_webhooks import running_worker, until


async def _lead(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/leads", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_candidates_are_the_same_person_at_the_same_company_under_another_email(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "IR"})
    lead = await _lead(tenant, first_name="Sara", last_name="Ahmadi", email="sara@acme.io", phone="09121234567",
                       company="Acme")  # fmt: skip
    # The same phone in another format is the same lead: the API says so at once (one open lead per phone).
    same_phone = await tenant.post("/v1/leads", json={"email": "other@x.io", "phone": "+98 912 123 4567"})
    assert assert_problem(same_phone, 409)["existing_lead_id"] == lead["id"]
    alias = await _lead(tenant, first_name="sara", last_name="ahmadi", email="s.ahmadi@gmail.com",
                        company="ACME Ltd.")  # fmt: skip
    await _lead(tenant, first_name="Sara", last_name="Ahmadi", email="sara@globex.io", company="Globex")
    await _lead(tenant, first_name="Reza", last_name="Karimi", email="reza@acme.io", company="Acme")
    await _lead(other_tenant, first_name="Sara", last_name="Ahmadi", email="sara@acme.io", company="Acme")
    found = (await tenant.get(f"/v1/leads/{lead['id']}/duplicates")).json()["data"]
    assert [(c["lead"]["id"], c["score"], c["matched"]) for c in found] == [(alias["id"], 100.0, ["name", "company"])]
    # Lowering the threshold lists the namesake at another company as a weaker suggestion.
    await tenant.patch("/v1/settings/deduplication", json={"fuzzy_threshold": 60})
    weaker = (await tenant.get(f"/v1/leads/{lead['id']}/duplicates")).json()["data"]
    assert [(c["lead"]["email"], c["score"], c["matched"]) for c in weaker[1:]] == [
        ("sara@globex.io", 68.0, ["name"])  # the colleague Reza at Acme stays out
    ]
    assert_problem(await tenant.patch("/v1/settings/deduplication", json={"fuzzy_threshold": 10}), 422,
                   "fuzzy_threshold")  # fmt: skip


async def test_merge_keeps_the_best_of_each_moves_history_and_is_idempotent(tenant: Tenant) -> None:
    survivor = await _lead(tenant, first_name="Sara", email="sara@acme.io", tags=["web"])
    loser = await _lead(tenant, first_name="Sarah", last_name="Ahmadi", email="sara.a@acme.io", company="Acme",
                        external_id="crm-42", tags=["event"], phone="+49301234567")  # fmt: skip
    await tenant.post(f"/v1/leads/{loser['id']}/engagements", json={"type": "demo_request"})
    await tenant.post("/v1/activities", json={"lead_id": loser["id"], "type": "note"})
    await tenant.post("/v1/tasks", json={"title": "Call", "lead_id": loser["id"]})
    url = f"/v1/leads/{survivor['id']}"
    response = await tenant.post(f"{url}/merge", json={"lead_ids": [loser["id"]]})
    assert response.status_code == 200, response.text
    merged = response.json()
    assert (merged["first_name"], merged["last_name"], merged["company"]) == ("Sarah", "Ahmadi", "Acme")  # newest
    assert merged["email"] == "sara.a@acme.io" and merged["phone_e164"] == "+49301234567"
    assert merged["external_id"] == "crm-42" and sorted(merged["tags"]) == ["event", "web"]
    assert merged["created_at"] == survivor["created_at"] and merged["temperature"] == "hot"  # its demo request
    gone = (await tenant.get(f"/v1/leads/{loser['id']}")).json()
    assert gone["merged_into_id"] == survivor["id"] and gone["archived_at"] and gone["external_id"] is None
    assert [x["id"] for x in (await tenant.get("/v1/leads")).json()["data"]] == [survivor["id"]]
    assert len((await tenant.get(f"{url}/engagements")).json()["data"]) == 1
    assert len((await tenant.get("/v1/tasks", params={"lead_id": survivor["id"]})).json()["data"]) == 1
    assert (await tenant.get("/v1/leads", params={"q": "Ahmadi"})).json()["data"][0]["id"] == survivor["id"]
    [event] = (await tenant.get("/v1/events", params={"type": "lead.merged"})).json()["data"]
    assert event["data"]["merged_lead_ids"] == [loser["id"]]
    assert event["data"]["moved"] == {"engagements": 1, "activities": 1, "tasks": 1, "submissions": 0}

    again = await tenant.post(f"{url}/merge", json={"lead_ids": [loser["id"]]})
    assert again.status_code == 200 and again.json()["version"] == merged["version"]  # nothing changed
    assert len((await tenant.get("/v1/events", params={"type": "lead.merged"})).json()["data"]) == 1
    assert_problem(await tenant.post(f"/v1/leads/{loser['id']}/merge", json={"lead_ids": [survivor["id"]]}), 409)


async def test_merge_refuses_what_it_cannot_merge_and_leaves_everything_as_it_was(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    survivor = await _lead(tenant, email="a@x.io")
    qualified = await _lead(tenant, email="b@x.io")
    await tenant.post(f"/v1/leads/{qualified['id']}/qualify", json={"opportunity": None})
    foreign = await _lead(other_tenant, email="c@x.io")
    url = f"/v1/leads/{survivor['id']}/merge"
    assert_problem(await tenant.post(url, json={"lead_ids": [qualified["id"]]}), 422, "lead_ids.0")
    assert_problem(await tenant.post(url, json={"lead_ids": [foreign["id"]]}), 422, "lead_ids.0")
    assert_problem(await tenant.post(url, json={"lead_ids": [survivor["id"]]}), 422, "lead_ids.0")
    assert_problem(await tenant.post(url, json={"lead_ids": []}), 422, "lead_ids")
    assert (await other_tenant.get(f"/v1/leads/{foreign['id']}")).json()["merged_into_id"] is None


async def test_merge_is_all_or_nothing(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    survivor = await _lead(tenant, email="keep@x.io")
    loser = await _lead(tenant, email="lose@x.io", company="Acme")
    await tenant.post(f"/v1/leads/{loser['id']}/engagements", json={"type": "email_click"})

    async def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected after the history moved")

    monkeypatch.setattr(scoring, "rescore", fail)
    assert_problem(await tenant.post(f"/v1/leads/{survivor['id']}/merge", json={"lead_ids": [loser["id"]]}), 500)
    monkeypatch.undo()
    assert (await tenant.get(f"/v1/leads/{loser['id']}")).json()["merged_into_id"] is None
    assert len((await tenant.get(f"/v1/leads/{loser['id']}/engagements")).json()["data"]) == 1
    assert (await tenant.get(f"/v1/leads/{survivor['id']}")).json()["company"] is None


async def test_the_worker_finds_likely_duplicates_of_new_leads_after_commit(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    first = await _lead(tenant, first_name="Sara", last_name="Ahmadi", email="sara@acme.io", company="Acme")
    async with running_worker(database, worker_poll_seconds=1.0):
        second = await _lead(tenant, first_name="sara", last_name="ahmadi", email="s.a@gmail.com",
                             company="ACME Ltd.")  # fmt: skip
        await _lead(tenant, first_name="Reza", last_name="Karimi", email="reza@x.io")  # nobody like him

        async def found() -> bool:
            return bool((await tenant.get("/v1/events", params={"type": "lead.duplicates_found"})).json()["data"])

        await until(found, timeout=10)
    # Each new lead is compared with the open leads there when the worker gets to it: the second
    # finds the first, and the first finds the second when both were queued in one pass.
    announced = (await tenant.get("/v1/events", params={"type": "lead.duplicates_found"})).json()["data"]
    pairs = {(e["data"]["lead_id"], c["candidate_id"], c["score"], tuple(c["matched"]))
             for e in announced for c in e["data"]["candidates"]}  # fmt: skip
    both_ways = {(second["id"], first["id"], 100.0, ("name", "company")),
                 (first["id"], second["id"], 100.0, ("name", "company"))}  # fmt: skip
    assert pairs and pairs <= both_ways
    listed = (await tenant.get("/v1/leads/duplicate-candidates")).json()["data"]
    assert {(c["lead_id"], c["candidate_id"], c["score"], tuple(c["matched"])) for c in listed} == pairs
    assert (await other_tenant.get("/v1/leads/duplicate-candidates")).json()["data"] == []
    assert (await tenant.get(f"/v1/leads/{first['id']}")).json()["merged_into_id"] is None  # never merged by itself


async def test_one_worker_pass_searches_many_new_leads_each_within_its_own_workspace(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    # All queued before the worker starts: one pass takes them together, across two workspaces.
    sara = await _lead(tenant, first_name="Sara", last_name="Ahmadi", email="sara@acme.io", company="Acme")
    sara_again = await _lead(tenant, first_name="SARA", last_name="Ahmadi", email="sa@gmail.com", company="Acme Inc")
    await _lead(tenant, first_name="Reza", last_name="Karimi", email="reza@x.io", company="Other Co")
    await _lead(tenant, first_name="Nobody", last_name="Atall", phone="+989121234567")
    theirs = await _lead(other_tenant, first_name="Sara", last_name="Ahmadi", email="sara@acme.io", company="Acme")
    theirs_again = await _lead(other_tenant, first_name="Sara", last_name="Ahmadi", email="s@acme.io", company="ACME")

    def pairs(announced: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(e["data"]["lead_id"], c["candidate_id"]) for e in announced for c in e["data"]["candidates"]}

    async def announced(who: Tenant) -> list[dict[str, Any]]:
        return list((await who.get("/v1/events", params={"type": "lead.duplicates_found"})).json()["data"])

    async with running_worker(database, worker_poll_seconds=1.0):

        async def both_found() -> bool:
            return len(await announced(tenant)) == 2 and len(await announced(other_tenant)) == 2

        await until(both_found, timeout=10)
    assert pairs(await announced(tenant)) == {(sara["id"], sara_again["id"]), (sara_again["id"], sara["id"])}
    assert pairs(await announced(other_tenant)) == {
        (theirs["id"], theirs_again["id"]),
        (theirs_again["id"], theirs["id"]),
    }
    listed = (await tenant.get("/v1/leads/duplicate-candidates")).json()["data"]
    assert {(c["lead_id"], c["candidate_id"]) for c in listed} == pairs(await announced(tenant))
