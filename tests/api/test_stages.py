"""Temperature from behaviour and stages as the product's sources define them, through HTTP on both
databases: a fit-only lead is cold with no stage, a pricing page is not a buying signal, an MQL
waits for marketing, a stage a person set is kept from automatic lowering, IAL for leads that only
sought free information, and the filters, history and events of all of it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.config import Settings
from app.db.repositories.base import Row
from app.db.repositories.leads.leads import LeadRepository
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.concurrency import LostUpdate
from app.domain.leads.scoring import Engagement
from app.ids import utcnow
from app.services.context import SYSTEM, Context
from app.services.leads import scoring
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


# -- a person's stage and rescores that read the lead before it --------------------------------------


async def _stored(database: Database, tenant: Tenant, lead_id: str) -> Row:
    """The lead's row as a use case reads it."""
    async with UnitOfWork(database, write=False) as uow:
        row = await WorkspaceRepositories(uow, uuid.UUID(tenant.id)).leads.get(uuid.UUID(lead_id))
    assert row is not None
    return row


async def _stage_history(tenant: Tenant, lead_id: str) -> list[tuple[Any, Any, str]]:
    rows = (await tenant.get(f"/v1/leads/{lead_id}/state-changes")).json()["data"]
    return [(r["from_value"], r["to_value"], r["cause"]) for r in rows if r["kind"] == "stage"]


async def test_an_engagement_that_read_the_lead_before_a_person_set_its_stage_runs_again(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engagement's request read the lead while it still waited for marketing; marketing's
    acceptance committed before the request's score write. The write does not apply what it worked
    out from the old stage: the request runs again on the lead as it is now, and is recorded once."""
    ceo = await _lead(tenant, **REFERRED_CEO)
    url = f"/v1/leads/{ceo['id']}"
    before = await _stored(database, tenant, ceo["id"])
    accepted = await tenant.patch(url, json={"stage": "mql", "stage_reason": "budget confirmed"})
    assert (accepted.json()["stage"], accepted.json()["mql_candidate"]) == ("mql", False)

    reads = 0
    read = LeadRepository.get

    async def stale_first(repo: LeadRepository, lead_id: uuid.UUID) -> Row | None:
        nonlocal reads
        if lead_id == before["id"]:
            reads += 1
            if reads == 1:
                return dict(before)  # as read before marketing's acceptance committed
        return await read(repo, lead_id)

    monkeypatch.setattr(LeadRepository, "get", stale_first)
    response = await tenant.post(f"{url}/engagements", json={"type": "page_view"})
    monkeypatch.undo()
    assert response.status_code == 201, response.text
    assert reads == 2  # ran again on the lead as it is now

    lead = (await tenant.get(url)).json()
    assert (lead["stage"], lead["stage_manual"], lead["mql_candidate"]) == ("mql", True, False)
    assert lead["score"] > ceo["score"]  # the page view counts, once
    assert len((await tenant.get(f"{url}/engagements")).json()["data"]) == 1
    assert await _stage_history(tenant, ceo["id"]) == [(None, "mql", "manual")]
    assert len(await _events(tenant, "lead.mql_candidate_flagged")) == 1


async def test_a_rescore_in_flight_when_a_person_sets_the_stage_does_not_overwrite_it(
    tenant: Tenant, database: Database
) -> None:
    """PostgreSQL: a unit of work reads the lead, a person's PATCH commits, then the unit of work
    rescores what it read: nothing is written (LostUpdate) and the person's SQL stands."""
    if database.is_sqlite:
        pytest.skip("SQLite's writers are serialised: a write unit of work holds the lock from its start")
    lead = await _lead(tenant, email="prospect@x.io")
    url = f"/v1/leads/{lead['id']}"
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow())
        read = await WorkspaceRepositories(uow, ctx.workspace_id).leads.get(uuid.UUID(lead["id"]))
        assert read is not None
        raised = await tenant.patch(url, json={"stage": "sql", "stage_reason": "asked for a contract"})
        assert raised.status_code == 200, raised.text
        with pytest.raises(LostUpdate):
            await scoring.rescore(ctx, read, cause="engagement page_view", extra=[Engagement("page_view", ctx.now)])
    stored = (await tenant.get(url)).json()
    assert (stored["stage"], stored["stage_manual"], stored["version"]) == ("sql", True, raised.json()["version"])
    assert await _stage_history(tenant, lead["id"]) == [(None, "sql", "manual")]


async def test_the_rescore_job_rereads_a_lead_whose_stage_a_person_set_meanwhile(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of the rescore job read its leads before marketing accepted one and a person made
    another an SQL: neither choice is overwritten; both leads are rescored from their new stage,
    and the rest of the page is written as usual."""
    ceo = await _lead(tenant, **REFERRED_CEO)
    prospect = await _lead(tenant, email="prospect@x.io")
    plain = await _lead(tenant, email="someone@x.io")
    page = [await _stored(database, tenant, lead["id"]) for lead in (ceo, prospect, plain)]
    for lead in (ceo, prospect, plain):  # engagements the page's stale reads do not show
        await _engage(tenant, lead["id"], "webinar_attended")
    accepted = await tenant.patch(f"/v1/leads/{ceo['id']}", json={"stage": "mql"})
    raised = await tenant.patch(f"/v1/leads/{prospect['id']}", json={"stage": "sql"})
    assert accepted.status_code == raised.status_code == 200

    inputs = LeadRepository.scoring_inputs

    async def stale_page(repo: LeadRepository, *, after: uuid.UUID | None, limit: int) -> list[Row]:
        if after is None:
            return sorted((dict(row) for row in page), key=lambda row: row["id"])
        return await inputs(repo, after=after, limit=limit)

    monkeypatch.setattr(LeadRepository, "scoring_inputs", stale_page)
    assert (await tenant.post("/v1/leads/rescore")).status_code == 202
    await _run_jobs(database)
    monkeypatch.undo()

    shown = {lead["id"]: (await tenant.get(f"/v1/leads/{lead['id']}")).json() for lead in (ceo, prospect, plain)}
    assert [(shown[lead["id"]]["stage"], shown[lead["id"]]["mql_candidate"]) for lead in (ceo, prospect)] == [
        ("mql", False),
        ("sql", False),
    ]
    assert shown[plain["id"]]["score"] == 10.0  # written from the engagements as stored
    assert await _stage_history(tenant, ceo["id"]) == [(None, "mql", "manual")]
    assert await _stage_history(tenant, prospect["id"]) == [(None, "sql", "manual")]
    flagged = [e["data"]["id"] for e in await _events(tenant, "lead.mql_candidate_flagged")]
    assert flagged == [ceo["id"]]  # flagged once, when it was captured
