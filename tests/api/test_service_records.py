"""Tickets, contracts, quotes, invoices and payments through HTTP on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Tenant, assert_problem


async def created(tenant: Tenant, path: str, **body: Any) -> dict[str, Any]:
    response = await tenant.post(path, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def customer(tenant: Tenant) -> dict[str, Any]:
    return await created(tenant, "/v1/contacts", first_name="Mina", email="mina@x.io")


async def test_ticket_times_follow_its_status_and_satisfaction_comes_once_solved(tenant: Tenant) -> None:
    mina = await customer(tenant)
    ticket = await created(tenant, "/v1/tickets", contact_id=mina["id"], subject="Broken mug", channel="chat",
                           priority="high")  # fmt: skip
    assert ticket["status"] == "open" and ticket["opened_at"] and ticket["solved_at"] is None
    path = f"/v1/tickets/{ticket['id']}"
    assert_problem(await tenant.patch(path, json={"satisfaction": 5}), 422, "satisfaction")
    solved = (await tenant.patch(path, json={"status": "solved", "satisfaction": 4})).json()
    assert solved["solved_at"] and solved["satisfaction"] == 4
    reopened = (await tenant.patch(path, json={"status": "open"})).json()
    assert reopened["solved_at"] is None and reopened["closed_at"] is None
    closed = (await tenant.patch(path, json={"status": "closed"})).json()
    assert closed["solved_at"] and closed["closed_at"]
    assert_problem(await tenant.post("/v1/tickets", json={"subject": "Nobody's"}), 422, "contact_id")
    listed = (await tenant.get("/v1/tickets", params={"contact_id": mina["id"], "status": "closed"})).json()["data"]
    assert [t["id"] for t in listed] == [ticket["id"]]
    assert (await tenant.get("/v1/tickets", params={"status": "open"})).json()["data"] == []
    types = [e["type"] for e in (await tenant.get("/v1/events", params={"limit": 50})).json()["data"]]
    assert "ticket.created" in types and "ticket.updated" in types


async def test_contracts_and_renewals(tenant: Tenant) -> None:
    mina = await customer(tenant)
    contract = await created(tenant, "/v1/contracts", contact_id=mina["id"], name="Support plan",
                             start_on="2026-01-01", end_on="2026-12-31", value="1200.00", billing_period="monthly",
                             auto_renew=True)  # fmt: skip
    assert (contract["value"], contract["currency"], contract["renewal_status"]) == ("1200.00", "USD", "none")
    await created(tenant, "/v1/contracts", contact_id=mina["id"], name="Later", start_on="2027-01-01",
                  end_on="2027-12-31")  # fmt: skip
    ending = (await tenant.get("/v1/contracts", params={"ends_before": "2027-01-01"})).json()["data"]
    assert [c["name"] for c in ending] == ["Support plan"]
    bad = {"contact_id": mina["id"], "name": "Bad", "start_on": "2026-05-01", "end_on": "2026-04-01"}
    assert_problem(await tenant.post("/v1/contracts", json=bad), 422)
    assert_problem(await tenant.patch(f"/v1/contracts/{contract['id']}", json={"end_on": "2025-01-01"}), 422,
                   "end_on")  # fmt: skip
    assert_problem(await tenant.patch(f"/v1/contracts/{contract['id']}", json={"value": "1.001"}), 422, "value")


async def test_a_quote_totals_its_lines_and_is_final_once_decided(tenant: Tenant) -> None:
    mina = await customer(tenant)
    deal = await created(tenant, "/v1/opportunities", name="Upsell mugs", contact_id=mina["id"], amount="500.00",
                         type="upsell")  # fmt: skip
    lines = [{"sku": "MUG", "quantity": 3, "unit_price": "9.99"}, {"name": "Setup", "quantity": 1,
             "unit_price": "50.00", "discount": "5.00"}]  # fmt: skip
    quote = await created(tenant, "/v1/quotes", opportunity_id=deal["id"], lines=lines, number="Q-1")
    assert quote["total"] == "74.97" and [line["total"] for line in quote["lines"]] == ["29.97", "45.00"]
    assert quote["contact_id"] == mina["id"] and quote["status"] == "draft"  # the opportunity's customer
    path = f"/v1/quotes/{quote['id']}"
    sent = (await tenant.patch(path, json={"status": "sent"})).json()
    assert sent["sent_at"]
    assert_problem(await tenant.patch(path, json={"status": "draft"}), 422, "status")
    accepted = (await tenant.patch(path, json={"status": "accepted"})).json()
    assert accepted["decided_at"]
    assert_problem(await tenant.patch(path, json={"lines": lines[:1]}), 409)
    assert_problem(await tenant.post("/v1/quotes", json={"opportunity_id": deal["id"], "lines": lines,
                                                         "number": "Q-1"}), 409)  # fmt: skip
    huge = [{"quantity": 6640, "unit_price": "60240674023312"}]
    assert_problem(await tenant.post("/v1/quotes", json={"opportunity_id": deal["id"], "lines": huge}), 422,
                   "lines.0.quantity")  # fmt: skip
    bad_line = [{"quantity": 1, "unit_price": "1.00", "discount": "2.00"}]
    assert_problem(await tenant.post("/v1/quotes", json={"opportunity_id": deal["id"], "lines": bad_line}), 422,
                   "lines.0.discount")  # fmt: skip


async def test_payments_move_the_invoice_and_never_pay_more_than_its_balance(tenant: Tenant) -> None:
    mina = await customer(tenant)
    invoice = await created(tenant, "/v1/invoices", contact_id=mina["id"], number="INV-1", amount_due="100.00",
                            due_on="2026-12-01")  # fmt: skip
    assert (invoice["status"], invoice["balance"]) == ("open", "100.00")
    path = f"/v1/invoices/{invoice['id']}"
    first = await created(tenant, "/v1/payments", invoice_id=invoice["id"], amount="40.00", method="card",
                          reference="tx-1")  # fmt: skip
    assert first["contact_id"] == mina["id"] and first["currency"] == "USD"
    shown = (await tenant.get(path)).json()
    assert (shown["status"], shown["amount_paid"], shown["balance"]) == ("partially_paid", "40.00", "60.00")
    assert_problem(await tenant.post("/v1/payments", json={"invoice_id": invoice["id"], "amount": "60.01"}), 422,
                   "amount")  # fmt: skip
    assert_problem(await tenant.post("/v1/payments", json={"invoice_id": invoice["id"], "amount": "1.00",
                                                           "reference": "tx-1"}), 409)  # fmt: skip
    assert_problem(await tenant.post("/v1/payments", json={"invoice_id": invoice["id"], "amount": "1.00",
                                                           "currency": "EUR"}), 422, "currency")  # fmt: skip
    await created(tenant, "/v1/payments", invoice_id=invoice["id"], amount="60.00")
    assert (await tenant.get(path)).json()["status"] == "paid"
    assert_problem(await tenant.post("/v1/payments", json={"invoice_id": invoice["id"], "amount": "1.00"}), 409)
    assert_problem(await tenant.patch(path, json={"amount_due": "90.00"}), 422, "amount_due")
    assert_problem(await tenant.patch(path, json={"status": "void"}), 409)
    voided = await tenant.delete(f"/v1/payments/{first['id']}")
    assert voided.status_code == 200 and voided.json()["voided_at"]
    shown = (await tenant.get(path)).json()
    assert (shown["status"], shown["amount_paid"], shown["balance"]) == ("partially_paid", "60.00", "40.00")
    again = await tenant.delete(f"/v1/payments/{first['id']}")
    assert again.status_code == 200 and (await tenant.get(path)).json()["amount_paid"] == "60.00"  # idempotent
    unpaid = (await tenant.get("/v1/invoices", params={"unpaid": "true", "due_before": "2026-12-02"})).json()
    assert [i["id"] for i in unpaid["data"]] == [invoice["id"]]
    draft = await created(tenant, "/v1/invoices", contact_id=mina["id"], amount_due="5.00", status="draft")
    assert_problem(await tenant.post("/v1/payments", json={"invoice_id": draft["id"], "amount": "5.00"}), 409)
    types = [e["type"] for e in (await tenant.get("/v1/events", params={"limit": 100})).json()["data"]]
    assert {"invoice.created", "invoice.updated", "payment.created", "payment.voided"} <= set(types)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # real concurrent transactions
async def test_concurrent_payments_never_overpay(tenant: Tenant) -> None:
    mina = await customer(tenant)
    invoice = await created(tenant, "/v1/invoices", contact_id=mina["id"], amount_due="100.00")
    body = {"invoice_id": invoice["id"], "amount": "30.00"}
    answers = await asyncio.gather(*(tenant.post("/v1/payments", json=body) for _ in range(8)))
    assert sorted(a.status_code for a in answers).count(201) == 3
    shown = (await tenant.get(f"/v1/invoices/{invoice['id']}")).json()
    assert (shown["amount_paid"], shown["status"]) == ("90.00", "partially_paid")


async def test_another_workspace_sees_none_of_them(tenant: Tenant, other_tenant: Tenant) -> None:
    mina = await customer(tenant)
    await created(tenant, "/v1/tickets", contact_id=mina["id"], subject="Hi")
    await created(tenant, "/v1/invoices", contact_id=mina["id"], amount_due="5.00")
    for path in ("/v1/tickets", "/v1/contracts", "/v1/quotes", "/v1/invoices", "/v1/payments"):
        assert (await other_tenant.get(path)).json()["data"] == [], path
    # their records cannot name this workspace's contact
    assert_problem(await other_tenant.post("/v1/tickets", json={"contact_id": mina["id"], "subject": "x"}), 422,
                   "contact_id")  # fmt: skip
