"""Campaigns through the API on both databases: a draft, its validation (each 422 naming the
field), submission, reviews by members (never the author, each member once, from enough review
groups), edits that withdraw approvals, rejection, cancellation, scopes and settings."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Tenant, assert_problem


async def template(tenant: Tenant, channel: str = "sms") -> str:
    body = {"name": f"t-{channel}", "channel": channel, "body_text": "Hello {{ person.first_name }}"}
    if channel == "email":
        body["subject"] = "Hello"
    created = await tenant.post("/v1/templates", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def member(tenant: Tenant, name: str, review_group: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "email": f"{name.lower()}-{uuid.uuid4().hex[:6]}@x.io"}
    if review_group is not None:
        body["review_group"] = review_group
    created = await tenant.post("/v1/members", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["review_group"] == review_group
    return str(created.json()["id"])


async def reviewer(tenant: Tenant, name: str, review_group: str | None = None) -> str:
    """A key bound to a new member, allowed to review."""
    return await tenant.key_with("campaigns:review", member_id=await member(tenant, name, review_group))


def definition(template_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Nowruz sale",
        "channel": "sms",
        "audience": {"type": "contacts", "conditions": {"field": "tags", "op": "eq", "value": "vip"}},
        "variants": [{"name": "a", "template_id": template_id, "weight": 1}],
        **changes,
    }


async def in_review(tenant: Tenant, author_key: str | None = None, **changes: Any) -> dict[str, Any]:
    created = await tenant.post("/v1/campaigns", json=definition(await template(tenant), **changes), key=author_key)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/v1/campaigns/{created.json()['id']}"
    submitted = await tenant.post(f"/v1/campaigns/{created.json()['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "in_review"
    return dict(submitted.json())


async def review(tenant: Tenant, campaign: dict[str, Any], key: str, decision: str = "approve", **body: Any) -> Any:
    return await tenant.post(f"/v1/campaigns/{campaign['id']}/reviews", json={"decision": decision, **body}, key=key)


async def history(tenant: Tenant, campaign: dict[str, Any]) -> list[dict[str, Any]]:
    listed = await tenant.get(f"/v1/campaigns/{campaign['id']}/reviews")
    assert listed.status_code == 200, listed.text
    return list(listed.json()["data"])


async def test_a_draft_reads_its_definition_author_and_what_launch_lacks(tenant: Tenant) -> None:
    author = await member(tenant, "Author")
    key = await tenant.key_with("campaigns:write", "templates:read", member_id=author)
    body = definition(
        await template(tenant),
        holdout_percent=10,
        pilot={"percent": 5, "wait_hours": 4, "auto_pause": {"max_unsubscribe_rate": 0.01}},
        send_at={"date": "2027-03-15", "local_time": "10:00"},
        goal={"event": "order.created"},
        cost={"amount": "250.50", "currency": "USD"},
    )
    created = await tenant.post("/v1/campaigns", json=body, key=key)
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["status"] == "draft" and campaign["author_member_id"] == author
    assert campaign["cost"] == {"amount": "250.50", "currency": "USD"}
    assert campaign["pilot"] == {
        "percent": 5,
        "wait_hours": 4,
        "auto_pause": {"max_unsubscribe_rate": 0.01},
        "winner_only": False,
    }
    assert campaign["send_at"] == {"date": "2027-03-15", "local_time": "10:00:00"}
    assert (campaign["attribution_days"], campaign["utm"], campaign["version"]) == (7, True, 1)
    assert (campaign["approvals"], campaign["required_approvals"]) == (0, 3)
    assert campaign["missing"] == ["submission for review", "3 more approvals"]
    fetched = await tenant.get(f"/v1/campaigns/{campaign['id']}")
    assert fetched.json() == campaign and fetched.headers["etag"] == '"1"'
    # an admin key bound to no member: no author
    unbound = await tenant.post("/v1/campaigns", json={"name": "Later", "channel": "email"})
    assert unbound.json()["author_member_id"] is None
    assert unbound.json()["missing"][:2] == ["an audience", "at least one variant"]


async def test_three_distinct_members_approve_and_a_repeated_approval_does_not_count(tenant: Tenant) -> None:
    campaign = await in_review(tenant)
    assert campaign["missing"] == ["3 more approvals"]
    sara, reza, mina = [await reviewer(tenant, n) for n in ("Sara", "Reza", "Mina")]
    first = await review(tenant, campaign, sara)
    assert first.status_code == 200, first.text
    assert (first.json()["approvals"], first.json()["status"]) == (1, "in_review")
    again = await review(tenant, campaign, sara, comment="still fine")
    assert again.json()["approvals"] == 1 and again.json()["missing"] == ["2 more approvals"]
    assert (await review(tenant, campaign, reza)).json()["approvals"] == 2
    approved = await review(tenant, campaign, mina)
    assert approved.json()["status"] == "approved" and approved.json()["approvals"] == 3
    assert approved.json()["missing"] == [] and approved.json()["approved_at"] is not None
    reviews = await history(tenant, campaign)
    assert [(r["decision"], r["counts"]) for r in reviews] == [("approve", True), ("approve", False)] + [
        ("approve", True)
    ] * 2
    assert reviews[1]["comment"] == "still fine"
    # every review is announced, and the approval once
    kinds = [e["type"] for e in (await tenant.get("/v1/events", params={"resource_id": campaign["id"]})).json()["data"]]
    assert sorted(kinds) == sorted(["campaign.submitted"] + ["campaign.reviewed"] * 4 + ["campaign.approved"])
    # approved: no more reviews
    late = await review(tenant, campaign, await reviewer(tenant, "Late"))
    assert_problem(late, 409)


async def test_the_author_cannot_approve_their_own_campaign(tenant: Tenant) -> None:
    author = await member(tenant, "Author")
    author_key = await tenant.key_with("campaigns:write", "campaigns:review", member_id=author)
    campaign = await in_review(tenant, author_key)
    refused = await review(tenant, campaign, author_key)
    assert assert_problem(refused, 409)["type"] == "/problems/self-review"
    assert await history(tenant, campaign) == []


async def test_an_edit_after_two_approvals_withdraws_them_and_returns_to_draft(tenant: Tenant) -> None:
    campaign = await in_review(tenant)
    for name in ("Sara", "Reza"):
        assert (await review(tenant, campaign, await reviewer(tenant, name))).status_code == 200
    renamed = await tenant.patch(f"/v1/campaigns/{campaign['id']}", json={"name": "Nowruz sale 1405"})
    assert (renamed.json()["status"], renamed.json()["approvals"]) == ("in_review", 2)  # a label only
    edited = await tenant.patch(
        f"/v1/campaigns/{campaign['id']}", json={"holdout_percent": 20}, headers={"If-Match": renamed.headers["etag"]}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["status"], edited.json()["approvals"], edited.json()["holdout_percent"]) == ("draft", 0, 20)
    reviews = await history(tenant, campaign)
    assert len(reviews) == 2 and all(not r["counts"] and r["withdrawn_at"] for r in reviews)
    resubmitted = await tenant.post(f"/v1/campaigns/{campaign['id']}/submit")
    assert (resubmitted.json()["status"], resubmitted.json()["approvals"]) == ("in_review", 0)
    stale = await tenant.patch(f"/v1/campaigns/{campaign['id']}", json={"name": "x"}, headers={"If-Match": '"1"'})
    assert_problem(stale, 412)


async def test_approvals_must_come_from_enough_review_groups(tenant: Tenant) -> None:
    settings = await tenant.patch(
        "/v1/settings/campaigns", json={"required_approvals": 2, "require_distinct_review_groups": 2}
    )
    assert settings.status_code == 200, settings.text
    campaign = await in_review(tenant)
    assert (campaign["required_approvals"], campaign["required_review_groups"]) == (2, 2)
    await review(tenant, campaign, await reviewer(tenant, "Lawyer", "legal"))
    same_group = await review(tenant, campaign, await reviewer(tenant, "Counsel", "Legal"))
    assert (same_group.json()["status"], same_group.json()["approvals"]) == ("in_review", 2)
    assert same_group.json()["missing"] == ["approvals from 1 more review group"]
    brand = await review(tenant, campaign, await reviewer(tenant, "Designer", "brand"))
    assert (brand.json()["status"], brand.json()["review_groups"]) == ("approved", 2)


async def test_a_rejection_sends_the_campaign_back_to_draft_with_its_comment(tenant: Tenant) -> None:
    campaign = await in_review(tenant)
    sara = await reviewer(tenant, "Sara")
    await review(tenant, campaign, sara)
    rejected = await review(tenant, campaign, await reviewer(tenant, "Reza"), "reject", comment="wrong offer")
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["approvals"]) == ("draft", 1)
    changes = await review(tenant, campaign, sara, "request_changes")
    assert_problem(changes, 409)  # a draft is not reviewed
    reviews = await history(tenant, campaign)
    assert [(r["decision"], r["comment"]) for r in reviews] == [("approve", None), ("reject", "wrong offer")]
    # the same member asking for changes takes their own approval back
    await tenant.post(f"/v1/campaigns/{campaign['id']}/submit")
    back = await review(tenant, campaign, sara, "request_changes", comment="shorter text")
    assert (back.json()["status"], back.json()["approvals"]) == ("draft", 0)


async def test_a_review_needs_a_member_bound_key_with_the_review_scope(tenant: Tenant) -> None:
    campaign = await in_review(tenant)
    unbound = await review(tenant, campaign, tenant.secret_key)  # admin, but no one
    assert assert_problem(unbound, 409)["type"] == "/problems/member-key-required"
    writer = await tenant.key_with("campaigns:write", member_id=await member(tenant, "Writer"))
    assert_problem(await review(tenant, campaign, writer), 403)
    reader = await tenant.key_with("campaigns:review")
    assert (await tenant.get(f"/v1/campaigns/{campaign['id']}", key=reader)).status_code == 200  # review reads
    assert_problem(await tenant.post("/v1/campaigns", json={"name": "x", "channel": "sms"}, key=reader), 403)
    assert_problem(await review(tenant, campaign, reader), 409)
    assert_problem(await tenant.get("/v1/campaigns", key=await tenant.key_with("journeys:read")), 403)


async def test_reviews_submission_and_cancellation_follow_the_status(tenant: Tenant) -> None:
    created = (await tenant.post("/v1/campaigns", json={"name": "Bare", "channel": "sms"})).json()
    assert_problem(await review(tenant, created, await reviewer(tenant, "Sara")), 409)
    incomplete = await tenant.post(f"/v1/campaigns/{created['id']}/submit")
    assert_problem(incomplete, 422, "audience", "variants")
    cancelled = await tenant.post(f"/v1/campaigns/{created['id']}/cancel")
    assert (cancelled.json()["status"], cancelled.json()["missing"]) == (
        "cancelled",
        ["cancelled: it will not be sent"],
    )
    assert_problem(await tenant.post(f"/v1/campaigns/{created['id']}/cancel"), 409)
    assert_problem(await tenant.post(f"/v1/campaigns/{created['id']}/submit"), 409)
    assert_problem(await tenant.patch(f"/v1/campaigns/{created['id']}", json={"name": "x"}), 409)
    submitted = await in_review(tenant)
    assert_problem(await tenant.post(f"/v1/campaigns/{submitted['id']}/submit"), 409)
    listed = (await tenant.get("/v1/campaigns", params={"status": "cancelled"})).json()["data"]
    assert [c["id"] for c in listed] == [created["id"]]
    by_channel = (await tenant.get("/v1/campaigns", params={"channel": "email"})).json()["data"]
    assert by_channel == []
    everything = (await tenant.get("/v1/campaigns", params={"limit": 1})).json()
    assert len(everything["data"]) == 1 and everything["next_cursor"]


async def test_validation_names_each_field(tenant: Tenant) -> None:
    sms = await template(tenant)
    email = await template(tenant, "email")
    problems = [
        ("variants.1.template_id", definition(sms, variants=[{"name": "a", "template_id": sms, "weight": 1},
                                                             {"name": "b", "template_id": email, "weight": 1}])),
        ("holdout_percent", definition(sms, holdout_percent=60)),
        ("pilot", definition(sms, pilot={"percent": 10, "count": 100, "wait_hours": 2})),
        ("audience.segment_id", definition(sms, audience={"type": "leads", "segment_id": str(uuid.uuid4())})),
        ("audience.conditions.all.0.field", definition(
            sms, audience={"type": "contacts", "conditions": {"all": [{"field": "score", "op": "gt", "value": 1}]}}
        )),
        ("variants.1.name", definition(sms, variants=[{"name": "a", "template_id": sms, "weight": 1},
                                                      {"name": "A", "template_id": sms, "weight": 2}])),
        ("variants.0.weight", definition(sms, variants=[{"name": "a", "template_id": sms, "weight": 0}])),
        ("goal.event", definition(sms, goal={"event": "order.teleported"})),
        ("goal.engagement", definition(sms, goal={"engagement": "hug"})),
        ("cost.amount", definition(sms, cost={"amount": "1.5", "currency": "JPY"})),
        ("send_at", definition(sms, send_at={"date": "2027-01-01"})),
        ("audience.segment_id", definition(sms, audience={"type": "contacts", "segment_id": str(uuid.uuid4())})),
        ("pilot.auto_pause.max_complaint_rate", definition(
            sms, pilot={"count": 100, "wait_hours": 2, "auto_pause": {"max_complaint_rate": 2}}
        )),
    ]  # fmt: skip
    for field, body in problems:
        assert_problem(await tenant.post("/v1/campaigns", json=body), 422, field)
    assert (await tenant.get("/v1/campaigns")).json()["data"] == []
    created = (await tenant.post("/v1/campaigns", json=definition(sms))).json()
    switched = await tenant.patch(f"/v1/campaigns/{created['id']}", json={"channel": "email"})
    assert_problem(switched, 422, "variants.0.template_id")


async def test_settings_have_defaults_and_minimums(tenant: Tenant) -> None:
    defaults = (await tenant.get("/v1/settings/campaigns")).json()
    assert {k: defaults[k] for k in ("required_approvals", "require_distinct_review_groups",
                                     "approvals_apply_to_journeys", "min_sample", "version")} == {
        "required_approvals": 3, "require_distinct_review_groups": 0, "approvals_apply_to_journeys": False,
        "min_sample": 100, "version": 0}  # fmt: skip
    for field, value in (("required_approvals", 0), ("require_distinct_review_groups", -1), ("min_sample", 0)):
        assert_problem(await tenant.patch("/v1/settings/campaigns", json={field: value}), 422, field)
    changed = await tenant.patch("/v1/settings/campaigns", json={"required_approvals": 1})
    assert (changed.json()["required_approvals"], changed.json()["version"]) == (1, 1)
    campaign = await in_review(tenant)
    approved = await review(tenant, campaign, await reviewer(tenant, "Sara"))
    assert approved.json()["status"] == "approved"


async def test_a_members_review_group_is_set_changed_and_shown(tenant: Tenant) -> None:
    member_id = await member(tenant, "Sara", "legal")
    changed = await tenant.patch(f"/v1/members/{member_id}", json={"review_group": "brand"})
    assert changed.json()["review_group"] == "brand"
    cleared = await tenant.patch(f"/v1/members/{member_id}", json={"review_group": None})
    assert cleared.json()["review_group"] is None
    too_long = await tenant.patch(f"/v1/members/{member_id}", json={"review_group": "x" * 65})
    assert_problem(too_long, 422, "review_group")


async def test_a_member_who_changed_or_submitted_a_campaign_cannot_approve_it(tenant: Tenant) -> None:
    await tenant.patch("/v1/settings/campaigns", json={"required_approvals": 1})
    created = await tenant.post("/v1/campaigns", json=definition(await template(tenant)))  # no author: an admin key
    assert created.status_code == 201 and created.json()["author_member_id"] is None
    editor = await member(tenant, "Editor")
    editor_key = await tenant.key_with("campaigns:write", "campaigns:review", member_id=editor)
    submitter = await member(tenant, "Submitter")
    submitter_key = await tenant.key_with("campaigns:write", "campaigns:review", member_id=submitter)
    url = f"/v1/campaigns/{created.json()['id']}"
    renamed = await tenant.patch(url, json={"name": "Only the label"}, key=editor_key)
    assert renamed.status_code == 200 and renamed.json()["contributors"] == []  # a label is not what is reviewed
    changed = await tenant.patch(url, json={"holdout_percent": 20}, key=editor_key)
    assert changed.json()["contributors"] == [editor]
    submitted = await tenant.post(f"{url}/submit", key=submitter_key)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["contributors"] == [editor, submitter]
    campaign = submitted.json()
    for key in (editor_key, submitter_key):
        assert assert_problem(await review(tenant, campaign, key), 409)["type"] == "/problems/self-review"
    # either may still ask for changes; someone else approves
    approved = await review(tenant, campaign, await reviewer(tenant, "Other"))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"


async def test_an_approval_counts_while_its_member_is_active(tenant: Tenant) -> None:
    await tenant.patch("/v1/settings/campaigns", json={"required_approvals": 2})
    campaign = await in_review(tenant)
    first = await member(tenant, "First", "legal")
    first_key = await tenant.key_with("campaigns:review", member_id=first)
    assert (await review(tenant, campaign, first_key)).json()["approvals"] == 1
    assert (await tenant.patch(f"/v1/members/{first}", json={"active": False})).status_code == 200
    second = await review(tenant, campaign, await reviewer(tenant, "Second"))
    assert second.status_code == 200, second.text
    assert (second.json()["status"], second.json()["approvals"]) == ("in_review", 1)  # the first no longer counts
    third = await review(tenant, campaign, await reviewer(tenant, "Third"))
    assert (third.json()["status"], third.json()["approvals"]) == ("approved", 2)


async def test_send_at_is_one_instant_however_it_is_written(tenant: Tenant) -> None:
    await tenant.patch("/v1/settings/campaigns", json={"required_approvals": 2})
    campaign = await in_review(tenant, send_at={"at": "2030-01-01T10:00:00+03:30"})
    assert campaign["send_at"] == {"at": "2030-01-01T06:30:00Z"}
    assert (await review(tenant, campaign, await reviewer(tenant, "One"))).json()["approvals"] == 1
    same = await tenant.patch(f"/v1/campaigns/{campaign['id']}", json={"send_at": {"at": "2030-01-01T06:30:00Z"}})
    assert same.status_code == 200, same.text
    assert (same.json()["status"], same.json()["approvals"], same.json()["version"]) == (
        "in_review", 1, campaign["version"] + 1)  # fmt: skip
    too_far = await tenant.patch(f"/v1/campaigns/{campaign['id']}",
                                 json={"send_at": {"at": "9999-12-31T23:59:59-10:00"}})  # fmt: skip
    assert_problem(too_far, 422)
