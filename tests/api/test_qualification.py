"""Accounts, contacts, opportunities, qualification, disqualification, reactivation and tasks
through HTTP on both databases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.schemas.leads.leads import LeadCreate
from app.services.context import SYSTEM, Context
from app.services.customers import relationships
from app.services.leads import leads
from tests.conftest import Tenant, assert_problem
from tests.integration.test_webhooks import running_worker


async def _created(tenant: Tenant, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await tenant.post(url, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _types(tenant: Tenant) -> list[str]:
    return [e["type"] for e in (await tenant.get("/v1/events", params={"limit": 200})).json()["data"]]


async def test_accounts_are_normalised_filtered_versioned_and_archived(tenant: Tenant) -> None:
    account = await _created(tenant, "/v1/accounts", {"name": "Acme", "domain": "WWW.Acme.Example", "country": "IR"})
    assert account["domain"] == "acme.example" and account["version"] == 1 and account["tags"] == []
    await _created(tenant, "/v1/accounts", {"name": "Other"})
    found = (await tenant.get("/v1/accounts", params={"domain": "acme.example"})).json()["data"]
    assert [a["id"] for a in found] == [account["id"]]
    by_name = (await tenant.get("/v1/accounts", params={"sort": "name"})).json()["data"]
    assert [a["name"] for a in by_name] == ["Acme", "Other"]
    url = f"/v1/accounts/{account['id']}"
    assert_problem(await tenant.patch(url, json={"name": "X"}, headers={"If-Match": '"7"'}), 412)
    renamed = await tenant.patch(url, json={"name": "Acme Ltd"}, headers={"If-Match": '"1"'})
    assert renamed.json()["version"] == 2 and renamed.headers["etag"] == '"2"'
    assert_problem(await tenant.post("/v1/accounts", json={"name": "Bad", "domain": "not a domain"}), 422, "domain")
    assert (await tenant.delete(url)).json()["archived_at"] is not None
    assert [a["name"] for a in (await tenant.get("/v1/accounts")).json()["data"]] == ["Other"]
    assert [a["id"] for a in (await tenant.get("/v1/accounts", params={"archived": "true"})).json()["data"]] == [
        account["id"]
    ]
    assert_problem(await tenant.patch(url, json={"name": "Back"}), 409)
    assert {"account.created", "account.updated", "account.archived"} <= set(await _types(tenant))


async def test_contacts_use_the_lead_rules_for_email_and_phone(tenant: Tenant, other_tenant: Tenant) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "IR"})
    account = await _created(tenant, "/v1/accounts", {"name": "Acme"})
    contact = await _created(
        tenant,
        "/v1/contacts",
        {"first_name": "Sara", "email": " Sara@ACME.example ", "phone": "0912 345 6789", "account_id": account["id"],
         "interests": ["dentistry", "dentistry", "golf"]},
    )  # fmt: skip
    assert contact["email"] == "Sara@acme.example" and contact["phone_e164"] == "+989123456789"
    assert contact["interests"] == ["dentistry", "golf"]
    assert_problem(await tenant.post("/v1/contacts", json={"email": "nope"}), 422, "email")
    assert_problem(await tenant.post("/v1/contacts", json={"job_title": "CEO"}), 422, "email")
    foreign = await _created(other_tenant, "/v1/accounts", {"name": "Theirs"})
    assert_problem(await tenant.post("/v1/contacts", json={"email": "a@x.io", "account_id": foreign["id"]}), 422,
                   "account_id")  # fmt: skip
    listed = (await tenant.get("/v1/contacts", params={"email": "SARA@acme.example"})).json()["data"]
    assert [c["id"] for c in listed] == [contact["id"]]
    assert (await tenant.get("/v1/contacts", params={"account_id": account["id"]})).json()["data"][0]["id"] == contact[
        "id"
    ]


async def test_opportunities_keep_money_exact_and_close_with_a_listed_reason(tenant: Tenant) -> None:
    await tenant.patch("/v1/workspace", json={"currency": "USD"})
    deal = await _created(tenant, "/v1/opportunities", {"name": "Big deal", "amount": "1250000.50"})
    assert (deal["amount"], deal["currency"], deal["stage"], deal["probability"]) == ("1250000.50", "USD",
                                                                                       "prospecting", 10)  # fmt: skip
    assert_problem(await tenant.post("/v1/opportunities", json={"name": "X", "amount": "1.505"}), 422, "amount")
    assert_problem(await tenant.post("/v1/opportunities", json={"name": "X", "amount": 12.5}), 422, "amount")
    yen = await _created(tenant, "/v1/opportunities", {"name": "Tokyo", "amount": "1500", "currency": "JPY"})
    assert yen["amount"] == "1500"
    url = f"/v1/opportunities/{deal['id']}"
    moved = await tenant.patch(url, json={"stage": "negotiation"})
    assert moved.json()["probability"] == 75 and moved.json()["closed_at"] is None
    assert_problem(await tenant.patch(url, json={"stage": "won"}), 422, "close_reason")
    assert_problem(await tenant.patch(url, json={"stage": "won", "close_reason": "luck"}), 422, "close_reason")
    won = await tenant.patch(url, json={"stage": "won", "close_reason": "relationship"})
    assert won.status_code == 200, won.text
    assert (won.json()["probability"], won.json()["close_reason"]) == (100, "relationship")
    assert won.json()["closed_at"] is not None
    assert_problem(await tenant.patch(url, json={"stage": "negotiation"}), 409)
    await tenant.patch("/v1/settings/opportunity-reasons", json={"lost": ["went_dark"]})
    lost = await tenant.post("/v1/opportunities", json={"name": "Gone", "stage": "lost", "close_reason": "went_dark"})
    assert lost.status_code == 201 and lost.json()["probability"] == 0
    types = await _types(tenant)
    assert types.count("opportunity.won") == 1 and types.count("opportunity.lost") == 1
    assert [o["name"] for o in (await tenant.get("/v1/opportunities", params={"stage": "won"})).json()["data"]] == [
        "Big deal"
    ]


async def _lead_with_history(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    lead = await _created(tenant, "/v1/leads", {"email": "sara@acme.example", "company": "Acme", **fields})
    url = f"/v1/leads/{lead['id']}"
    assert (await tenant.post(f"{url}/engagements", json={"type": "pricing_page_view"})).status_code == 201
    await _created(tenant, "/v1/activities", {"lead_id": lead["id"], "type": "note", "notes": "asked for a quote"})
    await _created(tenant, "/v1/tasks", {"title": "Send the quote", "lead_id": lead["id"]})
    return lead


async def test_qualify_creates_account_contact_and_opportunity_and_moves_the_history(tenant: Tenant) -> None:
    await tenant.patch("/v1/workspace", json={"currency": "EUR"})
    lead = await _lead_with_history(tenant, first_name="Sara", phone="+49 30 1234567", job_title="CTO",
                                    industry="Software", tags=["vip"])  # fmt: skip
    response = await tenant.post(
        f"/v1/leads/{lead['id']}/qualify", json={"opportunity": {"amount": "5000", "expected_close_date": "2027-01-31"}}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["account_created"], result["contact_created"]) == (True, True)
    assert result["moved"] == {"engagements": 1, "activities": 1, "tasks": 1}

    qualified = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    assert qualified["status"] == "qualified" and qualified["qualified_at"] is not None
    assert (qualified["account_id"], qualified["contact_id"], qualified["opportunity_id"]) == (
        result["account_id"], result["contact_id"], result["opportunity_id"],
    )  # fmt: skip
    account = (await tenant.get(f"/v1/accounts/{result['account_id']}")).json()
    assert (account["name"], account["domain"], account["industry"], account["tags"], account["lead_id"]) == (
        "Acme", "acme.example", "Software", ["vip"], lead["id"],
    )  # fmt: skip
    contact = (await tenant.get(f"/v1/contacts/{result['contact_id']}")).json()
    assert (contact["email"], contact["phone_e164"], contact["job_title"], contact["account_id"]) == (
        "sara@acme.example", "+49301234567", "CTO", account["id"],
    )  # fmt: skip
    deal = (await tenant.get(f"/v1/opportunities/{result['opportunity_id']}")).json()
    assert (deal["name"], deal["amount"], deal["currency"], deal["stage"], deal["contact_id"]) == (
        "Acme - new business", "5000.00", "EUR", "qualification", contact["id"],
    )  # fmt: skip
    [task] = (await tenant.get("/v1/tasks", params={"contact_id": contact["id"]})).json()["data"]
    assert task["opportunity_id"] == deal["id"] and task["lead_id"] == lead["id"]
    [note] = (await tenant.get("/v1/activities", params={"lead_id": lead["id"]})).json()["data"]
    assert note["contact_id"] == contact["id"]

    again = assert_problem(await tenant.post(f"/v1/leads/{lead['id']}/qualify", json={}), 409)
    assert (again["account_id"], again["contact_id"], again["opportunity_id"]) == (
        account["id"], contact["id"], deal["id"],
    )  # fmt: skip
    types = await _types(tenant)
    assert types.count("lead.qualified") == 1
    assert {"account.created", "contact.created", "opportunity.created"} <= set(types)


async def test_qualify_links_existing_records_and_only_fills_their_empty_fields(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    account = await _created(tenant, "/v1/accounts", {"name": "ACME Corp", "domain": "acme.example",
                                                      "industry": "Retail"})  # fmt: skip
    contact = await _created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "SARA@acme.example"})
    lead = await _lead_with_history(tenant, first_name="Sarah", job_title="CTO", industry="Software",
                                    country="DE")  # fmt: skip
    result = (await tenant.post(f"/v1/leads/{lead['id']}/qualify", json={"opportunity": None})).json()
    assert (result["account_id"], result["contact_id"], result["opportunity_id"]) == (account["id"], contact["id"],
                                                                                      None)  # fmt: skip
    assert (result["account_created"], result["contact_created"]) == (False, False)
    kept = (await tenant.get(f"/v1/accounts/{account['id']}")).json()
    assert (kept["name"], kept["industry"], kept["country"]) == ("ACME Corp", "Retail", "DE")  # only the empty field
    person = (await tenant.get(f"/v1/contacts/{contact['id']}")).json()
    assert (person["first_name"], person["job_title"], person["account_id"]) == ("Sara", "CTO", account["id"])

    foreign = await _created(other_tenant, "/v1/accounts", {"name": "Theirs"})
    other = await _created(tenant, "/v1/leads", {"email": "new@elsewhere.example"})
    assert_problem(await tenant.post(f"/v1/leads/{other['id']}/qualify", json={"account_id": foreign["id"]}), 422,
                   "account_id")  # fmt: skip
    bad_amount = {"opportunity": {"amount": "1.23456"}}
    assert_problem(await tenant.post(f"/v1/leads/{other['id']}/qualify", json=bad_amount), 422, "opportunity.amount")
    assert (await tenant.get(f"/v1/leads/{other['id']}")).json()["status"] == "new"


async def test_qualify_is_all_or_nothing(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    lead = await _lead_with_history(tenant)
    before = await _types(tenant)

    async def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected: the database went away after the account and contact")

    monkeypatch.setattr(relationships, "create_opportunity", fail)
    assert_problem(await tenant.post(f"/v1/leads/{lead['id']}/qualify", json={}), 500)
    monkeypatch.undo()
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["status"] == "new"
    assert (await tenant.get("/v1/accounts")).json()["data"] == []
    assert (await tenant.get("/v1/contacts")).json()["data"] == []
    [task] = (await tenant.get("/v1/tasks", params={"lead_id": lead["id"]})).json()["data"]
    assert task["contact_id"] is None
    assert await _types(tenant) == before
    assert (await tenant.post(f"/v1/leads/{lead['id']}/qualify", json={})).status_code == 200  # and it still works


async def test_disqualify_with_a_listed_reason_then_reactivate(tenant: Tenant) -> None:
    lead = await _created(tenant, "/v1/leads", {"email": "dormant@x.io"})
    url = f"/v1/leads/{lead['id']}"
    assert_problem(await tenant.post(f"{url}/disqualify", json={"reason": "meh"}), 422, "reason")
    dropped = await tenant.post(f"{url}/disqualify", json={"reason": "no_budget", "note": "next fiscal year"})
    assert dropped.status_code == 200, dropped.text
    body = dropped.json()
    assert (body["status"], body["disqualification_reason"], body["disqualification_note"]) == (
        "disqualified", "no_budget", "next fiscal year",
    )  # fmt: skip
    assert body["sla_status"] == "not_applicable"  # a dropped lead cannot breach
    assert_problem(await tenant.patch(url, json={"status": "contacted"}), 409)
    assert_problem(await tenant.post(f"{url}/qualify", json={}), 409)
    assert_problem(await tenant.post(f"{url}/disqualify", json={"reason": "spam"}), 409)
    back = (await tenant.post(f"{url}/reactivate")).json()
    assert (back["status"], back["disqualification_reason"], back["disqualified_at"]) == ("nurturing", None, None)
    [event] = (await tenant.get("/v1/events", params={"type": "lead.reactivated"})).json()["data"]
    assert event["previous_attributes"]["disqualification_reason"] == "no_budget"  # the history stays in the log
    assert_problem(await tenant.post(f"{url}/reactivate"), 409)  # nurturing already

    await tenant.request("PUT", "/v1/settings/disqualification-reasons", json={"reasons": ["wrong_country"]})
    assert_problem(await tenant.post(f"{url}/disqualify", json={"reason": "no_budget"}), 422, "reason")
    assert (await tenant.post(f"{url}/disqualify", json={"reason": "wrong_country"})).status_code == 200

    archived = await _created(tenant, "/v1/leads", {"email": "archived@x.io"})
    await tenant.delete(f"/v1/leads/{archived['id']}")
    revived = (await tenant.post(f"/v1/leads/{archived['id']}/reactivate")).json()
    assert (revived["status"], revived["archived_at"]) == ("nurturing", None)
    assert {"lead.disqualified", "lead.reactivated"} <= set(await _types(tenant))


async def test_a_task_reminder_fires_at_its_due_time_and_completion_is_recorded(
    tenant: Tenant, database: Database
) -> None:
    rep = (await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@x.io"})).json()["id"]
    lead = await _created(tenant, "/v1/leads", {"email": "later@x.io"})
    assert_problem(await tenant.post("/v1/tasks", json={"title": "X", "assignee_id": lead["id"]}), 422, "assignee_id")
    assert_problem(await tenant.post("/v1/tasks", json={"title": "X", "lead_id": rep}), 422, "lead_id")
    # due a few seconds ahead: the requests before the worker starts finish first on a loaded machine
    due = utcnow() + timedelta(seconds=8)
    task = await _created(tenant, "/v1/tasks", {"title": "Call back", "lead_id": lead["id"], "assignee_id": rep,
                                                "due_at": due.isoformat(), "priority": "high"})  # fmt: skip
    moved = await _created(
        tenant, "/v1/tasks", {"title": "Moved", "due_at": (utcnow() + timedelta(seconds=6)).isoformat()}
    )
    later = (utcnow() + timedelta(hours=1)).isoformat()
    assert (await tenant.patch(f"/v1/tasks/{moved['id']}", json={"due_at": later})).status_code == 200
    assert (await tenant.get("/v1/tasks", params={"overdue": "true"})).json()["data"] == []
    async with running_worker(database, worker_poll_seconds=30.0):
        for _ in range(400):
            if (await tenant.get("/v1/events", params={"type": "task.due"})).json()["data"]:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the moved task's old reminder, due before, would have fired too
    [reminder] = (await tenant.get("/v1/events", params={"type": "task.due"})).json()["data"]
    assert reminder["data"]["id"] == task["id"] and reminder["data"]["assignee_id"] == rep
    # fired at its due time, not at the worker's 30 s poll
    assert 0 <= (_ts(reminder["occurred_at"]) - due).total_seconds() < 5
    overdue = (await tenant.get("/v1/tasks", params={"overdue": "true"})).json()["data"]
    assert [t["id"] for t in overdue] == [task["id"]]
    done = (await tenant.patch(f"/v1/tasks/{task['id']}", json={"status": "completed"})).json()
    assert done["completed_at"] is not None
    assert (await tenant.get("/v1/tasks", params={"overdue": "true"})).json()["data"] == []
    assert (await tenant.get("/v1/events", params={"type": "task.completed"})).json()["data"][0]["data"]["id"] == task[
        "id"
    ]
    mine = (await tenant.get("/v1/tasks", params={"assignee_id": rep, "status": "completed"})).json()["data"]
    assert [t["id"] for t in mine] == [task["id"]]


def _ts(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_activities_on_contacts_and_the_leads_last_activity(tenant: Tenant) -> None:
    contact = await _created(tenant, "/v1/contacts", {"email": "c@x.io"})
    call = await _created(tenant, "/v1/activities", {"contact_id": contact["id"], "type": "call"})
    assert call["contact_id"] == contact["id"] and call["lead_id"] is None
    assert_problem(await tenant.post("/v1/activities", json={"type": "call"}), 422)
    lead = await _created(tenant, "/v1/leads", {"email": "active@x.io"})
    earlier = (utcnow() - timedelta(hours=2)).isoformat()
    await _created(tenant, "/v1/activities", {"lead_id": lead["id"], "type": "note"})
    touched = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    await _created(tenant, "/v1/activities", {"lead_id": lead["id"], "type": "note", "occurred_at": earlier})
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["last_activity_at"] == touched["last_activity_at"]
    assert touched["last_activity_at"] is not None and touched["updated_at"] == lead["updated_at"]


async def test_timelines_merge_every_source_in_order_and_page_without_gaps(tenant: Tenant) -> None:
    rep = (await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@x.io"})).json()["id"]
    lead = await _lead_with_history(tenant)  # engagement, note, task
    url = f"/v1/leads/{lead['id']}"
    await tenant.post(f"{url}/engagements", json={"type": "demo_request"})  # hot: a state change
    await tenant.patch(url, json={"owner_id": rep})  # an owner change
    await tenant.post(f"{url}/disqualify", json={"reason": "no_budget"})
    await tenant.post(f"{url}/reactivate")
    everything = (await tenant.get(f"{url}/timeline", params={"limit": 100})).json()
    kinds = [e["kind"] for e in everything["data"]]
    assert {"engagement", "activity", "task", "state_change", "assignment", "status"} <= set(kinds)
    statuses = [e["data"]["type"] for e in everything["data"] if e["kind"] == "status"]
    assert statuses == ["lead.reactivated", "lead.disqualified", "lead.created"]
    times = [(e["occurred_at"], e["id"]) for e in everything["data"]]
    assert times == sorted(times, reverse=True) and everything["next_cursor"] is None

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await tenant.get(f"{url}/timeline", params=params)).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in everything["data"]]  # no gap, no repeat
    oldest_first = (await tenant.get(f"{url}/timeline", params={"sort": "occurred_at", "limit": 100})).json()
    assert [e["id"] for e in oldest_first["data"]] == seen[::-1]
    assert_problem(await tenant.get(f"{url}/timeline", params={"cursor": "garbage"}), 422, "cursor")

    await tenant.post(f"{url}/qualify", json={"opportunity": None})
    contact_id = (await tenant.get(url)).json()["contact_id"]
    contact_kinds = [e["kind"] for e in (await tenant.get(f"/v1/contacts/{contact_id}/timeline")).json()["data"]]
    assert sorted(contact_kinds) == ["activity", "engagement", "engagement", "task"]


async def test_conversion_by_response_time_referrals_by_customers_and_last_activity_filters(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    # These leads come from `other` sources: the SLA must cover every source, in plain time.
    await tenant.patch("/v1/settings/sla", json={"sources": None, "business_hours": None})
    rep = (await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@x.io"})).json()["id"]
    fast = await _created(tenant, "/v1/leads", {"email": "fast@x.io", "company": "Fast"})
    async with UnitOfWork(database) as uow:  # a lead captured three hours ago
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow() - timedelta(hours=3))
        slow = await leads.create(ctx, LeadCreate.model_validate({"email": "slow@x.io"}).model_dump())
        await uow.commit()
    for lead_id in (fast["id"], str(slow["id"])):
        await _created(tenant, "/v1/activities", {"lead_id": lead_id, "type": "call", "member_id": rep})
    await tenant.post(f"/v1/leads/{fast['id']}/qualify", json={"opportunity": None})
    report = (await tenant.get("/v1/reports/speed-to-lead", params={"conversion": "qualified"})).json()
    assert report["overall"]["conversion"] == {"under_5m": 1.0, "5m_30m": None, "30m_60m": None, "1h_24h": 0.0,
                                               "over_24h": None, "never": None}  # fmt: skip
    assert (await tenant.get("/v1/reports/speed-to-lead")).json()["overall"]["conversion"] is None

    customer = await _created(tenant, "/v1/contacts", {"email": "loyal@x.io"})
    referred = await _created(tenant, "/v1/leads", {"email": "friend@x.io", "referred_by_contact_id": customer["id"]})
    assert referred["referred_by_contact_id"] == customer["id"]
    theirs = await _created(other_tenant, "/v1/contacts", {"email": "theirs@x.io"})
    assert_problem(await tenant.post("/v1/leads", json={"email": "f2@x.io", "referred_by_contact_id": theirs["id"]}),
                   422, "referred_by_contact_id")  # fmt: skip

    recent = {"last_activity_after": (utcnow() - timedelta(minutes=5)).isoformat()}
    active = {lead["id"] for lead in (await tenant.get("/v1/leads", params=recent)).json()["data"]}
    assert active == {fast["id"], str(slow["id"])}  # the referred lead has no activity yet
    before = {"last_activity_before": (utcnow() - timedelta(minutes=5)).isoformat()}
    assert (await tenant.get("/v1/leads", params=before)).json()["data"] == []
    # Sorted by last activity: only leads that have one, the latest first, page by page.
    await _created(tenant, "/v1/activities", {"lead_id": fast["id"], "type": "note"})
    first = (await tenant.get("/v1/leads", params={"sort": "-last_activity_at", "limit": 1})).json()
    second = (await tenant.get("/v1/leads", params={"sort": "-last_activity_at", "limit": 1,
                                                    "cursor": first["next_cursor"]})).json()  # fmt: skip
    assert [first["data"][0]["id"], second["data"][0]["id"]] == [fast["id"], str(slow["id"])]
    assert second["next_cursor"] is None  # the referred lead, with no activity, is not in this order
