"""The customer 360 view through HTTP on both databases: its figures against hand-computed ones,
and a number of queries that does not grow with the customer's history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event

from app.db.session import Database
from tests.conftest import Tenant, assert_problem

# The workspace's today (UTC; dates 30 days and more from it are far from any time-zone edge).
TODAY = datetime.now(UTC).date()


async def created(tenant: Tenant, path: str, **body: Any) -> dict[str, Any]:
    response = await tenant.post(path, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)


async def history(tenant: Tenant, size: int) -> dict[str, Any]:
    """A customer with `size` of everything: orders, tickets, contracts, quotes, invoices, deals."""
    account = await created(tenant, "/v1/accounts", name=f"Acme {size}")
    mina = await created(tenant, "/v1/contacts", first_name="Mina", email=f"mina{size}@x.io", account_id=account["id"])
    orders = [{"source": "shop", "external_id": f"{size}-{n}", "status": "paid", "currency": "USD", "total": "10.00",
               "placed_at": f"2026-0{1 + n % 9}-01T10:00:00Z", "source_updated_at": "2026-10-01T10:00:00Z",
               "customer": {"email": f"mina{size}@x.io"}} for n in range(size)]  # fmt: skip
    assert (await tenant.post("/v1/orders/batch", json={"orders": orders})).status_code == 200
    for n in range(size):
        ticket = await created(tenant, "/v1/tickets", contact_id=mina["id"], account_id=account["id"], subject=f"T{n}")
        if n % 2:
            await tenant.patch(f"/v1/tickets/{ticket['id']}", json={"status": "solved", "satisfaction": 3 + n % 3})
        # Dates from today, so the renewal window holds the same contracts whenever the test runs:
        # C0 ends within 90 days, C1 after them, the others in 2099.
        ends = {0: TODAY + timedelta(days=30), 1: TODAY + timedelta(days=120)}.get(n, date(2099, 1, 1))
        await created(tenant, "/v1/contracts", contact_id=mina["id"], name=f"C{n}",
                      start_on=(TODAY - timedelta(days=365)).isoformat(), end_on=ends.isoformat(),
                      value="100.00")  # fmt: skip
        deal = await created(tenant, "/v1/opportunities", name=f"D{n}", contact_id=mina["id"], account_id=account["id"],
                             amount="50.00", type="upsell" if n % 2 else "new_business")  # fmt: skip
        if n % 2:
            await tenant.patch(f"/v1/opportunities/{deal['id']}", json={"stage": "won", "close_reason": "relationship"})
        await created(tenant, "/v1/quotes", opportunity_id=deal["id"], lines=[{"quantity": 2, "unit_price": "5.00"}])
        invoice = await created(tenant, "/v1/invoices", contact_id=mina["id"], amount_due="20.00", due_on="2026-01-01")
        if n % 2:
            await created(tenant, "/v1/payments", invoice_id=invoice["id"], amount="5.00")
    await tenant.post(f"/v1/contacts/{mina['id']}/loyalty", json={"kind": "earn", "points": 70})
    await created(tenant, "/v1/tasks", title="Call Mina back", contact_id=mina["id"])
    await created(tenant, "/v1/contacts", first_name="Friend", email=f"f{size}@x.io", referred_by_contact_id=mina["id"])
    return {"contact": mina, "account": account}


async def test_the_360_figures_are_the_customers(tenant: Tenant) -> None:
    mina = (await history(tenant, 4))["contact"]
    view = (await tenant.get(f"/v1/contacts/{mina['id']}/360")).json()
    assert view["kind"] == "contact" and view["profile"]["id"] == mina["id"]
    assert view["orders"]["count"] == 4 and view["orders"]["revenue"] == "40.00"
    assert view["orders"]["average_order_value"] == "10.00"
    assert view["loyalty_points"] == 70 and view["referrals"]["count"] == 1
    assert view["referrals"]["recent"][0]["first_name"] == "Friend"
    tickets = view["tickets"]  # tickets 1 and 3 solved, rated 4 and 3
    assert (tickets["open"], tickets["total"], tickets["satisfaction_count"]) == (2, 4, 2)
    assert tickets["satisfaction_average"] == 3.5 and len(tickets["recent_open"]) == 2
    contracts = view["contracts"]
    assert contracts["active"] == 4 and contracts["active_value"] == {"USD": "400.00"}
    assert contracts["ending_within_90_days"] == 1 and [c["name"] for c in contracts["renewals"]] == ["C0"]
    assert view["quotes"]["open"] == 4 and view["quotes"]["open_total"] == {"USD": "40.00"}
    invoices = view["invoices"]  # 4 x 20.00 due, 2 x 5.00 paid, all due 2026-01-01
    assert (invoices["unpaid"], invoices["balance"], invoices["overdue"]) == (4, {"USD": "70.00"}, 4)
    assert view["value_added_deals"] == {"count": 2, "amount": {"USD": "100.00"}}
    assert [e["data"]["title"] for e in view["timeline"] if e["kind"] == "task"] == ["Call Mina back"]


async def test_an_account_360_sums_its_contacts(tenant: Tenant) -> None:
    account = (await history(tenant, 2))["account"]
    view = (await tenant.get(f"/v1/accounts/{account['id']}/360")).json()
    assert view["kind"] == "account" and view["orders"]["count"] == 2 and view["loyalty_points"] == 70
    assert view["tickets"]["total"] == 2 and view["value_added_deals"]["count"] == 1


async def test_the_360_takes_as_many_queries_for_a_long_history_as_for_a_short_one(
    tenant: Tenant, database: Database
) -> None:
    small = (await history(tenant, 1))["contact"]
    large = (await history(tenant, 12))["contact"]
    counts = []
    for customer in (small, large):
        with counting(database) as statements:
            assert (await tenant.get(f"/v1/contacts/{customer['id']}/360")).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[0] < 30


async def test_another_workspace_gets_no_360(tenant: Tenant, other_tenant: Tenant) -> None:
    made = await history(tenant, 1)
    assert_problem(await other_tenant.get(f"/v1/contacts/{made['contact']['id']}/360"), 404)
    assert_problem(await other_tenant.get(f"/v1/accounts/{made['account']['id']}/360"), 404)


async def test_a_contacts_only_key_sees_no_invoices_or_tickets_in_the_360(tenant: Tenant) -> None:
    mina = (await history(tenant, 2))["contact"]
    key = await tenant.key_with("contacts:read")
    assert_problem(await tenant.get("/v1/invoices", key=key), 403)
    response = await tenant.get(f"/v1/contacts/{mina['id']}/360", key=key)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["profile"]["id"] == mina["id"] and view["loyalty_points"] == 70 and view["referrals"]["count"] == 1
    assert view["withheld"] == [
        "orders", "tickets", "contracts", "quotes", "invoices", "value_added_deals",
        "timeline.engagement", "timeline.activity", "timeline.task", "timeline.journey_step",
    ]  # fmt: skip
    for section in ("orders", "tickets", "contracts", "quotes", "invoices", "value_added_deals"):
        assert section not in view
    assert view["timeline"] == []  # its only entry is a task, which needs tasks:read
    assert '"T0"' not in response.text and '"C0"' not in response.text  # no ticket subject, no contract name


async def test_each_360_section_shows_with_its_own_read_scope(tenant: Tenant) -> None:
    mina = (await history(tenant, 2))["contact"]
    key = await tenant.key_with("contacts:read", "tickets:write", "invoices:read", "tasks:read")
    view = (await tenant.get(f"/v1/contacts/{mina['id']}/360", key=key)).json()
    assert view["tickets"]["total"] == 2  # write implies read
    assert view["invoices"]["unpaid"] == 2 and view["invoices"]["balance"] == {"USD": "35.00"}
    assert [e["data"]["title"] for e in view["timeline"] if e["kind"] == "task"] == ["Call Mina back"]
    assert view["withheld"] == [
        "orders", "contracts", "quotes", "value_added_deals", "timeline.engagement", "timeline.activity",
        "timeline.journey_step",
    ]  # fmt: skip
    everything = (await tenant.get(f"/v1/contacts/{mina['id']}/360")).json()  # admin
    assert everything["withheld"] == [] and everything["orders"]["count"] == 2


async def test_an_account_360_shows_only_what_the_key_may_read(tenant: Tenant) -> None:
    account = (await history(tenant, 2))["account"]
    key = await tenant.key_with("accounts:read", "orders:read", "opportunities:read")
    view = (await tenant.get(f"/v1/accounts/{account['id']}/360", key=key)).json()
    assert view["orders"]["count"] == 2 and view["loyalty_points"] == 70 and view["value_added_deals"]["count"] == 1
    assert view["withheld"] == ["tickets", "contracts", "quotes", "invoices"]
    assert_problem(
        await tenant.get(f"/v1/accounts/{account['id']}/360", key=await tenant.key_with("contacts:read")), 403
    )


async def test_a_contact_timeline_shows_only_the_kinds_of_entry_the_key_may_read(tenant: Tenant) -> None:
    mina = (await history(tenant, 1))["contact"]
    url = f"/v1/contacts/{mina['id']}/timeline"
    narrow = (await tenant.get(url, key=await tenant.key_with("contacts:read"))).json()
    assert narrow["data"] == [] and narrow["withheld"] == ["engagement", "activity", "task", "journey_step"]
    assert_problem(await tenant.get("/v1/tasks", key=await tenant.key_with("contacts:read")), 403)
    with_tasks = (await tenant.get(url, key=await tenant.key_with("contacts:read", "tasks:read"))).json()
    assert [e["data"]["title"] for e in with_tasks["data"]] == ["Call Mina back"]
    assert with_tasks["withheld"] == ["engagement", "activity", "journey_step"]
