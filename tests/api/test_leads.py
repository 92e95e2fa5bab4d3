"""Leads through the HTTP API on both databases."""

from __future__ import annotations

from tests.conftest import Tenant, assert_problem


async def lead(tenant: Tenant, **fields) -> dict:  # type: ignore[no-untyped-def]
    response = await tenant.post("/v1/leads", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_email_is_normalised_and_keyed_for_matching(tenant: Tenant) -> None:
    created = await lead(tenant, first_name="Sara", email="  Sara.Ahmadi@Example.COM ")
    assert created["email"] == "Sara.Ahmadi@example.com"
    assert created["email_key"] == "sara.ahmadi@example.com"
    assert (created["status"], created["source"], created["channel"]) == ("new", "other", "offline")
    assert (await tenant.get(f"/v1/leads/{created['id']}")).json() == created


async def test_national_phone_uses_the_workspace_region(tenant: Tenant) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "IR"})
    created = await lead(tenant, phone="0912 345 6789", source="web_form")
    assert (created["phone"], created["phone_e164"], created["phone_valid"]) == ("0912 345 6789", "+989123456789", True)
    assert created["channel"] == "online"
    persian = await lead(tenant, phone="۰۹۱۲۳۴۵۶۷۸۸")
    assert persian["phone_e164"] == "+989123456788"


async def test_doubtful_phone_never_rejects_a_lead_with_a_valid_email(tenant: Tenant) -> None:
    created = await lead(tenant, email="a@x.io", phone="12")
    assert (created["phone"], created["phone_e164"], created["phone_valid"]) == ("12", None, False)


async def test_a_lead_needs_a_usable_email_or_phone(tenant: Tenant) -> None:
    assert_problem(await tenant.post("/v1/leads", json={"first_name": "Nobody"}), 422, "email")
    assert_problem(await tenant.post("/v1/leads", json={"email": "not-an-email"}), 422, "email")
    assert_problem(await tenant.post("/v1/leads", json={"phone": "12"}), 422, "phone")
    assert_problem(await tenant.post("/v1/leads", json={"email": "a@x.io", "country": "XX"}), 422, "country")
    assert (await tenant.get("/v1/leads")).json()["data"] == []


async def test_owner_and_referrer_must_exist_in_the_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    foreign = await lead(other_tenant, email="f@x.io")
    assert_problem(
        await tenant.post("/v1/leads", json={"email": "a@x.io", "referred_by_lead_id": foreign["id"]}),
        422,
        "referred_by_lead_id",
    )
    assert_problem(await tenant.post("/v1/leads", json={"email": "a@x.io", "owner_id": foreign["id"]}), 422, "owner_id")
    member = (await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@x.io"})).json()
    referrer = await lead(tenant, email="ref@x.io")
    referred = await lead(
        tenant, email="new@x.io", source="referral", referred_by_lead_id=referrer["id"], owner_id=member["id"]
    )
    assert referred["referred_by_lead_id"] == referrer["id"] and referred["owner_id"] == member["id"]


async def test_search_matches_persian_letter_variants_and_any_digits(tenant: Tenant) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "IR"})
    arabic = await lead(tenant, first_name="علي", last_name="كريمي", phone="۰۹۱۲۱۱۱۲۲۳۳", company="Acme Trading")
    await lead(tenant, first_name="John", email="john@x.io")
    for q in ("علی کریمی", "كريمي", "09121112233", "۰۹۱۲۱۱۱", "+98912111", "acme"):
        found = [x["id"] for x in (await tenant.get("/v1/leads", params={"q": q})).json()["data"]]
        assert found == [arabic["id"]], q
    assert (await tenant.get("/v1/leads", params={"q": "100%_"})).json()["data"] == []


async def test_status_moves_by_hand_only_through_the_open_states(tenant: Tenant) -> None:
    created = await lead(tenant, email="s@x.io")
    url = f"/v1/leads/{created['id']}"
    assert (await tenant.patch(url, json={"status": "contacted"})).json()["status"] == "contacted"
    assert (await tenant.patch(url, json={"status": "nurturing"})).json()["status"] == "nurturing"
    refused = assert_problem(await tenant.patch(url, json={"status": "qualified"}), 409)
    assert "qualify" in refused["detail"]
    assert_problem(await tenant.post("/v1/leads", json={"email": "q@x.io", "status": "qualified"}), 422, "status")


