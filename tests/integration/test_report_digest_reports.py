# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""The pipeline, products, overview and sales forecast as scheduled digests, on SQLite and
PostgreSQL: each created through `/v1/report-schedules` with its own parameters (the filters that
do not narrow it refused, naming the field), delivered by a real worker pass to a real SMTP server
with its title (and its chart inline where the report draws one), in Persian for a `fa`
workspace."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from app.db.session import Database
from app.ids import utcnow
from tests.api.test_analytics import order, sync
from tests.api.test_reports_sales_forecast import _as_of, history
from tests.conftest import Tenant, assert_problem, make_tenant
from tests.integration.test_email_messages import (  # noqa: F401  (the email tests' fixtures)
    app,
    client,
    running_worker,
    setup,
    tenant,
    until,
)
from tests.integration.test_report_digests import TEHRAN, _moved, deliveries, make_due, member, parts, schedule
from tests.smtp_server import SmtpServer

DAILY = {"type": "daily", "at": "08:00"}


def occurrence_day(now: dt.datetime, zone: dt.tzinfo = dt.UTC) -> dt.date:
    """The local day of the latest daily 08:00 at or before `now`."""
    local = now.astimezone(zone)
    return local.date() if local.time() >= dt.time(8) else local.date() - dt.timedelta(days=1)


async def delivered(
    database: Database, tenant: Tenant, smtp: SmtpServer, address: str, schedule_id: str
) -> EmailMessage:
    """Run a worker until the due schedule's email arrived and the schedule moved on."""
    await make_due(database, schedule_id)
    async with running_worker(database):
        [received] = await until(lambda: _async(smtp.to(address)))
        await until(lambda: _moved(tenant, schedule_id))
    assert len(await deliveries(database, schedule_id)) == 1
    message: EmailMessage = received.message
    return message


def png_inline(email: EmailMessage) -> bytes:
    [image] = parts(email)["image/png"]
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in email.get_body(("html",)).get_content()
    png: bytes = image.get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
    return png


def text_of(email: EmailMessage) -> str:
    return str(email.get_body(("plain",)).get_content())


async def test_a_pipeline_digest_in_persian_has_its_chart_and_the_periods_ahead(
    database: Database, client: httpx.AsyncClient
) -> None:
    shop = await make_tenant(database, client, "فروشگاه تهران", region="IR", timezone="Asia/Tehran")
    today = occurrence_day(utcnow(), TEHRAN)
    for n, amount in enumerate(["1000.00", "3000.00"]):
        deal = await shop.post("/v1/opportunities", json={
            "name": f"Deal {n}", "stage": "proposal", "amount": amount,
            "expected_close_date": (today + dt.timedelta(days=3)).isoformat()})  # fmt: skip
        assert deal.status_code == 201, deal.text
    await refused(shop, "pipeline", {"source": "radio"}, "params.source")  # the report filters, as the route's
    await refused(shop, "pipeline", {"basis": "hope"}, "params.basis")
    async with SmtpServer() as smtp:
        await setup(shop, smtp)
        boss = await member(shop, "boss@shop.example")
        params = {"interval": "month", "basis": "stage_probability"}
        created = await schedule(shop, name="فرصت‌های روزانه", report="pipeline", cadence=DAILY, member_ids=[boss],
                                 emit_event=True, params=params)  # fmt: skip
        assert created["params"] == {"interval": "month", "basis": "stage_probability"}
        ran_from = utcnow().astimezone(TEHRAN).date()
        email = await delivered(database, shop, smtp, "boss@shop.example", created["id"])
        ran_until = utcnow().astimezone(TEHRAN).date()
    assert "فرصت‌های روزانه" in email["Subject"] and "فرصت‌های باز" in email["Subject"]
    png_inline(email)
    text = text_of(email)
    assert "فرصت‌های باز: ۲ (" in text and "P10 تا P90" in text
    [event] = (await shop.get("/v1/events", params={"type": "report.delivered"})).json()["data"]
    figures = event["data"]["figures"]
    assert figures["basis"] == "stage_probability" and figures["total"]["count"] == 2
    assert (event["data"]["from"], event["data"]["to"]) == (figures["from"], figures["to"])  # the periods ahead
    # the periods ahead of the day it ran, in Tehran (after 20:30 UTC that is the day after the
    # daily 08:00 occurrence it was sent for: the open pipeline is as of the run)
    assert figures["from"] in {ran_from.isoformat(), ran_until.isoformat()} and len(figures["periods"]) == 6


async def test_a_products_digest_lists_what_sold_in_the_window(database: Database, tenant: Tenant) -> None:
    yesterday = occurrence_day(utcnow()) - dt.timedelta(days=1)
    lines = [{"name": "Mug", "sku": "MUG", "category": "kitchen", "quantity": 3, "unit_price": "10.00"}]
    await sync(tenant, [order("p1", "c1", yesterday, "30.00", line_items=lines),
                        order("p0", "c2", yesterday - dt.timedelta(days=1), "99.00")])  # fmt: skip
    await refused(tenant, "products", {"owner_id": None, "sort": "price"}, "params.sort")
    await refused(tenant, "products", {"source": "event"}, "params.source")
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        boss = await member(tenant, "boss@acme.example", "Boss")
        created = await schedule(tenant, name="Daily sales", report="products", cadence=DAILY, member_ids=[boss],
                                 params={"sort": "units", "limit": 5})  # fmt: skip
        email = await delivered(database, tenant, smtp, "boss@acme.example", created["id"])
    assert "Daily sales · Products · " in email["Subject"] and " to " not in email["Subject"]  # one day
    assert "image/png" not in parts(email)
    text = text_of(email)
    assert "Revenue: 30.00 USD" in text and "Units sold: 3" in text and "Mug: 3 units, 30.00 USD" in text
    [row] = await deliveries(database, created["id"])
    assert (row["figures"]["from"], row["figures"]["to"], row["figures"]["sort"]) == (
        yesterday.isoformat(), yesterday.isoformat(), "units")  # fmt: skip


