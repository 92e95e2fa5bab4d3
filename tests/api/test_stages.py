"""Temperature from behaviour and stages as the product's sources define them, through HTTP on both
databases: a fit-only lead is cold with no stage, a pricing page is not a buying signal, an MQL
waits for marketing, a stage a person set is kept from automatic lowering, IAL for leads that only
sought free information, and the filters, history and events of all of it."""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.db.session import Database
from app.worker import jobs
from tests.conftest import Tenant, assert_problem

SITE = "https://www.shop.example"
REFERRED_CEO = {"email": "ceo@acme.example", "source": "referral", "job_title": "CEO"}


async def _lead(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/leads", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _engage(tenant: Tenant, lead_id: str, kind: str) -> dict[str, Any]:
    assert (await tenant.post(f"/v1/leads/{lead_id}/engagements", json={"type": kind})).status_code == 201
    return dict((await tenant.get(f"/v1/leads/{lead_id}")).json())


async def _ids(tenant: Tenant, **params: Any) -> list[str]:
    return [lead["id"] for lead in (await tenant.get("/v1/leads", params=params)).json()["data"]]


async def _events(tenant: Tenant, event_type: str) -> list[dict[str, Any]]:
    return list((await tenant.get("/v1/events", params={"type": event_type, "limit": 100})).json()["data"])


async def _run_jobs(database: Database) -> None:
    while await jobs.run_due(database, Settings(database_url=database.settings.database_url)):
        pass


async def test_a_referred_ceo_who_never_interacted_is_cold_with_no_stage(tenant: Tenant) -> None:
    """The source: cold = gave contact details only, no interaction. Fit ranks the lead first, but
    neither warms it nor gives it a stage."""
    ceo = await _lead(tenant, **REFERRED_CEO)
    plain = await _lead(tenant, email="someone@x.io")
    assert (ceo["score"], ceo["fit_score"], ceo["behavior_score"]) == (40.0, 40.0, 0.0)
    assert (ceo["temperature"], ceo["stage"]) == ("cold", None)
    assert await _ids(tenant, sort="-score") == [ceo["id"], plain["id"]]  # fit still ranks
    assert set(await _ids(tenant, stage="none")) == {ceo["id"], plain["id"]}
    assert await _ids(tenant, stage="ial") == []
    score = (await tenant.get(f"/v1/leads/{ceo['id']}/score")).json()
    assert (score["temperature"], score["stage"], score["mql_candidate"]) == ("cold", None, True)
    assert score["reasons"]["temperature"] == "no engagement in 90 days"


async def test_a_pricing_page_view_alone_is_not_hot_and_a_demo_request_is(tenant: Tenant) -> None:
    """The source: hot = ready to buy within days, asks for a price or a demo."""
    lead = await _lead(tenant, email="shopper@x.io")
    viewed = await _engage(tenant, lead["id"], "pricing_page_view")
    assert viewed["temperature"] == "cold"  # one engagement
    again = await _engage(tenant, lead["id"], "pricing_page_view")
    assert again["temperature"] == "warm"  # engaged more than once
    assert await _ids(tenant, temperature="hot") == []
    demo = await _engage(tenant, lead["id"], "demo_request")
    assert (demo["temperature"], demo["stage"]) == ("hot", "sql")
    quote = await _lead(tenant, email="buyer@x.io")
    quoted = await _engage(tenant, quote["id"], "quote_request")
    assert (quoted["temperature"], quoted["stage"]) == ("hot", "sql")
    assert set(await _ids(tenant, temperature="hot")) == {lead["id"], quote["id"]}
    changed = await _events(tenant, "lead.temperature_changed")
    assert [(e["previous_attributes"]["temperature"], e["data"]["temperature"]) for e in changed] == [
        ("cold", "warm"),
        ("warm", "hot"),
        ("cold", "hot"),  # the quote request
    ]


async def test_an_mql_waits_for_marketing_to_accept_it(tenant: Tenant, database: Database) -> None:
    ceo = await _lead(tenant, **REFERRED_CEO)
    assert (ceo["stage"], ceo["mql_candidate"], ceo["stage_manual"]) == (None, True, False)
    assert await _ids(tenant, mql_candidate="true") == [ceo["id"]]
    [flagged] = await _events(tenant, "lead.mql_candidate_flagged")
    assert flagged["data"]["id"] == ceo["id"] and flagged["data"]["mql_candidate"] is True

    # The score rises: still marketing's call, not a stage.
    busy = await _engage(tenant, ceo["id"], "webinar_attended")
    assert (busy["score"], busy["stage"], busy["mql_candidate"]) == (50.0, None, True)

    url = f"/v1/leads/{ceo['id']}"
    accepted = await tenant.patch(url, json={"stage": "mql", "stage_reason": "called back, budget confirmed"})
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert (body["stage"], body["mql_candidate"], body["stage_manual"]) == ("mql", False, True)
    assert body["version"] == busy["version"] + 1
    [change] = (await tenant.get(f"{url}/state-changes")).json()["data"][:1]
    assert (change["kind"], change["from_value"], change["to_value"]) == ("stage", None, "mql")
    assert (change["cause"], change["reason"]) == ("manual", "called back, budget confirmed")
    assert change["changed_by"]["type"] == "api_key"
    [stage_changed] = await _events(tenant, "lead.stage_changed")
    assert stage_changed["previous_attributes"]["stage"] is None and stage_changed["data"]["stage"] == "mql"
    assert await _ids(tenant, mql_candidate="true") == []
    assert await _ids(tenant, stage="mql") == [ceo["id"]]

    # Accepted, an MQL moves on by its score: SQL at 70 points.
    for _ in range(2):
        now_sql = await _engage(tenant, ceo["id"], "webinar_attended")
    assert (now_sql["score"], now_sql["stage"], now_sql["stage_manual"]) == (70.0, "sql", True)
    assert len(await _events(tenant, "lead.mql_candidate_flagged")) == 1


async def test_marketing_turning_a_candidate_down_is_history_too(tenant: Tenant) -> None:
    ceo = await _lead(tenant, **REFERRED_CEO)
    url = f"/v1/leads/{ceo['id']}"
    rejected = await tenant.patch(url, json={"stage": None, "stage_reason": "a competitor's CEO"})
    body = rejected.json()
    assert (body["stage"], body["mql_candidate"], body["stage_manual"]) == (None, False, True)
    [row] = (await tenant.get(f"{url}/state-changes")).json()["data"]
    assert (row["from_value"], row["to_value"], row["cause"], row["reason"]) == (
        None,
        None,
        "manual",
        "a competitor's CEO",
    )
    assert await _events(tenant, "lead.stage_changed") == []  # the stage did not change
    assert (await tenant.patch(url, json={"stage": None})).json()["version"] == body["version"]  # decided already
    assert len((await tenant.get(f"{url}/state-changes")).json()["data"]) == 1
    again = await _engage(tenant, ceo["id"], "email_click")
    assert (again["stage"], again["mql_candidate"]) == (None, False)  # the same score does not flag it again


async def test_without_acceptance_the_score_moves_a_lead_to_mql(tenant: Tenant, database: Database) -> None:
    ceo = await _lead(tenant, **REFERRED_CEO)
    saved = await tenant.patch("/v1/settings/scoring", json={"mql_requires_acceptance": False})
    assert saved.status_code == 200 and saved.json()["mql_requires_acceptance"] is False
    await _run_jobs(database)  # the settings change rescores every lead
    moved = (await tenant.get(f"/v1/leads/{ceo['id']}")).json()
    assert (moved["stage"], moved["mql_candidate"], moved["stage_manual"]) == ("mql", False, False)
    [change] = (await tenant.get(f"/v1/leads/{ceo['id']}/state-changes")).json()["data"]
    assert (change["from_value"], change["to_value"], change["cause"]) == (
        None,
        "mql",
        "scoring settings changed: score ≥ 40.00",
    )
    assert change["changed_by"] == {"type": "system", "id": None}
    fresh = await _lead(tenant, email="cfo@acme.example", source="referral", job_title="CFO")
    assert (fresh["stage"], fresh["mql_candidate"]) == ("mql", False)


async def test_automatic_changes_never_lower_a_stage_a_person_set(tenant: Tenant, database: Database) -> None:
    lead = await _lead(tenant, email="prospect@x.io")
    raised = await tenant.patch(f"/v1/leads/{lead['id']}", json={"stage": "sql"})
    assert (raised.json()["stage"], raised.json()["stage_manual"]) == ("sql", True)
    # Rescoring finds no signal at all: the person's SQL stands.
    assert (await tenant.post("/v1/leads/rescore")).status_code == 202
    await _run_jobs(database)
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["stage"] == "sql"

    # A person lowers a lead the rules made an SQL: the same demo request does not raise it again.
    demo = await _lead(tenant, email="demo@x.io")
    assert (await _engage(tenant, demo["id"], "demo_request"))["stage"] == "sql"
    lowered = await tenant.patch(f"/v1/leads/{demo['id']}", json={"stage": None, "stage_reason": "a student"})
    assert (lowered.json()["stage"], lowered.json()["temperature"]) == (None, "hot")  # temperature is behaviour
    assert (await _engage(tenant, demo["id"], "page_view"))["stage"] is None
    history = (await tenant.get(f"/v1/leads/{demo['id']}/state-changes")).json()["data"]
    latest = next(h for h in history if h["kind"] == "stage")
    assert (latest["from_value"], latest["to_value"], latest["cause"], latest["reason"]) == (
        "sql",
        None,
        "manual",
        "a student",
    )
    event = [e for e in await _events(tenant, "lead.stage_changed") if e["data"]["id"] == demo["id"]][-1]
    assert event["data"]["stage"] is None and event["previous_attributes"] == {"stage": "sql", "stage_manual": False}


async def test_ial_is_a_lead_that_only_sought_free_information(tenant: Tenant) -> None:
    """A newsletter form records a sign-up on the lead it makes: an IAL, cold, until it does more."""
    form = await tenant.post(
        "/v1/forms", json={"name": "Newsletter", "allowed_origins": [SITE], "engagement_type": "newsletter_signup"}
    )
    assert form.status_code == 201 and form.json()["engagement_type"] == "newsletter_signup"
    posted = await tenant.client.post(
        f"/v1/forms/{form.json()['id']}/submissions",
        json={"email": "reader@x.io"},
        headers={"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE},
    )
    assert posted.status_code == 201, posted.text
    lead_id = await tenant.lead_of(posted)
    lead = (await tenant.get(f"/v1/leads/{lead_id}")).json()
    assert (lead["stage"], lead["temperature"], lead["behavior_score"]) == ("ial", "cold", 3.0)
    [signup] = (await tenant.get(f"/v1/leads/{lead_id}/engagements")).json()["data"]
    assert signup["type"] == "newsletter_signup" and signup["properties"]["form_id"] == form.json()["id"]
    assert await _ids(tenant, stage="ial") == [lead_id]
    again = await tenant.client.post(
        f"/v1/forms/{form.json()['id']}/submissions",
        json={"email": "reader@x.io"},
        headers={"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE},
    )
    assert again.status_code == 201 and await tenant.lead_of(again) == lead_id  # the same person: the same lead
    kinds = [e["type"] for e in (await tenant.get(f"/v1/leads/{lead_id}/engagements")).json()["data"]]
    assert kinds == ["newsletter_signup", "newsletter_signup"]  # what the form is for, not form_submit
    downloaded = await _engage(tenant, str(lead_id), "content_download")
    assert (downloaded["stage"], downloaded["temperature"]) == ("ial", "warm")
    webinar = await _engage(tenant, str(lead_id), "webinar_attended")
    assert webinar["stage"] is None  # more than free information: no longer an IAL, not yet qualified


async def test_stage_input_is_checked(tenant: Tenant) -> None:
    lead = await _lead(tenant, email="a@x.io")
    url = f"/v1/leads/{lead['id']}"
    assert_problem(await tenant.patch(url, json={"stage": "vip"}), 422, "stage")
    assert_problem(await tenant.patch(url, json={"stage_reason": "why not"}), 422, "stage_reason")
    assert_problem(await tenant.patch(url, json={"stage": "mql", "stage_reason": ""}), 422, "stage_reason")
    assert_problem(await tenant.get("/v1/leads", params={"stage": "maybe"}), 422, "stage")
    assert_problem(await tenant.get("/v1/leads", params={"mql_candidate": "perhaps"}), 422, "mql_candidate")
    assert_problem(await tenant.post("/v1/forms", json={"name": "F", "engagement_type": "unsubscribe"}), 422)
    unchanged = (await tenant.get(url)).json()
    assert (unchanged["stage"], unchanged["version"]) == (None, lead["version"])
    same = await tenant.patch(url, json={"email": "a@x.io"})
    assert same.json()["version"] == lead["version"]  # nothing changed: no stage set either


async def test_workspaces_that_keep_the_score_rule_warm_a_lead_by_its_fit(tenant: Tenant) -> None:
    saved = await tenant.patch("/v1/settings/scoring", json={"temperature_from": "score"})
    assert saved.status_code == 200
    ceo = await _lead(tenant, **REFERRED_CEO)
    assert (ceo["temperature"], ceo["stage"], ceo["mql_candidate"]) == ("warm", None, True)


async def test_routing_and_the_sla_name_leads_with_no_stage_none(tenant: Tenant) -> None:
    member = await tenant.post("/v1/members", json={"name": "Nurture", "email": "nurture@team.io"})
    rules = {"rules": [{"name": "no stage yet", "when": {"stages": ["none"]}, "member_id": member.json()["id"]}]}
    assert (await tenant.request("PUT", "/v1/settings/routing", json=rules)).status_code == 200
    sla = {"stages": ["sql"], "sources": None, "business_hours": None}
    assert (await tenant.patch("/v1/settings/sla", json=sla)).status_code == 200
    lead = await _lead(tenant, email="new@x.io")
    assert (lead["owner_id"], lead["sla_status"]) == (member.json()["id"], "not_applicable")
    assert (await tenant.patch("/v1/settings/sla", json={"stages": ["none"]})).status_code == 200
    assert (await _lead(tenant, email="next@x.io"))["sla_status"] == "pending"
    assert_problem(await tenant.patch("/v1/settings/sla", json={"stages": ["nothing"]}), 422, "stages.0")
