"""Reviews of journey drafts through the API on both databases: with the workspace's approvals
applying to journeys, a draft that sends marketing is published only once members other than its
contributors approve it; edits withdraw approvals; journeys that send no marketing, and workspaces
without the setting, publish as before; scopes and tenancy."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Tenant, assert_problem


async def template(tenant: Tenant) -> str:
    created = await tenant.post("/v1/templates", json={"name": "t", "channel": "sms", "body_text": "Hi"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def member(tenant: Tenant, name: str, review_group: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "email": f"{name.lower()}-{uuid.uuid4().hex[:6]}@x.io"}
    if review_group is not None:
        body["review_group"] = review_group
    created = await tenant.post("/v1/members", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def reviewer(tenant: Tenant, name: str, review_group: str | None = None) -> str:
    """A key bound to a new member, allowed to review."""
    return await tenant.key_with("campaigns:review", member_id=await member(tenant, name, review_group))


def document(template_id: str | None, purpose: str = "marketing") -> dict[str, Any]:
    return {
        "name": "Spring offer",
        "audience": "leads",
        "trigger": {"type": "manual"},
        "steps": [
            {"id": "offer", "type": "send", "channel": "sms", "template_id": template_id, "purpose": purpose},
            {"id": "pause", "type": "wait", "seconds": 3600},
        ],
    }


async def approvals_apply(tenant: Tenant, **settings: Any) -> None:
    changed = await tenant.patch("/v1/settings/campaigns", json={"approvals_apply_to_journeys": True, **settings})
    assert changed.status_code == 200, changed.text


async def draft(tenant: Tenant, key: str | None = None, purpose: str = "marketing") -> dict[str, Any]:
    created = await tenant.post("/v1/journeys", json=document(await template(tenant), purpose), key=key)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def submitted(tenant: Tenant, journey: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    answer = await tenant.post(f"/v1/journeys/{journey['id']}/submit", key=key)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def review(tenant: Tenant, journey: dict[str, Any], key: str, decision: str = "approve", **body: Any) -> Any:
    return await tenant.post(f"/v1/journeys/{journey['id']}/reviews", json={"decision": decision, **body}, key=key)


async def history(tenant: Tenant, journey: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    listed = await tenant.get(f"/v1/journeys/{journey['id']}/reviews", params=params)
    assert listed.status_code == 200, listed.text
    return list(listed.json()["data"])


async def test_a_marketing_journey_is_published_once_three_members_approve(tenant: Tenant) -> None:
    await approvals_apply(tenant)
    author = await member(tenant, "Author")
    author_key = await tenant.key_with("journeys:write", "campaigns:review", member_id=author)
    journey = await draft(tenant, author_key)
    assert journey["review"] == {
        "version": 1, "required": True, "status": None, "contributors": [author], "approvals": 0,
        "required_approvals": 3, "review_groups": 0, "required_review_groups": 0,
        "missing": ["submission for review", "3 more approvals"], "submitted_at": None, "approved_at": None,
    }  # fmt: skip
    url = f"/v1/journeys/{journey['id']}"
    early = assert_problem(await tenant.post(f"{url}/publish"), 409)
    assert early["type"] == "/problems/approval-required"
    assert early["missing"] == ["submission for review", "3 more approvals"]
    assert "submission for review" in early["detail"]

    in_review = await submitted(tenant, journey, author_key)
    assert (in_review["review"]["status"], in_review["review"]["missing"]) == ("in_review", ["3 more approvals"])
    assert in_review["review"]["submitted_at"] is not None and in_review["version"] == journey["version"] + 1
    assert assert_problem(await tenant.post(f"{url}/publish"), 409)["missing"] == ["3 more approvals"]
    assert_problem(await tenant.post(f"{url}/submit"), 409)  # in review already

    refused = await review(tenant, in_review, author_key)
    assert assert_problem(refused, 409)["type"] == "/problems/self-review"
    sara, reza, mina = [await reviewer(tenant, name) for name in ("Sara", "Reza", "Mina")]
    first = await review(tenant, in_review, sara)
    assert first.status_code == 200, first.text
    assert (first.json()["review"]["approvals"], first.json()["review"]["status"]) == (1, "in_review")
    again = await review(tenant, in_review, sara, comment="still fine")
    assert again.json()["review"]["approvals"] == 1
    second = await review(tenant, in_review, reza)
    assert assert_problem(await tenant.post(f"{url}/publish"), 409)["missing"] == ["1 more approval"]
    assert second.json()["review"]["missing"] == ["1 more approval"]
    approved = await review(tenant, in_review, mina)
    assert approved.json()["review"]["status"] == "approved" and approved.json()["review"]["missing"] == []
    assert approved.json()["review"]["approved_at"] is not None
    assert_problem(await review(tenant, in_review, await reviewer(tenant, "Late")), 409)  # approved: no more

    published = await tenant.post(f"{url}/publish")
    assert published.status_code == 200, published.text
    assert (published.json()["status"], published.json()["active_version"], published.json()["review"]) == (
        "active", 1, None)  # fmt: skip
    reviews = await history(tenant, journey)
    assert [(r["decision"], r["counts"], r["version"]) for r in reviews] == [
        ("approve", True, 1), ("approve", False, 1), ("approve", True, 1), ("approve", True, 1)]  # fmt: skip
    assert reviews[1]["comment"] == "still fine"
    events = (await tenant.get("/v1/events", params={"resource_id": journey["id"]})).json()["data"]
    assert sorted(e["type"] for e in events) == sorted(
        ["journey.submitted"] + ["journey.reviewed"] * 4 + ["journey.approved"]
    )


async def test_an_edit_after_approvals_withdraws_them_and_its_editor_cannot_approve(tenant: Tenant) -> None:
    await approvals_apply(tenant, required_approvals=2)
    journey = await submitted(tenant, await draft(tenant))  # an admin key bound to no member: no contributor
    assert journey["review"]["contributors"] == []
    assert (await review(tenant, journey, await reviewer(tenant, "Sara"))).json()["review"]["approvals"] == 1
    editor = await member(tenant, "Editor")
    editor_key = await tenant.key_with("journeys:write", "campaigns:review", member_id=editor)
    url = f"/v1/journeys/{journey['id']}"
    same = await tenant.patch(url, json={"name": "Spring offer"}, key=editor_key)  # changes nothing
    assert (same.json()["review"]["approvals"], same.json()["review"]["contributors"]) == (1, [])
    edited = await tenant.patch(url, json={"name": "Spring offer 2"}, key=editor_key,
                                headers={"If-Match": same.headers["etag"]})  # fmt: skip
    assert edited.status_code == 200, edited.text
    review_now = edited.json()["review"]
    assert (review_now["status"], review_now["approvals"], review_now["contributors"]) == (None, 0, [editor])
    assert review_now["missing"] == ["submission for review", "2 more approvals"]
    assert [(r["counts"], r["withdrawn_at"] is not None) for r in await history(tenant, journey)] == [(False, True)]
    assert_problem(await review(tenant, journey, await reviewer(tenant, "Reza")), 409)  # not in review
    resubmitted = await submitted(tenant, journey)
    assert (resubmitted["review"]["status"], resubmitted["review"]["approvals"]) == ("in_review", 0)
    assert assert_problem(await review(tenant, journey, editor_key), 409)["type"] == "/problems/self-review"
    # a rejection takes the draft out of review; the other approvals keep counting at the next submission
    mina = await reviewer(tenant, "Mina")
    assert (await review(tenant, journey, mina)).json()["review"]["approvals"] == 1
    rejected = await review(tenant, journey, await reviewer(tenant, "Omid"), "reject", comment="wrong offer")
    assert (rejected.json()["review"]["status"], rejected.json()["review"]["approvals"]) == (None, 1)
    assert (await submitted(tenant, journey))["review"]["approvals"] == 1
    changes = await review(tenant, journey, mina, "request_changes")
    assert (changes.json()["review"]["status"], changes.json()["review"]["approvals"]) == (None, 0)
    assert [r["decision"] for r in await history(tenant, journey, version=1)][-2:] == ["reject", "request_changes"]
    assert await history(tenant, journey, version=2) == []


async def test_a_new_draft_of_a_published_journey_is_reviewed_again(tenant: Tenant) -> None:
    await approvals_apply(tenant, required_approvals=1)
    journey = await submitted(tenant, await draft(tenant))
    await review(tenant, journey, await reviewer(tenant, "Sara"))
    url = f"/v1/journeys/{journey['id']}"
    assert (await tenant.post(f"{url}/publish")).status_code == 200
    editor = await member(tenant, "Editor")
    edited = await tenant.patch(url, json={"description": "v2"},
                                key=await tenant.key_with("journeys:write", member_id=editor))  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert edited.json()["draft_version"] == 2
    assert (edited.json()["review"]["version"], edited.json()["review"]["contributors"]) == (2, [editor])
    assert_problem(await tenant.post(f"{url}/publish"), 409)
    assert_problem(await tenant.post(f"{url}/reviews", json={"decision": "approve"},
                                     key=await reviewer(tenant, "Reza")), 409)  # fmt: skip
    await submitted(tenant, edited.json())
    approved = await review(tenant, journey, await reviewer(tenant, "Mina"))
    assert approved.json()["review"]["status"] == "approved"
    assert (await tenant.post(f"{url}/publish")).json()["active_version"] == 2
    assert [r["version"] for r in await history(tenant, journey)] == [1, 2]


async def test_without_the_setting_publishing_needs_no_approval(tenant: Tenant) -> None:
    journey = await draft(tenant)
    assert journey["review"]["required"] is False and journey["review"]["missing"] == []
    published = await tenant.post(f"/v1/journeys/{journey['id']}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "active"


async def test_a_journey_with_only_transactional_sends_needs_no_approval(tenant: Tenant) -> None:
    await approvals_apply(tenant)
    journey = await draft(tenant, purpose="transactional")
    assert (journey["review"]["required"], journey["review"]["missing"]) == (False, [])
    published = await tenant.post(f"/v1/journeys/{journey['id']}/publish")
    assert published.status_code == 200, published.text
    # a marketing send step added later is what needs the approval
    url = f"/v1/journeys/{journey['id']}"
    marketing = document(journey["steps"][0]["template_id"])
    edited = await tenant.patch(url, json={"steps": marketing["steps"]})
    assert edited.json()["review"]["required"] is True
    assert assert_problem(await tenant.post(f"{url}/publish"), 409)["type"] == "/problems/approval-required"


async def test_submission_needs_a_publishable_draft(tenant: Tenant) -> None:
    created = await tenant.post("/v1/journeys", json=document(None))
    assert created.status_code == 201, created.text
    url = f"/v1/journeys/{created.json()['id']}"
    assert_problem(await tenant.post(f"{url}/submit"), 422, "steps.0.template_id")
    journey = await draft(tenant)
    url = f"/v1/journeys/{journey['id']}"
    assert (await tenant.post(f"{url}/publish")).status_code == 200
    assert_problem(await tenant.post(f"{url}/submit"), 409)  # no draft
    assert_problem(await tenant.post(f"{url}/submit", headers={"If-Match": '"1"'}), 412)


async def test_another_workspaces_key_gets_404(tenant: Tenant, other_tenant: Tenant) -> None:
    journey = await submitted(tenant, await draft(tenant))
    url = f"/v1/journeys/{journey['id']}"
    stranger = await reviewer(other_tenant, "Stranger")
    assert_problem(await other_tenant.post(f"{url}/submit"), 404)
    assert_problem(await other_tenant.post(f"{url}/reviews", json={"decision": "approve"}, key=stranger), 404)
    assert_problem(await other_tenant.get(f"{url}/reviews"), 404)
    assert (await tenant.get(url)).json() == journey


async def test_a_review_needs_the_review_scope_and_a_member_bound_key(tenant: Tenant) -> None:
    journey = await submitted(tenant, await draft(tenant))
    writer = await tenant.key_with("journeys:write", member_id=await member(tenant, "Writer"))
    assert_problem(await review(tenant, journey, writer), 403)
    unbound = await review(tenant, journey, tenant.secret_key)  # admin, but no one
    assert assert_problem(unbound, 409)["type"] == "/problems/member-key-required"
    assert_problem(await tenant.post(f"/v1/journeys/{journey['id']}/submit",
                                     key=await tenant.key_with("journeys:read")), 403)  # fmt: skip
    assert_problem(await tenant.get(f"/v1/journeys/{journey['id']}/reviews",
                                    key=await tenant.key_with("campaigns:review")), 403)  # fmt: skip
    reader = await tenant.key_with("journeys:read")
    assert (await tenant.get(f"/v1/journeys/{journey['id']}/reviews", key=reader)).json()["data"] == []
