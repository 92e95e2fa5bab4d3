"""Scoring through HTTP on both databases: capture, engagements, score explanations, temperature and
stage changes with their history and events, settings, tracking, batches and rescoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.db.session import Database
from app.worker import jobs
from tests.conftest import Tenant, assert_problem

SITE = "https://www.shop.example"


async def _capture(tenant: Tenant, **fields: str) -> dict:  # type: ignore[type-arg]
    form = (await tenant.post("/v1/forms", json={"name": "Contact", "allowed_origins": [SITE]})).json()
    response = await tenant.client.post(
        f"/v1/forms/{form['id']}/submissions",
        json=fields,
        headers={"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE},
    )
    assert response.status_code == 201, response.text
    return dict((await tenant.get(f"/v1/leads/{await tenant.lead_of(response)}")).json())


async def _types(tenant: Tenant) -> list[str]:
    return [e["type"] for e in (await tenant.get("/v1/events", params={"limit": 100})).json()["data"]]


async def test_engagements_heat_a_captured_lead_and_every_change_is_explained(tenant: Tenant) -> None:
    lead = await _capture(tenant, email="sara@x.io", job_title="CEO", company="Acme")
    assert (lead["temperature"], lead["stage"], lead["fit_score"]) == ("cold", None, 18.0)
    assert lead["score"] == 18.0 and lead["scored_at"] is not None

    url = f"/v1/leads/{lead['id']}"
    viewed = await tenant.post(f"{url}/engagements", json={"type": "content_download", "properties": {"asset": "e"}})
    assert viewed.status_code == 201 and viewed.json()["origin"] == "api"
    cooler = (await tenant.get(url)).json()
    assert cooler["behavior_score"] == 5.0 and cooler["temperature"] == "cold"  # one engagement
    assert cooler["stage"] == "ial"  # it only sought free information so far
    assert "lead.updated" not in await _types(tenant)  # engagements are history, not lead changes

    demo = await tenant.post(f"{url}/engagements", json={"type": "demo_request"})
    assert demo.status_code == 201
    hot = (await tenant.get(url)).json()
    assert (hot["temperature"], hot["stage"], hot["score"]) == ("hot", "sql", 48.0)
    assert hot["last_engaged_at"] is not None

    types = await _types(tenant)
    assert {"lead.temperature_changed", "lead.stage_changed", "lead.score_changed"} <= set(types)
    [change] = (await tenant.get("/v1/events", params={"type": "lead.temperature_changed"})).json()["data"]
    assert change["previous_attributes"]["temperature"] == "cold" and change["data"]["temperature"] == "hot"

    history = (await tenant.get(f"{url}/state-changes")).json()["data"]
    changes = [(h["kind"], h["from_value"], h["to_value"]) for h in history]  # newest first
    assert set(changes[:2]) == {("temperature", "cold", "hot"), ("stage", "ial", "sql")}
    assert changes[2:] == [("stage", None, "ial")]
    assert all(h["cause"].startswith("engagement demo_request: recent demo_request") for h in history[:2])
    assert history[2]["cause"] == "engagement content_download: only free information (content_download)"
    assert {h["changed_by"]["type"] for h in history} == {"api_key"} and history[0]["reason"] is None

    score = (await tenant.get(f"{url}/score")).json()
    assert round(sum(line["points"] for line in score["lines"]), 2) == score["score"] == 48.0
    labels = {line["label"]: line["points"] for line in score["lines"]}
    assert labels["decision maker"] == 15 and labels["demo request x1"] == 25
    assert score["reasons"] == {"temperature": "recent demo_request", "stage": "recent demo_request"}
    listed = (await tenant.get(f"{url}/engagements")).json()["data"]
    assert [e["type"] for e in listed] == ["demo_request", "content_download"]


async def test_a_change_to_who_the_lead_is_rescores_it_in_the_same_version(tenant: Tenant) -> None:
    lead = (await tenant.post("/v1/leads", json={"email": "a@x.io", "job_title": "Intern"})).json()
    assert lead["fit_score"] == 0
    changed = await tenant.patch(f"/v1/leads/{lead['id']}", json={"job_title": "Founder", "company_size": "5001+"})
    body = changed.json()
    assert (body["fit_score"], body["version"]) == (30.0, lead["version"] + 1)
    assert (body["temperature"], body["stage"]) == ("cold", None)  # fit ranks a lead; it never warms it


async def test_hot_leads_first_with_score_filters(tenant: Tenant) -> None:
    ids = {}
    for name, title in (("low", None), ("mid", "CEO"), ("top", "CEO")):
        ids[name] = (await tenant.post("/v1/leads", json={"email": f"{name}@x.io", "job_title": title})).json()["id"]
    await tenant.post(f"/v1/leads/{ids['top']}/engagements", json={"type": "demo_request"})
    ordered = (await tenant.get("/v1/leads", params={"sort": "-score", "limit": 2})).json()
    assert [x["id"] for x in ordered["data"]] == [ids["top"], ids["mid"]]
    rest = (await tenant.get("/v1/leads", params={"sort": "-score", "cursor": ordered["next_cursor"]})).json()
    assert [x["id"] for x in rest["data"]] == [ids["low"]]
    hot = (await tenant.get("/v1/leads", params={"temperature": "hot"})).json()["data"]
    assert [x["id"] for x in hot] == [ids["top"]]
    ranged = (await tenant.get("/v1/leads", params={"score_min": 10, "score_max": 20})).json()["data"]
    assert [x["id"] for x in ranged] == [ids["mid"]]
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    engaged = (await tenant.get("/v1/leads", params={"engaged_after": since})).json()["data"]
    assert [x["id"] for x in engaged] == [ids["top"]]


async def test_engagement_input_is_checked(tenant: Tenant) -> None:
    lead = (await tenant.post("/v1/leads", json={"email": "a@x.io"})).json()
    url = f"/v1/leads/{lead['id']}/engagements"
    assert_problem(await tenant.post(url, json={"type": "dance"}), 422, "type")
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert_problem(await tenant.post(url, json={"type": "page_view", "occurred_at": future}), 422, "occurred_at")
    assert (await tenant.get(url)).json()["data"] == []


async def test_batch_engagements_match_by_id_email_or_external_id(tenant: Tenant) -> None:
    by_id = (await tenant.post("/v1/leads", json={"email": "one@x.io"})).json()
    await tenant.post("/v1/leads", json={"email": "Two@X.io"})
    by_external = (await tenant.post("/v1/leads", json={"email": "three@x.io", "external_id": "crm-3"})).json()
    items = [
        {"lead_id": by_id["id"], "type": "email_open"},
        {"email": "two@x.io", "type": "email_click", "properties": {"campaign": "winter"}},
        {"external_id": "crm-3", "type": "webinar_attended"},
        {"email": "nobody@x.io", "type": "email_open"},
        {"lead_id": by_id["id"], "type": "teleport"},
        {"type": "email_open"},
        {"lead_id": by_id["id"], "type": "email_open"},
    ]
    response = await tenant.post("/v1/engagements", json={"engagements": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["recorded"] * 3 + ["error"] * 3 + ["recorded"]
    assert results[3]["problem"]["status"] == 404 and results[4]["problem"]["errors"][0]["field"] == "type"
    assert results[5]["problem"]["errors"][0]["field"] == "lead_id"
    one = (await tenant.get(f"/v1/leads/{by_id['id']}")).json()
    assert one["behavior_score"] == 2.0
    three = (await tenant.get(f"/v1/leads/{by_external['id']}")).json()
    assert three["behavior_score"] == 10.0
    too_many = await tenant.post("/v1/engagements", json={"engagements": [{"type": "page_view"}] * 1001})
    assert_problem(too_many, 422, "engagements")


async def test_tracked_visits_count_once_a_form_names_the_visitor(tenant: Tenant) -> None:
    beacon = {"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE}
    for _ in range(3):
        sent = await tenant.client.post(
            "/v1/tracking/engagements",
            content=b'{"visitor_id": "visitor-123", "type": "content_download"}',
            headers={**beacon, "Content-Type": "text/plain"},
        )
        assert sent.status_code == 201, sent.text
        assert sent.headers["access-control-allow-origin"] == SITE
    refused = await tenant.client.post(
        "/v1/tracking/engagements", json={"visitor_id": "visitor-123", "type": "demo_request"}, headers=beacon
    )
    assert_problem(refused, 422, "type")  # a public key cannot make a lead hot
    secret = await tenant.client.post(
        "/v1/tracking/engagements",
        json={"visitor_id": "visitor-123", "type": "page_view"},
        headers={"Authorization": f"Bearer {tenant.secret_key}"},
    )
    assert_problem(secret, 403)
    lead = await _capture(tenant, email="visitor@x.io", visitor_id="visitor-123")
    assert (lead["behavior_score"], lead["temperature"], lead["stage"]) == (15.0, "warm", "ial")  # 3 downloads
    tracked = (await tenant.get(f"/v1/leads/{lead['id']}/engagements")).json()["data"]
    assert [e["origin"] for e in tracked] == ["tracking"] * 3


async def test_scoring_settings_validate_rules_and_rescore_everything(tenant: Tenant, database: Database) -> None:
    lead = (await tenant.post("/v1/leads", json={"email": "a@x.io", "industry": "Dentistry"})).json()
    assert lead["fit_score"] == 0
    current = (await tenant.get("/v1/settings/scoring")).json()
    assert current["half_life_days"] == 30 and current["behavior_weights"]["demo_request"] == 25
    bad = {
        "fit_rules": [
            {"field": "industry", "operator": "in", "value": ["Dentistry"], "points": 20},
            {"field": "favourite_colour", "operator": "equals", "value": "red", "points": 5},
        ]
    }
    assert_problem(await tenant.request("PUT", "/v1/settings/scoring", json=bad), 422, "fit_rules.1.field")
    out_of_range = {"fit_rules": [{"field": "industry", "operator": "equals", "value": "x", "points": 500}]}
    assert_problem(await tenant.patch("/v1/settings/scoring", json=out_of_range), 422, "fit_rules.0.points")
    huge = await tenant.patch("/v1/settings/scoring", json={"behavior_weights": {"page_view": 1e300}})
    assert_problem(huge, 422, "behavior_weights.page_view")  # found by schemathesis: it broke every score
    good = {"fit_rules": bad["fit_rules"][:1], "half_life_days": 7}
    saved = await tenant.request("PUT", "/v1/settings/scoring", json=good)
    assert saved.status_code == 200, saved.text
    assert saved.json()["half_life_days"] == 7 and saved.json()["fit_cap"] == 50  # PUT: the rest are defaults
    queued = (await tenant.get("/v1/jobs")).json()["data"]
    assert [j["kind"] for j in queued] == ["leads.rescore"]
    while await jobs.run_due(database, Settings(database_url=database.settings.database_url)):
        pass
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["fit_score"] == 20.0
    job = (await tenant.get(f"/v1/jobs/{queued[0]['id']}")).json()
    assert job["status"] == "succeeded" and job["result"]["changed"] >= 1
    asked = await tenant.post("/v1/leads/rescore")
    assert asked.status_code == 202 and asked.headers["location"].startswith("/v1/jobs/")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_rescoring_lets_behaviour_fade(tenant: Tenant, database: Database) -> None:
    lead = (await tenant.post("/v1/leads", json={"email": "old@x.io"})).json()
    long_ago = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    await tenant.post(f"/v1/leads/{lead['id']}/engagements", json={"type": "webinar_attended", "occurred_at": long_ago})
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["behavior_score"] == 2.5  # 10 points, 2 half-lives


async def _track(tenant: Tenant, visitor_id: str, kind: str, times: int) -> None:
    beacon = {"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE}
    for _ in range(times):
        sent = await tenant.client.post(
            "/v1/tracking/engagements", json={"visitor_id": visitor_id, "type": kind}, headers=beacon
        )
        assert sent.status_code == 201, sent.text


async def _submit(tenant: Tenant, form_id: str, **fields: str) -> None:
    response = await tenant.client.post(
        f"/v1/forms/{form_id}/submissions",
        json=fields,
        headers={"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE},
    )
    assert response.status_code == 201, response.text


async def test_a_stranger_cannot_pin_engagements_on_someone_elses_lead(tenant: Tenant) -> None:
    """Anyone may post engagements under a visitor id they chose and then submit a victim's email:
    those engagements stay anonymous; the victim's lead counts only the submission itself, exactly
    as it would without them."""
    form = (await tenant.post("/v1/forms", json={"name": "Contact", "allowed_origins": [SITE]})).json()
    victim = (await tenant.post("/v1/leads", json={"email": "victim@x.io", "first_name": "Vic"})).json()
    twin = (await tenant.post("/v1/leads", json={"email": "twin@x.io", "first_name": "Vic"})).json()
    assert victim["score"] == twin["score"] == 0
    await _track(tenant, "attacker-chosen", "content_download", 10)
    await _submit(tenant, form["id"], email="victim@x.io", visitor_id="attacker-chosen")
    await _submit(tenant, form["id"], email="twin@x.io")  # the same submission, no engagements before it
    after = (await tenant.get(f"/v1/leads/{victim['id']}")).json()
    assert after["behavior_score"] == (await tenant.get(f"/v1/leads/{twin['id']}")).json()["behavior_score"]
    assert after["temperature"] == "cold"
    kinds = [e["type"] for e in (await tenant.get(f"/v1/leads/{victim['id']}/engagements")).json()["data"]]
    assert kinds == ["form_submit"]  # the attacker's downloads were not linked


async def test_a_returning_visitor_whose_lead_carries_the_visitor_id_gets_new_engagements(tenant: Tenant) -> None:
    form = (await tenant.post("/v1/forms", json={"name": "Contact", "allowed_origins": [SITE]})).json()
    await _track(tenant, "visitor-7", "page_view", 2)
    lead = await _capture(tenant, email="back@x.io", visitor_id="visitor-7")  # a new lead: they are its
    engagements = (await tenant.get(f"/v1/leads/{lead['id']}/engagements")).json()["data"]
    assert [e["origin"] for e in engagements] == ["tracking", "tracking"]
    await _track(tenant, "visitor-7", "content_download", 3)
    await _submit(tenant, form["id"], email="back@x.io", visitor_id="visitor-7")
    engagements = (await tenant.get(f"/v1/leads/{lead['id']}/engagements")).json()["data"]
    assert sorted(e["type"] for e in engagements) == ["content_download"] * 3 + ["form_submit"] + ["page_view"] * 2
    rescored = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    assert rescored["behavior_score"] > lead["behavior_score"]