async def test_archive_hides_the_lead_and_emits_events(tenant: Tenant) -> None:
    kept = await lead(tenant, email="keep@x.io")
    gone = await lead(tenant, email="gone@x.io", tags=["vip"])
    await tenant.patch(f"/v1/leads/{gone['id']}", json={"city": "Tehran"})
    archived = await tenant.delete(f"/v1/leads/{gone['id']}")
    assert archived.status_code == 200 and archived.json()["archived_at"] is not None
    assert [x["id"] for x in (await tenant.get("/v1/leads")).json()["data"]] == [kept["id"]]
    assert [x["id"] for x in (await tenant.get("/v1/leads?archived=true")).json()["data"]] == [gone["id"]]
    types = [e["type"] for e in (await tenant.get("/v1/events", params={"resource_id": gone["id"]})).json()["data"]]
    assert types == ["lead.created", "lead.updated", "lead.archived"]
    [updated] = (await tenant.get("/v1/events", params={"type": "lead.updated"})).json()["data"]
    assert updated["previous_attributes"] == {"city": None}


async def test_filters_and_cursor_pages(tenant: Tenant) -> None:
    member = (await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@x.io"})).json()
    await lead(tenant, email="a@x.io", source="web_form", tags=["vip", "fair"], country="IR", owner_id=member["id"])
    await lead(tenant, email="b@x.io", source="event", tags=["fair"], country="DE")
    await lead(tenant, email="c@x.io", source="web_form", country="IR")

    async def emails(**params: str) -> list[str]:
        return sorted(x["email"] for x in (await tenant.get("/v1/leads", params=params)).json()["data"])

    assert await emails(source="web_form") == ["a@x.io", "c@x.io"]
    assert await emails(tag="fair") == ["a@x.io", "b@x.io"]
    assert await emails(tag="vip", country="IR") == ["a@x.io"]
    assert await emails(owner_id=member["id"]) == ["a@x.io"]
    assert await emails(created_after="2000-01-01T00:00:00Z", source="event") == ["b@x.io"]
    assert await emails(created_before="2000-01-01T00:00:00Z") == []
    seen, cursor = [], None
    while True:
        params = {"limit": "2", "sort": "-updated_at", **({"cursor": cursor} if cursor else {})}
        page = (await tenant.get("/v1/leads", params=params)).json()
        seen += [x["email"] for x in page["data"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == ["c@x.io", "b@x.io", "a@x.io"]


async def test_tags_are_replaced_on_update(tenant: Tenant) -> None:
    created = await lead(tenant, email="t@x.io", tags=["a", " b ", "a"])
    assert created["tags"] == ["a", "b"]
    updated = (await tenant.patch(f"/v1/leads/{created['id']}", json={"tags": ["c"]})).json()
    assert updated["tags"] == ["c"]
    assert (await tenant.get("/v1/leads", params={"tag": "a"})).json()["data"] == []
    assert len((await tenant.get("/v1/leads", params={"tag": "c"})).json()["data"]) == 1


async def test_custom_fields_are_defined_validated_and_filterable(tenant: Tenant) -> None:
    for definition in (
        {"key": "budget", "label": "Budget", "type": "number"},
        {"key": "plan", "label": "Plan", "type": "enum", "options": ["basic", "pro"], "required": True},
        {"key": "newsletter", "label": "Newsletter", "type": "boolean"},
    ):
        assert (await tenant.post("/v1/custom-fields", json=definition)).status_code == 201
    assert_problem(await tenant.post("/v1/custom-fields", json={"key": "plan", "label": "x", "type": "text"}), 409)
    assert_problem(
        await tenant.post("/v1/custom-fields", json={"key": "tier", "label": "x", "type": "enum"}), 422, "options"
    )
    missing = await tenant.post("/v1/leads", json={"email": "a@x.io", "custom_fields": {"budget": 5}})
    assert_problem(missing, 422, "custom_fields.plan")
    wrong = await tenant.post(
        "/v1/leads", json={"email": "a@x.io", "custom_fields": {"plan": "gold", "budget": "lots", "color": "red"}}
    )
    assert_problem(wrong, 422, "custom_fields.plan", "custom_fields.budget", "custom_fields.color")
    pro = await lead(tenant, email="p@x.io", custom_fields={"plan": "pro", "budget": "5000", "newsletter": "yes"})
    assert pro["custom_fields"] == {"plan": "pro", "budget": 5000, "newsletter": True}
    await lead(tenant, email="b@x.io", custom_fields={"plan": "basic", "budget": 10})
    assert [x["email"] for x in (await tenant.get("/v1/leads", params={"cf.budget": "5000"})).json()["data"]] == [
        "p@x.io"
    ]
    assert [x["email"] for x in (await tenant.get("/v1/leads", params={"cf.plan": "basic"})).json()["data"]] == [
        "b@x.io"
    ]
    assert [x["email"] for x in (await tenant.get("/v1/leads", params={"cf.newsletter": "true"})).json()["data"]] == [
        "p@x.io"
    ]
    assert_problem(await tenant.get("/v1/leads", params={"cf.shoe_size": "42"}), 422, "cf.shoe_size")
    cleared = await tenant.patch(f"/v1/leads/{pro['id']}", json={"custom_fields": {"budget": None}})
    assert cleared.json()["custom_fields"] == {"plan": "pro", "newsletter": True}


async def test_batch_creates_updates_and_reports_each_item(tenant: Tenant) -> None:
    items = [
        {"external_id": "shop-1", "email": "one@x.io", "first_name": "One"},
        {"external_id": "shop-2", "email": "broken"},
        {"email": "three@x.io", "unknown_field": 1},
        {"external_id": "shop-1", "email": "one@x.io", "first_name": "Uno"},
    ]
    response = await tenant.post("/v1/leads/batch", json={"leads": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "error", "updated"]
    assert results[1]["problem"]["errors"][0]["field"] == "email"
    assert results[2]["problem"]["errors"][0]["field"] == "unknown_field"
    assert results[3]["id"] == results[0]["id"]
    again = (await tenant.post("/v1/leads/batch", json={"leads": [items[3]]})).json()["results"]
    assert again == [{"index": 0, "status": "unchanged", "id": results[0]["id"], "reason": None, "problem": None}]
    stored = (await tenant.get("/v1/leads")).json()["data"]
    assert [(x["external_id"], x["first_name"]) for x in stored] == [("shop-1", "Uno")]
    too_many = await tenant.post("/v1/leads/batch", json={"leads": [{"email": "x@x.io"}] * 501})
    assert_problem(too_many, 422, "leads")


async def test_leads_need_their_scope(tenant: Tenant) -> None:
    reader = await tenant.key_with("leads:read")
    assert (await tenant.get("/v1/leads", key=reader)).status_code == 200
    assert_problem(await tenant.post("/v1/leads", key=reader, json={"email": "a@x.io"}), 403)
    assert_problem(await tenant.post("/v1/leads", key=tenant.publishable_key, json={"email": "a@x.io"}), 403)


async def test_external_id_is_unique_within_a_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    first = await lead(tenant, email="a@x.io", external_id="crm-1")
    assert_problem(await tenant.post("/v1/leads", json={"email": "b@x.io", "external_id": "crm-1"}), 409)
    second = await lead(tenant, email="b@x.io", external_id="crm-2")
    assert_problem(await tenant.patch(f"/v1/leads/{second['id']}", json={"external_id": "crm-1"}), 409)
    assert (await tenant.get(f"/v1/leads/{second['id']}")).json()["external_id"] == "crm-2"
    assert (await other_tenant.post("/v1/leads", json={"email": "a@x.io", "external_id": "crm-1"})).status_code == 201
    assert first["external_id"] == "crm-1"


async def test_a_batch_with_the_same_person_twice_creates_one_lead_and_says_why_for_the_other(
    tenant: Tenant,
) -> None:
    items = [{"email": "a@x.io"}, {"email": "A@X.io", "first_name": "B"}, {"phone": "+989121234567"},
             {"phone": "+98 912 123 4567"}]  # fmt: skip
    response = await tenant.post("/v1/leads/batch", json={"leads": items}, params={"on_duplicate": "reject"})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "created", "error"]
    assert results[1]["problem"]["status"] == 409 and "item 0" in results[1]["reason"]
    assert "item 2" in results[3]["reason"]
    assert len((await tenant.get("/v1/leads")).json()["data"]) == 2


async def test_bodies_with_numbers_or_text_a_fast_parser_reads_differently(tenant: Tenant) -> None:
    """JSON bodies are parsed by orjson, which reads long integers as floats and refuses NaN and
    lone surrogates; such bodies take the standard parser, so they are answered as before: a clear
    422 naming the field, never a 400 for valid JSON nor a 500."""
    await tenant.post("/v1/custom-fields", json={"key": "units", "label": "Units", "type": "number"})
    json_body = {"Content-Type": "application/json"}
    big = 12345678901234567890123
    body = f'{{"email": "big@x.io", "external_id": "{"9" * 25}", "custom_fields": {{"units": {big}}}}}'
    created = await tenant.post("/v1/leads", content=body, headers=json_body)
    assert created.status_code == 201, created.text  # was a 500: the integer overflowed the JSON writer
    stored = (await tenant.get(f"/v1/leads/{created.json()['id']}")).json()
    assert stored["external_id"] == "9" * 25 and float(stored["custom_fields"]["units"]) == float(big)  # a double
    for value in ("NaN", "Infinity"):
        body = f'{{"email": "n@x.io", "custom_fields": {{"units": {value}}}}}'
        assert_problem(await tenant.post("/v1/leads", content=body, headers=json_body), 422, "custom_fields.units")
    surrogate = await tenant.post("/v1/leads", content='{"email": "s@x.io", "company": "\\ud800"}', headers=json_body)
    assert_problem(surrogate, 422, "company")
    assert len((await tenant.get("/v1/leads")).json()["data"]) == 1
