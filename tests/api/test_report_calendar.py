"""The workspace's calendar through HTTP on both databases: Iranian workspaces count in the Jalali
calendar and speak Persian, existing ones keep the Gregorian calendar; report periods follow it
(Esfand → Farvardin); the holidays it counts, with their names."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import update

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from tests.conftest import Tenant, assert_problem, make_tenant
from tests.documented import assert_documented


async def test_a_workspace_in_iran_counts_in_the_jalali_calendar_and_may_change_it(
    database: Database, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    iranian = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran")
    workspace = (await iranian.get("/v1/workspace")).json()
    assert (workspace["calendar"], workspace["locale"]) == ("jalali", "fa")
    assert ((await tenant.get("/v1/workspace")).json()["calendar"], "en") == ("gregorian", "en")
    # Changing the region changes neither.
    moved = (await tenant.patch("/v1/workspace", json={"default_region": "IR"})).json()
    assert (moved["calendar"], moved["locale"]) == ("gregorian", "en")
    changed = await tenant.patch("/v1/workspace", json={"calendar": "jalali", "locale": "fa"})
    assert changed.status_code == 200 and changed.json()["calendar"] == "jalali"
    assert_problem(await tenant.patch("/v1/workspace", json={"calendar": "lunar"}), 422, "calendar")
    assert_problem(await tenant.patch("/v1/workspace", json={"locale": "de"}), 422, "locale")


async def _lead_on(tenant: Tenant, database: Database, day: dt.date, n: int) -> str:
    created = await tenant.post("/v1/leads", json={"first_name": f"L{n}", "email": f"j{n}@example.com"})
    assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    moment = dt.datetime.combine(day, dt.time(12), dt.UTC)
    async with UnitOfWork(database) as uow:
        await uow.execute(update(tables.leads).where(tables.leads.c.id == UUID(lead_id)).values(created_at=moment))
        await uow.commit()
    return str(lead_id)


async def test_report_periods_follow_the_jalali_months_across_nowruz(
    database: Database, client: httpx.AsyncClient
) -> None:
    shop = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran")
    # Esfand 1404 ends on 2026-03-20; 1 Farvardin 1405 is 2026-03-21.
    days = [dt.date(2026, 3, 1), dt.date(2026, 3, 20), dt.date(2026, 3, 21), dt.date(2026, 4, 15), dt.date(2026, 4, 21)]
    for n, day in enumerate(days):
        await _lead_on(shop, database, day, n)
    params = {"from": "2026-03-01", "to": "2026-04-30", "interval": "month"}
    report: dict[str, Any] = (await shop.get("/v1/reports/funnel", params=params)).json()
    labels = [(p["label"], p["display_label"], p["start_date"], p["end_date"], p["lead"]) for p in report["periods"]]
    assert labels == [
        ("1404-12", "اسفند ۱۴۰۴", "2026-03-01", "2026-03-20", 2),
        ("1405-01", "فروردین ۱۴۰۵", "2026-03-21", "2026-04-20", 2),
        ("1405-02", "اردیبهشت ۱۴۰۵", "2026-04-21", "2026-04-30", 1),
    ]
    # Tehran's midnight, in UTC.
    assert report["periods"][1]["start"] == "2026-03-20T20:30:00.000000Z"
    weeks = (await shop.get("/v1/reports/funnel", params={**params, "interval": "week"})).json()["periods"]
    assert weeks[1]["label"] == "2026-03-07" and dt.date.fromisoformat(weeks[1]["label"]).weekday() == 5  # Saturday
    # The same leads in a Gregorian workspace's months.
    assert (await shop.patch("/v1/workspace", json={"calendar": "gregorian", "locale": "en"})).status_code == 200
    gregorian = (await shop.get("/v1/reports/funnel", params=params)).json()["periods"]
    assert [(p["label"], p["display_label"], p["lead"]) for p in gregorian] == [
        ("2026-03", "March 2026", 3), ("2026-04", "April 2026", 2),
    ]  # fmt: skip


async def test_holidays_with_their_names_as_the_business_hours_count_them(
    database: Database, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    shop = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran")
    answer = await shop.get("/v1/calendar/holidays", params={"from": "2026-03-19", "to": "2026-03-25"})
    assert answer.status_code == 200, answer.text
    nowruz = {h["date"]: h for h in answer.json()["data"]}
    assert "نوروز" in nowruz["2026-03-21"]["name"] and nowruz["2026-03-21"]["source"] == "region"
    assert all(h["day_off"] for h in nowruz.values())
    hours = {"business_hours": {"holidays": ["2026-03-19"], "removed_holidays": ["2026-03-24"]}}
    assert (await shop.patch("/v1/settings/sla", json=hours)).status_code == 200
    after = {h["date"]: h for h in (await shop.get("/v1/calendar/holidays", params={
        "from": "2026-03-19", "to": "2026-03-25"})).json()["data"]}  # fmt: skip
    assert (after["2026-03-19"]["source"], after["2026-03-19"]["day_off"]) == ("workspace", True)
    assert after["2026-03-24"]["day_off"] is False  # a region holiday worked here
    # English names for an English workspace; none for a region without known holidays.
    assert (await shop.patch("/v1/workspace", json={"locale": "en"})).status_code == 200
    english = (await shop.get("/v1/calendar/holidays", params={"from": "2026-03-21", "to": "2026-03-21"})).json()
    assert "Nowruz" in english["data"][0]["name"]
    assert (await tenant.get("/v1/calendar/holidays")).json()["data"] == []
    backwards = {"from": "2026-03-25", "to": "2026-03-01"}
    assert_problem(await shop.get("/v1/calendar/holidays", params=backwards), 422, "from")
    too_long = {"from": "2020-01-01", "to": "2026-03-01"}
    assert_problem(await shop.get("/v1/calendar/holidays", params=too_long), 422, "to")
    assert_problem(await shop.get("/v1/calendar/holidays", key=await shop.key_with("leads:read")), 403)


async def test_holidays_are_named_in_the_workspace_calendar_and_to_alone_covers_the_year_before_it(
    database: Database, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    shop = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran")
    # Only a past `to`: the year up to it (it was 422, `from` defaulting to today).
    answer = await shop.get("/v1/calendar/holidays", params={"to": "2025-03-30"})
    assert answer.status_code == 200, answer.text
    assert_documented(answer, "/v1/calendar/holidays")
    found = {h["date"]: h for h in answer.json()["data"]}
    assert min(found) >= "2024-03-30" and max(found) <= "2025-03-30"
    nowruz = found["2025-03-21"]
    assert (nowruz["local_date"], nowruz["display_label"]) == ("1404-01-01", "۱ فروردین ۱۴۰۴")
    assert found["2024-03-31"]["local_date"] == "1403-01-12"  # Islamic Republic Day, in the year up to `to`
    assert "2024-03-23" not in found  # 1403-01-04, a Nowruz holiday before it
    # Esfand 30 of the leap year 1403 is 2025-03-20, a holiday in Iran.
    assert found["2025-03-20"]["local_date"] == "1403-12-30"
    # The same days in English, still Jalali; and a Gregorian workspace's own day off.
    assert (await shop.patch("/v1/workspace", json={"locale": "en"})).status_code == 200
    english = (await shop.get("/v1/calendar/holidays", params={"from": "2025-03-21", "to": "2025-03-21"})).json()
    assert (english["data"][0]["local_date"], english["data"][0]["display_label"]) == ("1404-01-01", "1 Farvardin 1404")
    hours = {"business_hours": {"holidays": ["2026-12-25"]}}
    assert (await tenant.patch("/v1/settings/sla", json=hours)).status_code == 200
    own = (await tenant.get("/v1/calendar/holidays", params={"to": "2026-12-31"})).json()["data"]
    assert [(h["date"], h["local_date"], h["display_label"], h["source"]) for h in own] == [
        ("2026-12-25", "2026-12-25", "25 December 2026", "workspace")
    ]
    # `to` alone still checks its bounds; `from` alone covers the year after it.
    assert_problem(await shop.get("/v1/calendar/holidays", params={"to": "9999-01-01"}), 422, "to")
    after = (await shop.get("/v1/calendar/holidays", params={"from": "2025-03-21"})).json()["data"]
    assert after[0]["date"] == "2025-03-21" and max(h["date"] for h in after) <= "2026-03-21"
