"""The `messaging` settings section and people's time zones through HTTP on both databases, and
the policy and time zone the messages code reads from them."""

from __future__ import annotations

import uuid
from datetime import time
from zoneinfo import ZoneInfo

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.outreach.policy import MessagingPolicy, QuietHours
from app.domain.outreach.vocabulary import PersonRef
from app.ids import utcnow
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.outreach import policy
from tests.conftest import Tenant, assert_problem

URL = "/v1/settings/messaging"
DEFAULTS = {
    "marketing_requires_opt_in": True,
    "quiet_hours": {"start": "21:00:00", "end": "09:00:00"},
    "frequency_cap": {"marketing_per_7_days": 3},
    "frequency_cap_action": "wait",
    "tracking": True,
    "double_opt_in": True,
    "opt_out_keywords": [],
}


def _ctx(tenant: Tenant, uow: UnitOfWork) -> Context:
    return Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)


async def test_defaults_changes_and_nulls(database: Database, tenant: Tenant) -> None:
    read = (await tenant.get(URL)).json()
    assert {k: read[k] for k in DEFAULTS} == DEFAULTS and read["version"] == 0
    async with UnitOfWork(database) as uow:
        assert await policy.policy(_ctx(tenant, uow)) == MessagingPolicy()
    changed = await tenant.patch(
        URL,
        json={
            "quiet_hours": {"start": "22:30", "end": "07:15"},
            "frequency_cap_action": "skip",
            "opt_out_keywords": ["انصراف", "Nein danke"],
            "tracking": False,
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["quiet_hours"] == {"start": "22:30:00", "end": "07:15:00"} and body["version"] == 1
    assert body["frequency_cap"] == {"marketing_per_7_days": 3}
    async with UnitOfWork(database) as uow:
        assert await policy.policy(_ctx(tenant, uow)) == MessagingPolicy(
            quiet_hours=QuietHours(time(22, 30), time(7, 15)),
            frequency_cap_action="skip",
            tracking=False,
            opt_out_keywords=("انصراف", "Nein danke"),
        )
    off = await tenant.patch(URL, json={"quiet_hours": None, "frequency_cap": None, "marketing_requires_opt_in": False})
    assert (off.json()["quiet_hours"], off.json()["frequency_cap"]) == (None, None)
    async with UnitOfWork(database) as uow:
        current = await policy.policy(_ctx(tenant, uow))
    assert (current.quiet_hours, current.marketing_per_7_days, current.marketing_requires_opt_in) == (None, None, False)
    [event, *_] = (await tenant.get("/v1/events", params={"type": "settings.updated"})).json()["data"]
    assert event["data"]["section"] == "messaging"


async def test_bad_values_name_the_field(tenant: Tenant) -> None:
    same = {"quiet_hours": {"start": "21:00", "end": "21:00"}}
    assert_problem(await tenant.patch(URL, json=same), 422, "quiet_hours")
    assert_problem(await tenant.patch(URL, json={"quiet_hours": {"start": "25:00"}}), 422, "quiet_hours.start")
    assert_problem(await tenant.patch(URL, json={"frequency_cap_action": "drop"}), 422, "frequency_cap_action")
    assert_problem(await tenant.patch(URL, json={"frequency_cap": {"marketing_per_7_days": 0}}), 422,
                   "frequency_cap.marketing_per_7_days")  # fmt: skip
    assert_problem(await tenant.patch(URL, json={"opt_out_keywords": [""]}), 422, "opt_out_keywords.0")
    assert_problem(await tenant.patch(URL, json={"opt_out_keywords": ["x"] * 51}), 422, "opt_out_keywords")
    assert_problem(await tenant.patch(URL, json={"tracking": None}), 422, "tracking")
    assert_problem(await tenant.patch(URL, json={"tracker": True}), 422, "tracker")
    assert (await tenant.get(URL)).json()["version"] == 0


async def test_settings_scopes(tenant: Tenant) -> None:
    reader = await tenant.key_with("settings:read")
    leads = await tenant.key_with("leads:read", "leads:write")
    assert (await tenant.get(URL, key=reader)).status_code == 200
    assert_problem(await tenant.patch(URL, key=reader, json={"tracking": False}), 403)
    assert_problem(await tenant.get(URL, key=leads), 403)


async def test_people_have_a_time_zone_else_the_workspaces(database: Database, tenant: Tenant) -> None:
    await tenant.patch("/v1/workspace", json={"timezone": "Asia/Tehran"})
    lead = await tenant.post("/v1/leads", json={"email": "sara@acme.example", "timezone": "Europe/Berlin"})
    assert lead.status_code == 201, lead.text
    assert lead.json()["timezone"] == "Europe/Berlin"
    [created] = (await tenant.get("/v1/events", params={"type": "lead.created"})).json()["data"]
    assert created["data"] == lead.json()
    assert (await tenant.get(f"/v1/leads/{lead.json()['id']}")).json() == lead.json()
    plain = (await tenant.post("/v1/leads", json={"email": "ali@acme.example"})).json()
    assert plain["timezone"] is None
    assert_problem(await tenant.post("/v1/leads", json={"email": "x@acme.example", "timezone": "Mars/Base"}), 422,
                   "timezone")  # fmt: skip
    assert_problem(await tenant.patch(f"/v1/leads/{plain['id']}", json={"timezone": "+03:30"}), 422, "timezone")
    moved = await tenant.patch(f"/v1/leads/{plain['id']}", json={"timezone": "America/New_York"})
    assert moved.status_code == 200 and moved.json()["timezone"] == "America/New_York"
    cleared = await tenant.patch(f"/v1/leads/{plain['id']}", json={"timezone": None})
    assert cleared.json()["timezone"] is None

    contact = await tenant.post("/v1/contacts", json={"email": "reza@acme.example", "timezone": "Asia/Dubai"})
    assert contact.status_code == 201, contact.text
    assert contact.json()["timezone"] == "Asia/Dubai"
    assert_problem(await tenant.post("/v1/contacts", json={"email": "r@acme.example", "timezone": "Nowhere"}), 422,
                   "timezone")  # fmt: skip
    changed = await tenant.patch(f"/v1/contacts/{contact.json()['id']}", json={"timezone": "Europe/Berlin"})
    assert changed.json()["timezone"] == "Europe/Berlin"
    assert_problem(await tenant.patch(f"/v1/contacts/{contact.json()['id']}", json={"timezone": "x"}), 422, "timezone")

    async with UnitOfWork(database) as uow:
        ctx = _ctx(tenant, uow)
        assert await policy.timezone_of(ctx, PersonRef("lead", uuid.UUID(lead.json()["id"]))) == ZoneInfo(
            "Europe/Berlin"
        )
        assert await policy.timezone_of(ctx, PersonRef("lead", uuid.UUID(plain["id"]))) == ZoneInfo("Asia/Tehran")
        assert await policy.timezone_of(ctx, PersonRef("contact", uuid.UUID(contact.json()["id"]))) == ZoneInfo(
            "Europe/Berlin"
        )