async def test_an_overview_digest_is_the_whole_overview_by_email_only(
    database: Database, client: httpx.AsyncClient
) -> None:
    shop = await make_tenant(database, client, "فروشگاه تهران", region="IR", timezone="Asia/Tehran")
    for n in range(2):
        lead = await shop.post("/v1/leads", json={"first_name": f"L{n}", "email": f"o{n}@example.com"})
        assert lead.status_code == 201, lead.text
    base = {"name": "x", "report": "overview", "cadence": DAILY}
    assert_problem(await shop.post("/v1/report-schedules", json={**base, "emit_event": True}), 422, "emit_event")
    assert_problem(await shop.post("/v1/report-schedules", json={**base, "emit_event": True,
                                                                 "params": {"interval": "day"}}),
                   422, "params.interval")  # fmt: skip
    async with SmtpServer() as smtp:
        await setup(shop, smtp)
        boss = await member(shop, "boss@shop.example")
        # Made by a key that may read reports only: the digest is still every section, as the system sees it.
        writer = await shop.key_with("reports:write")
        made = await shop.post("/v1/report-schedules", json={**base, "name": "صبح بخیر", "member_ids": [boss]},
                               key=writer)  # fmt: skip
        assert made.status_code == 201, made.text
        url = f"/v1/report-schedules/{made.json()['id']}"
        assert_problem(await shop.patch(url, json={"emit_event": True}), 422, "emit_event")
        email = await delivered(database, shop, smtp, "boss@shop.example", made.json()["id"])
    assert "صبح بخیر" in email["Subject"] and "نمای کلی" in email["Subject"] and " تا " not in email["Subject"]
    text = text_of(email)
    assert "سرنخ‌های باز: ۲" in text and "کارهای عقب‌افتاده: ۰" in text and "درآمد این ماه: ۰" in text
    [row] = await deliveries(database, made.json()["id"])
    assert row["figures"]["withheld"] == [] and row["figures"]["leads"]["by_status"]["new"] == 2


async def test_a_sales_forecast_digest_has_its_chart_and_is_not_kept_in_the_cache(
    database: Database, tenant: Tenant
) -> None:
    orders, _ = history(8, _as_of())
    await sync(tenant, orders)
    await refused(tenant, "sales-forecast", {"as_of": "2026-01-01"}, "params.as_of")
    await refused(tenant, "sales-forecast", {"periods": 53}, "params.periods")
    await refused(tenant, "sales-forecast", {"owner_id": "01a21ccd-7080-7524-9a80-7fc53d31ae93"}, "params.owner_id")
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        boss = await member(tenant, "boss@acme.example", "Boss")
        created = await schedule(tenant, name="Forecast", report="sales-forecast", cadence=DAILY, member_ids=[boss],
                                 emit_event=True, params={"periods": 3})  # fmt: skip
        email = await delivered(database, tenant, smtp, "boss@acme.example", created["id"])
    assert "Forecast · Sales forecast · " in email["Subject"]
    png_inline(email)
    text = text_of(email)
    [event] = (await tenant.get("/v1/events", params={"type": "report.delivered"})).json()["data"]
    figures = event["data"]["figures"]
    assert figures["as_of"] == (occurrence_day(utcnow()) - dt.timedelta(days=1)).isoformat()
    assert len(figures["history"]) == 8 and len(figures["forecast"]) == 3
    first = figures["forecast"][0]
    assert f"{first['display_label']}: {first['value']} USD ({first['lower']} to {first['upper']})" in text
    assert f"Model: {figures['model']}" in text
    assert (event["data"]["from"], event["data"]["to"]) == (first["start_date"], figures["forecast"][-1]["end_date"])
    # The digest's forecast was not stored: the cache holds what clients asked for only.
    assert (await tenant.get("/v1/reports/sales-forecast", params={"as_of": figures["as_of"], "periods": 3})
            ).json()["computed_at"] != figures["computed_at"]  # fmt: skip


@pytest.mark.parametrize("report", ["pipeline", "products", "overview", "sales-forecast"])
async def test_the_new_reports_are_listed_and_filtered_by_report(tenant: Tenant, report: str) -> None:
    body = {"name": report, "report": report, "cadence": DAILY}
    boss = await member(tenant, f"{report}@acme.example", "Boss")
    await setup_channel(tenant)
    created = await tenant.post("/v1/report-schedules", json={**body, "member_ids": [boss]})
    assert created.status_code == 201, created.text
    listed = (await tenant.get("/v1/report-schedules", params={"report": report})).json()["data"]
    assert [s["id"] for s in listed] == [created.json()["id"]]


async def refused(tenant: Tenant, report: str, params: dict[str, Any], field: str) -> None:
    body = {"name": "x", "report": report, "cadence": DAILY, "emit_event": True, "params": params}
    assert_problem(await tenant.post("/v1/report-schedules", json=body), 422, field)


async def setup_channel(tenant: Tenant) -> None:
    channel = {"type": "email", "provider": "smtp", "name": "Mail", "settings": {"host": "127.0.0.1", "port": 2525,
               "security": "none", "from_email": "crm@acme.example"}}  # fmt: skip
    assert (await tenant.post("/v1/channels", json=channel)).status_code == 201


async def _async(value: Any) -> Any:
    return value
