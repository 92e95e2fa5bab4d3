"""CSV import and export through HTTP on both databases: the upload streamed into the database, the
job that applies it (run here as the worker runs it), dry runs, failed rows, and the round trip."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from app.config import Settings
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.worker import jobs
from tests.conftest import Tenant, assert_problem, make_tenant


def csv_bytes(rows: list[list[Any]], delimiter: str = ",", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode()


async def upload(
    tenant: Tenant, entity: str, data: bytes, *, mapping: dict[str, str] | None = None, dry_run: bool = False,
    key: str | None = None, **params: Any,
) -> Any:  # fmt: skip
    files: dict[str, Any] = {"file": ("people.csv", data, "text/csv")}
    form = {"mapping": json.dumps(mapping)} if mapping else {}
    query = {"entity": entity, "dry_run": str(dry_run).lower(), **params}
    return await tenant.post("/v1/imports", params=query, data=form, files=files, key=key)


async def run_jobs(database: Database) -> None:
    while await jobs.run_due(database, Settings(database_url=database.settings.database_url)):
        pass


async def imported(tenant: Tenant, database: Database, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    await run_jobs(database)
    done = (await tenant.get(response.headers["location"])).json()
    assert done["status"] == "completed", done
    return dict(done)


PEOPLE = [
    ["First name", "Last name", "E-mail", "Phone", "Company", "Tags", "Notes"],
    ["Sara", "Ahmadi", "sara@acme.io", "+989121111111", "Acme; Tehran", "vip;fair-2026", "met at the fair"],
    ["علی", "رضایی", "ali@example.ir", "09122222222", "شرکت نمونه", "", "خط اول\nخط دوم"],
    ["Bad", "Email", "not-an-email", "", "X", "", ""],
    ["Dup", "Licate", "SARA@acme.io", "", "Acme", "", "same email as row 1"],
    ["", "", "", "", "", "", ""],
]
MAPPING = {"first_name": "First name", "last_name": "Last name", "email": "E-mail", "phone": "Phone",
           "company": "Company", "tags": "Tags"}  # fmt: skip


async def test_a_lead_import_applies_good_rows_and_keeps_the_bad_ones_with_why(
    tenant: Tenant, database: Database
) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "IR"})
    await tenant.patch("/v1/settings/deduplication", json={"on_duplicate": "reject"})  # (new workspaces merge)
    data = csv_bytes(PEOPLE, delimiter=";", bom=True)
    done = await imported(tenant, database, await upload(tenant, "leads", data, mapping=MAPPING))
    assert (done["rows_total"], done["rows_done"], done["rows_created"], done["rows_failed"]) == (4, 4, 2, 2)
    assert done["options"]["delimiter"] == ";" and done["file_name"] == "people.csv"
    created = (await tenant.get("/v1/leads", params={"import_id": done["id"]})).json()["data"]
    by_email = {lead["email"]: lead for lead in created}
    assert set(by_email) == {"sara@acme.io", "ali@example.ir"}
    assert by_email["sara@acme.io"]["company"] == "Acme; Tehran" and by_email["sara@acme.io"]["tags"] == [
        "vip", "fair-2026"
    ]  # fmt: skip
    assert by_email["ali@example.ir"]["first_name"] == "علی" and by_email["ali@example.ir"]["phone_e164"] == (
        "+989122222222"
    )
    assert all(lead["source"] == "import" and lead["sla_status"] == "not_applicable" for lead in created)
    errors = (await tenant.get(f"/v1/imports/{done['id']}/errors")).json()["data"]
    assert [(e["row_number"], e["errors"][0]["field"]) for e in errors] == [(3, "email"), (4, None)]
    assert "same email or phone" in errors[1]["errors"][0]["message"]
    assert errors[0]["values"]["E-mail"] == "not-an-email"
    download = await tenant.get(f"/v1/imports/{done['id']}/errors.csv")
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["row_number", "errors", "First name"] and [r[0] for r in rows[1:]] == ["3", "4"]
    # one import.completed instead of a lead.created per row
    types = [e["type"] for e in (await tenant.get("/v1/events", params={"limit": 100})).json()["data"]]
    assert "lead.created" not in types and types.count("import.completed") == 1


async def test_a_lead_import_merges_rows_for_people_with_an_open_lead(tenant: Tenant, database: Database) -> None:
    stored = (await tenant.post("/v1/leads", json={"email": "sara@acme.io", "first_name": "Sara"})).json()
    data = csv_bytes([
        ["email", "first_name", "company", "tags"],
        ["SARA@acme.io", "Someone", "Acme", "fair"],  # the stored lead's email
        ["ali@x.io", "Ali", "", ""],
        ["ALI@x.io", "", "Parsian", "vip"],  # the same person as the row above
    ])  # fmt: skip
    checked = (await upload(tenant, "leads", data, dry_run=True)).json()
    assert (checked["rows_checked"], checked["rows_failed"]) == (3, 0)  # merged, not refused
    done = await imported(tenant, database, await upload(tenant, "leads", data))
    assert (done["rows_created"], done["rows_merged"], done["rows_failed"]) == (1, 2, 0)
    assert done["options"]["on_duplicate"] == "merge"
    sara = (await tenant.get(f"/v1/leads/{stored['id']}")).json()
    assert (sara["first_name"], sara["company"], sara["tags"]) == ("Sara", "Acme", ["fair"])  # only what it lacked
    [ali] = (await tenant.get("/v1/leads", params={"import_id": done["id"]})).json()["data"]
    assert (ali["first_name"], ali["company"], ali["tags"]) == ("Ali", "Parsian", ["vip"])
    types = [e["type"] for e in (await tenant.get("/v1/events", params={"limit": 100})).json()["data"]]
    assert "lead.merged" not in types and types.count("import.completed") == 1
    [completed] = (await tenant.get("/v1/events", params={"type": "import.completed"})).json()["data"]
    assert completed["data"]["rows_merged"] == 2


async def test_a_dry_run_reports_the_first_rows_errors_and_writes_nothing(tenant: Tenant) -> None:
    await tenant.patch("/v1/settings/deduplication", json={"on_duplicate": "reject"})  # (new workspaces merge)
    data = csv_bytes(PEOPLE)
    response = await upload(tenant, "leads", data, mapping=MAPPING, dry_run=True)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["rows_checked"] == 4 and result["rows_failed"] == 2
    assert [(e["row_number"], e["errors"][0]["field"]) for e in result["errors"]] == [(3, "email"), (4, None)]
    assert result["ignored_columns"] == ["Notes"]
    assert (await tenant.get("/v1/leads")).json()["data"] == []
    assert (await tenant.get("/v1/imports")).json()["data"] == []
    # without a mapping, columns named like fields are read
    plain = csv_bytes([["email", "first_name", "whatever"], ["a@b.io", "A", "x"]])
    auto = (await upload(tenant, "leads", plain, dry_run=True)).json()
    assert auto["mapping"] == {"email": "email", "first_name": "first_name"} and auto["rows_failed"] == 0


async def test_bad_uploads_are_422_and_leave_nothing_behind(tenant: Tenant) -> None:
    assert_problem(await upload(tenant, "leads", csv_bytes(PEOPLE), mapping={"emial": "E-mail"}), 422,
                   "mapping.emial")  # fmt: skip
    assert_problem(await upload(tenant, "leads", csv_bytes(PEOPLE), mapping={"email": "Mail"}), 422, "mapping.email")
    assert_problem(await upload(tenant, "leads", b""), 422, "file")
    assert_problem(await upload(tenant, "leads", "name\nSara\n".encode("utf-16")), 422, "file")
    assert_problem(await upload(tenant, "leads", b'email\n"a@b.io\n'), 422, "file")  # a quote never closed
    assert_problem(await upload(tenant, "leads", csv_bytes([["x", "y"], ["1", "2"]])), 422, "mapping")
    assert_problem(await upload(tenant, "leads", csv_bytes(PEOPLE), delimiter="|"), 422, "delimiter")
    bare = await tenant.post("/v1/imports", params={"entity": "leads"}, content=b"{}",
                             headers={"Content-Type": "application/json"})  # fmt: skip
    assert_problem(bare, 415)
    assert (await tenant.get("/v1/imports")).json()["data"] == []
    reader = await tenant.key_with("leads:read")
    assert_problem(await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING, key=reader), 403)
    orders_writer = await tenant.key_with("orders:write")
    assert_problem(await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING, key=orders_writer), 403)


async def test_orders_from_rows_per_line_item_and_from_json_line_items(tenant: Tenant, database: Database) -> None:
    lead = (await tenant.post("/v1/leads", json={"email": "buyer@x.io", "first_name": "Buyer"})).json()
    flat = csv_bytes([
        ["Order", "Status", "Currency", "Total", "Placed", "Email", "SKU", "Qty", "Price"],
        ["1001", "paid", "USD", "30.00", "2026-10-01T10:00:00Z", "buyer@x.io", "MUG", "2", "10.00"],
        ["1001", "paid", "USD", "30.00", "2026-10-01T10:00:00Z", "buyer@x.io", "CAP", "1", "10.00"],
        ["1002", "paid", "USD", "12.345", "2026-10-02T10:00:00Z", "buyer@x.io", "MUG", "1", "12.345"],
        ["1003", "refunded", "EUR", "5.00", "2026-10-03T10:00:00Z", "other@x.io", "PEN", "1", "5.00"],
    ])  # fmt: skip
    mapping = {"external_id": "Order", "status": "Status", "currency": "Currency", "total": "Total",
               "placed_at": "Placed", "customer_email": "Email", "line_sku": "SKU", "line_quantity": "Qty",
               "line_unit_price": "Price"}  # fmt: skip
    done = await imported(tenant, database, await upload(tenant, "orders", flat, mapping=mapping,
                                                         default_source="legacy-shop"))  # fmt: skip
    assert (done["rows_total"], done["rows_created"], done["rows_failed"]) == (4, 3, 1)
    listed = {o["external_id"]: o for o in (await tenant.get("/v1/orders", params={"import_id": done["id"]})).json()[
        "data"]}  # fmt: skip
    assert set(listed) == {"1001", "1003"} and listed["1001"]["source"] == "legacy-shop"
    assert [(li["sku"], li["quantity"]) for li in listed["1001"]["line_items"]] == [("MUG", 2), ("CAP", 1)]
    errors = (await tenant.get(f"/v1/imports/{done['id']}/errors")).json()["data"]
    assert [(e["row_number"], e["errors"][0]["field"]) for e in errors] == [(3, "total")]
    contact = (await tenant.get(f"/v1/contacts/{listed['1001']['contact_id']}")).json()
    assert contact["orders_count"] == 1 and contact["email"] == "buyer@x.io"
    events = (await tenant.get("/v1/events", params={"limit": 100})).json()["data"]
    types = [e["type"] for e in events]
    assert "order.created" not in types and "import.completed" in types
    # what matters one by one is still announced: the open lead bought, and converted
    converted = [e for e in events if e["type"] == "customer.converted"]
    assert len(converted) == 1 and converted[0]["data"]["lead_id"] == lead["id"]


async def test_columns_no_field_reads_are_named_in_a_warning_by_the_dry_run_and_the_import(
    tenant: Tenant, database: Database
) -> None:
    # An orders file written as a shop exports it: `sku` and `quantity` instead of line_sku and
    # line_quantity. Without a word the orders would be imported without their lines.
    data = csv_bytes([
        ["external_id", "status", "currency", "total", "placed_at", "customer_email", "sku", "quantity", "gift_note"],
        ["2001", "paid", "USD", "20.00", "2026-10-01T10:00:00Z", "w@x.io", "MUG", "2", "hi"],
    ])  # fmt: skip
    checked = await upload(tenant, "orders", data, dry_run=True)
    assert checked.status_code == 200, checked.text
    result = checked.json()
    assert result["ignored_columns"] == ["sku", "quantity", "gift_note"]
    [warning] = result["warnings"]
    assert "'sku' (meant for 'line_sku'?)" in warning and "'quantity' (meant for 'line_quantity'?)" in warning
    assert "'gift_note'" in warning and "gift_note' (meant" not in warning
    done = await imported(tenant, database, await upload(tenant, "orders", data))
    assert done["ignored_columns"] == ["sku", "quantity", "gift_note"] and done["warnings"] == [warning]
    assert (await tenant.get(f"/v1/imports/{done['id']}")).json()["warnings"] == [warning]
    listed = (await tenant.get("/v1/imports", params={"entity": "orders"})).json()["data"]
    assert [i["warnings"] for i in listed if i["id"] == done["id"]] == [[warning]]
    # With a mapping the columns it leaves out are named the same way (Notes here), and a mapping
    # naming a column the file does not have is an error, in the dry run as in the import.
    mapped = (await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING, dry_run=True)).json()
    assert mapped["ignored_columns"] == ["Notes"] and "'Notes'" in mapped["warnings"][0]
    wrong = {**MAPPING, "city": "Town"}
    for dry_run in (True, False):
        body = assert_problem(await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=wrong, dry_run=dry_run), 422,
                              "mapping.city")  # fmt: skip
        assert "no column 'Town'" in body["detail"]
    # A file whose every column is read has no warning.
    clean = (await upload(tenant, "leads", csv_bytes([["email"], ["c@x.io"]]), dry_run=True)).json()
    assert clean["ignored_columns"] == [] and clean["warnings"] == []


async def test_export_then_import_into_an_empty_workspace_gives_the_same_records(
    tenant: Tenant, database: Database, client: Any
) -> None:
    sara = {"first_name": "Sara", "last_name": '=HYPERLINK("x")', "email": "sara@acme.io", "company": "Acme, Inc.",
            "tags": ["vip", "b2b"], "country": "IR", "city": "تهران", "utm_source": "newsletter"}  # fmt: skip
    await tenant.post("/v1/leads", json=sara)
    await tenant.post(
        "/v1/leads", json={"first_name": "Reza", "phone": "+989121234567", "job_title": 'The "boss"\nCEO'}
    )
    await tenant.post("/v1/contacts", json={"first_name": "Mina", "email": "mina@x.io", "interests": ["tea"],
                                            "addresses": [{"type": "billing", "city": "Yazd"}]})  # fmt: skip
    order = {"source": "shop", "external_id": "A-1", "status": "paid", "currency": "USD", "total": "25.50",
             "placed_at": "2026-09-01T08:00:00Z", "source_updated_at": "2026-09-01T08:00:00Z",
             "customer": {"external_id": "c-1", "email": "buyer@x.io", "first_name": "Bob"},
             "line_items": [{"sku": "MUG", "name": "Mug", "quantity": 3, "unit_price": "8.50"}]}  # fmt: skip
    assert (await tenant.post("/v1/orders/batch", json={"orders": [order]})).status_code == 200
    empty = await make_tenant(database, client, name="Empty")
    compared = {
        "leads": ("first_name", "last_name", "email", "phone_e164", "company", "tags", "country", "city", "utm_source",
                  "job_title", "status"),
        "contacts": ("first_name", "email", "interests", "orders_count", "revenue", "addresses"),
        "orders": ("source", "external_id", "status", "currency", "total", "placed_at", "line_items"),
    }  # fmt: skip
    for entity in compared:  # contacts before orders: the orders' customer is matched to its contact
        exported = await tenant.get(f"/v1/exports/{entity}.csv")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        assert "=HYPERLINK" not in exported.text.replace("'=HYPERLINK", "")  # never a formula in a spreadsheet
        assert "+989121234567" in exported.text or entity != "leads"  # a phone is not escaped
        assert exported.content.startswith("\ufeff".encode())
        done = await imported(empty, database, await upload(empty, entity, exported.content))
        assert done["rows_failed"] == 0, (await empty.get(f"/v1/imports/{done['id']}/errors")).json()
    for entity, fields in compared.items():

        async def records(who: Tenant, entity: str = entity, fields: tuple[str, ...] = fields) -> list[str]:
            rows = (await who.get(f"/v1/{entity}")).json()["data"]
            for row in rows:  # products are the workspace's own (new ids there)
                for line in row.get("line_items") or []:
                    line.pop("product_id")
            return sorted(json.dumps({k: r[k] for k in fields}, sort_keys=True, ensure_ascii=False) for r in rows)

        assert await records(empty) == await records(tenant), entity


async def test_exports_take_the_list_filters_and_stay_in_the_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    for n in range(3):
        await tenant.post("/v1/leads", json={"email": f"l{n}@x.io", "status": "new" if n else "contacted"})
    await other_tenant.post("/v1/leads", json={"email": "theirs@x.io"})
    rows = list(csv.DictReader(io.StringIO((await tenant.get("/v1/exports/leads.csv")).text.lstrip("\ufeff"))))
    assert sorted(r["email"] for r in rows) == ["l0@x.io", "l1@x.io", "l2@x.io"]
    contacted = (await tenant.get("/v1/exports/leads.csv", params={"status": "contacted"})).text.lstrip("\ufeff")
    assert [r["email"] for r in csv.DictReader(io.StringIO(contacted))] == ["l0@x.io"]
    assert_problem(await tenant.get("/v1/exports/leads.csv", params={"status": "bogus"}), 422, "status")
    # a filter the service refuses is a 422 before the download starts, not a broken download
    assert_problem(await tenant.get("/v1/exports/contacts.csv", params={"revenue_min": "1.123"}), 422, "revenue_min")
    reader = await tenant.key_with("contacts:read")
    assert_problem(await tenant.get("/v1/exports/leads.csv", key=reader), 403)


async def test_imports_of_one_workspace_are_invisible_to_another(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    done = await imported(tenant, database, await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING))
    for path in ("", "/errors", "/errors.csv"):
        assert_problem(await other_tenant.get(f"/v1/imports/{done['id']}{path}"), 404)
    assert (await other_tenant.get("/v1/imports")).json()["data"] == []
    assert (await other_tenant.get("/v1/leads", params={"import_id": done["id"]})).json()["data"] == []


async def test_a_cut_off_upload_is_refused_and_stray_quotes_are_just_characters(
    tenant: Tenant, database: Database
) -> None:
    body = (b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\nemail,company\r\na@x.io,A\r\nb@x.io,B\r\n")  # fmt: skip
    cut = await tenant.post("/v1/imports", params={"entity": "leads"}, content=body,
                            headers={"Content-Type": "multipart/form-data; boundary=XX"})  # fmt: skip
    assert_problem(cut, 422, "body")
    assert (await tenant.get("/v1/imports")).json()["data"] == []
    quotes = b'email,company,job_title\r\nbob@x.io,12" Pizza Co,Chef\r\namy@x.io,"Amy ""A"" Inc",5\'11" tall\r\n'
    done = await imported(tenant, database, await upload(tenant, "leads", quotes))
    assert done["rows_created"] == 2, (await tenant.get(f"/v1/imports/{done['id']}/errors")).json()
    companies = {lead["company"] for lead in (await tenant.get("/v1/leads")).json()["data"]}
    assert companies == {'12" Pizza Co', 'Amy "A" Inc'}


async def test_nightly_clean_up_discards_abandoned_uploads_and_old_receipts(tenant: Tenant, database: Database) -> None:
    import uuid
    from datetime import timedelta

    from app.db.unit_of_work import UnitOfWork
    from app.ids import new_id, utcnow
    from app.services.context import SYSTEM, Context
    from app.worker import recurring

    workspace_id = uuid.UUID(tenant.id)
    kept = await imported(tenant, database, await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING))
    stale_id = new_id()
    async with UnitOfWork(database) as uow:  # a server that died mid-upload left this behind
        ctx = Context(uow, workspace_id, SYSTEM, utcnow() - timedelta(days=2))
        values = {"id": stale_id, "entity": "leads", "status": "uploading", "mapping": {}, "options": {}, "columns": []}
        await WorkspaceRepositories(uow, workspace_id).imports.create({**values, **ctx.audit_new()})
        await WorkspaceRepositories(uow, workspace_id).imports.add_chunk(stale_id, 0, b"email\n")
        await uow.commit()
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, workspace_id, SYSTEM, utcnow())
        assert await recurring.discard_abandoned_uploads(ctx) == 1
        await recurring.purge_integration_receipts(ctx)
        await uow.commit()
    async with UnitOfWork(database, write=False) as uow:
        assert await WorkspaceRepositories(uow, workspace_id).imports.get(stale_id) is None
        assert await WorkspaceRepositories(uow, workspace_id).imports.chunk(stale_id, 0) is None
    assert (await tenant.get(f"/v1/imports/{kept['id']}")).json()["status"] == "completed"


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


async def test_every_exported_cell_is_escaped_against_formulas_lists_included(
    tenant: Tenant, database: Database
) -> None:
    """A tag or interest typed as a formula is escaped in the final text of its cell (after the
    list is joined), and the export still imports back to the same values."""
    formula = '=HYPERLINK("http://evil.example")'  # no comma: imports split tags on it
    await tenant.post("/v1/leads", json={"email": "t@x.io", "tags": [formula, "vip"], "company": "@Acme"})
    await tenant.post("/v1/contacts", json={"email": "c@x.io", "interests": ["+cmd|' /C calc'!A0", "tea"]})
    leads = _cells((await tenant.get("/v1/exports/leads.csv")).text)
    row = dict(zip(leads[0], leads[1], strict=True))
    assert row["tags"] == f"'{formula};vip" and row["company"] == "'@Acme"
    contacts = _cells((await tenant.get("/v1/exports/contacts.csv")).text)
    assert dict(zip(contacts[0], contacts[1], strict=True))["interests"] == "'+cmd|' /C calc'!A0;tea"
    for table in (leads, contacts):
        assert not [c for r in table for c in r if c[:1] in ("=", "+", "@") and not c[1:2].isdigit()]
    empty = await make_tenant(database, tenant.client, name="Empty")
    exported = (await tenant.get("/v1/exports/leads.csv")).content
    assert (await imported(empty, database, await upload(empty, "leads", exported)))["rows_created"] == 1
    [lead] = (await empty.get("/v1/leads")).json()["data"]
    assert (lead["tags"], lead["company"]) == ([formula, "vip"], "@Acme")


async def test_the_failed_rows_csv_is_escaped_against_formulas(tenant: Tenant, database: Database) -> None:
    """The errors CSV repeats what a stranger uploaded (values and column names): never as a formula."""
    rows = [["email", "=cmd|' /C calc'!A0"], ["not-an-email", '=HYPERLINK("http://evil.example")']]
    mapping = {"email": "email", "company": "=cmd|' /C calc'!A0"}
    done = await imported(tenant, database, await upload(tenant, "leads", csv_bytes(rows), mapping=mapping))
    assert done["rows_failed"] == 1
    text = (await tenant.get(f"/v1/imports/{done['id']}/errors.csv")).text
    assert _cells(text) == [
        ["row_number", "errors", "email", "'=cmd|' /C calc'!A0"],
        ["1", _cells(text)[1][1], "not-an-email", '\'=HYPERLINK("http://evil.example")'],
    ]
    assert _cells(text)[1][1].startswith("email: ")
    # fixed and sent back with the same mapping: the column names and values are read as uploaded
    fixed = text.replace("not-an-email", "fixed@x.io").encode()
    again = await imported(tenant, database, await upload(tenant, "leads", fixed, mapping=mapping))
    assert again["rows_created"] == 1
    [lead] = (await tenant.get("/v1/leads", params={"import_id": again["id"]})).json()["data"]
    assert (lead["email"], lead["company"]) == ("fixed@x.io", '=HYPERLINK("http://evil.example")')


def padded_csv(size: int, row_bytes: int = 100_000) -> bytes:
    """A leads CSV of about `size` bytes in few rows (an ignored column pads them): the quota is
    about stored bytes, and few rows keep the import quick."""
    rows = [["email", "padding"]]
    rows += [[f"p{i}@pad.io", "x" * row_bytes] for i in range(max(1, size // row_bytes))]
    return csv_bytes(rows)


async def capped_tenant(database: Database, **caps: int) -> tuple[Tenant, Any]:
    import httpx

    from app.main import create_app

    settings = Settings(database_url=database.settings.database_url, rate_limit_api_per_minute=10**6, **caps)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, database=database), raise_app_exceptions=False),
        base_url="http://testserver",
    )
    return await make_tenant(database, client, name="Capped"), client


async def test_an_upload_past_the_stored_bytes_quota_stops_with_a_409_and_leaves_nothing(database: Database) -> None:
    quota = 2_500_000
    tenant, client = await capped_tenant(database, import_stored_bytes_per_workspace=quota)
    async with client:
        body = assert_problem(await upload(tenant, "leads", padded_csv(4_000_000)), 409)
        assert body["type"] == "/problems/limit-exceeded"
        assert (body["limit"], body["value"]) == ("IMPORT_STORED_BYTES_PER_WORKSPACE", quota)
        assert (await tenant.get("/v1/imports")).json()["data"] == []  # nothing half-written is kept
        first = await upload(tenant, "leads", padded_csv(1_200_000))  # the refused upload's pieces are not counted
        assert first.status_code == 202, first.text
        # A queued import keeps its pieces until it ends: they count.
        refused = assert_problem(await upload(tenant, "leads", padded_csv(1_600_000)), 409)
        assert refused["limit"] == "IMPORT_STORED_BYTES_PER_WORKSPACE"
        assert [i["id"] for i in (await tenant.get("/v1/imports")).json()["data"]] == [first.json()["id"]]
        await run_jobs(database)
        assert (await tenant.get(first.headers["location"])).json()["status"] == "completed"
        again = await upload(tenant, "leads", padded_csv(1_600_000))  # its pieces were deleted when it ended
        assert again.status_code == 202, again.text
        await run_jobs(database)


async def test_uploads_streaming_at_once_are_capped_per_workspace(database: Database) -> None:
    import asyncio

    tenant, client = await capped_tenant(database, import_uploads_per_workspace=1)
    other, other_client = await capped_tenant(database, import_uploads_per_workspace=1)
    release = asyncio.Event()

    async def slow_body() -> Any:
        yield b"email,company\r\n"
        await release.wait()  # the client is still sending
        yield b"slow@x.io,Slow\r\n"

    async with client, other_client:
        streaming = asyncio.create_task(
            tenant.post("/v1/imports", params={"entity": "leads"}, content=slow_body(),
                        headers={"Content-Type": "text/csv"})
        )  # fmt: skip
        for _ in range(200):  # until it is stored as uploading
            if (await tenant.get("/v1/imports", params={"status": "uploading"})).json()["data"]:
                break
            await asyncio.sleep(0.02)
        body = assert_problem(await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING), 409)
        assert (body["type"], body["limit"], body["value"]) == (
            "/problems/limit-exceeded", "IMPORT_UPLOADS_PER_WORKSPACE", 1
        )  # fmt: skip
        elsewhere = await upload(other, "leads", csv_bytes(PEOPLE), mapping=MAPPING)  # another workspace's own cap
        assert elsewhere.status_code == 202, elsewhere.text
        release.set()
        assert (await streaming).status_code == 202
        after = await upload(tenant, "leads", csv_bytes(PEOPLE), mapping=MAPPING)
        assert after.status_code == 202, after.text
        await run_jobs(database)
