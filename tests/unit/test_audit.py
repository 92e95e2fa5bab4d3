"""The audit log's rules, pure: what a route names, how a diff is masked, the digest (personal values
by their own digest) and the chain a walk verifies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from app.domain.audit import entries as e

WORKSPACE = UUID("01900000-0000-7000-8000-000000000001")


@pytest.mark.parametrize(
    ("method", "route", "expected"),
    [
        ("POST", "/v1/leads", ("leads", "create")),
        ("PATCH", "/v1/leads/{lead_id}", ("leads", "update")),
        ("PUT", "/v1/settings/retention", ("settings", "retention.update")),
        ("DELETE", "/v1/api-keys/{key_id}", ("api_keys", "delete")),
        ("POST", "/v1/leads/{lead_id}/qualify", ("leads", "qualify")),
        ("POST", "/v1/leads/batch", ("leads", "batch")),
        ("PUT", "/v1/leads/{lead_id}/consents/{channel}", ("leads", "consents.update")),
        (
            "POST",
            "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
            ("webhook_endpoints", "deliveries.retry"),
        ),
    ],
)
def test_a_route_names_its_resource_and_action(method: str, route: str, expected: tuple[str, str]) -> None:
    assert e.describe(method, route) == expected


def test_the_first_path_parameter_is_the_resource_id() -> None:
    assert e.first_parameter("/v1/leads/{lead_id}/consents/{channel}") == "lead_id"
    assert e.first_parameter("/v1/leads") is None


def test_secrets_are_masked_and_personal_values_kept_apart() -> None:
    masked = e.mask_changes(
        {
            "key": {"before": None, "after": "sk_live_secret"},
            "webhook_secret": {"before": "a", "after": "b"},
            "email": {"before": "a@x.io", "after": "b@x.io"},
            "status": {"before": "new", "after": "working"},
            "name": {"before": "Sara", "after": "Sara K"},
            "customer": {"before": None, "after": {"phone": "+98912", "country": "IR", "password": "p"}},
        },
        resource="leads",
    )
    assert masked.value == {
        "key": {"before": None, "after": "***"},
        "webhook_secret": {"before": "***", "after": "***"},
        "email": {"before": "***", "after": "***"},
        "status": {"before": "new", "after": "working"},
        "name": {"before": "***", "after": "***"},
        "customer": {"before": None, "after": {"phone": "***", "country": "IR", "password": "***"}},
    }
    assert masked.personal == {
        "changes.email.before": "a@x.io",
        "changes.email.after": "b@x.io",
        "changes.name.before": "Sara",
        "changes.name.after": "Sara K",
        "changes.customer.after.phone": "+98912",
    }
    assert "sk_live_secret" not in repr(masked) and not any("password" in path for path in masked.personal)
    # a product's name is no one's
    assert e.mask_changes({"name": {"before": "Tea", "after": "Green tea"}}, "products").personal == {}


def test_names_like_secrets_and_personal_data() -> None:
    assert all(map(e.is_secret, ["key", "secret", "smtp_password", "access_token", "private_key", "email_key"]))
    assert not any(map(e.is_secret, ["idempotency_key_hours", "opt_out_keywords", "key_id", "monkey"]))
    assert all(
        e.is_personal(n) for n in ["email", "customer_email", "phone", "phone_e164", "first_name", "addresses", "ip"]
    )
    assert not any(e.is_personal(n) for n in ["company", "status", "name", "city"])


@pytest.mark.parametrize(
    "name",
    [
        "name",
        "company",
        "job_title",
        "city",
        "external_id",
        "landing_page",
        "referrer_url",
        "disqualification_note",
        "custom_fields",
    ],
)
def test_what_identifies_a_lead_is_personal(name: str) -> None:
    assert e.is_personal(name, "leads") and e.is_personal(name, "contacts")
    changed = e.mask_changes({name: {"before": None, "after": {"religion": "x"}}}, "leads")
    assert changed.value == {name: {"before": None, "after": "***"}}  # the whole value, an object too
    assert changed.personal == {f"changes.{name}.after": {"religion": "x"}}


def test_an_order_or_a_product_keeps_its_external_id_and_city_in_the_diff() -> None:
    for name in ("external_id", "city", "company", "landing_page"):
        assert not e.is_personal(name, "orders") and not e.is_personal(name, "products")
    assert e.is_personal("custom_fields", "orders")  # whatever the resource


def test_a_custom_field_filter_is_personal_and_a_value_masked_before_is_kept_nowhere() -> None:
    assert e.is_personal("cf.plan") and e.is_personal("CF.Religion") and not e.is_personal("cfo")
    masked = e.mask({"filters": {"cf.plan": "gold", "cf.religion": e.MASK, "status": "new"}}, "detail", "leads")
    assert masked.value == {"filters": {"cf.plan": "***", "cf.religion": "***", "status": "new"}}
    assert masked.personal == {"detail.filters.cf.plan": "gold"}


def entry(**overrides: Any) -> dict[str, Any]:
    personal = e.personal_document({"changes.email.after": "a@x.io"}, salt="ab" * 16)
    row = {
        "workspace_id": WORKSPACE,
        "id": UUID("01900000-0000-7000-8000-0000000000aa"),
        "occurred_at": datetime(2026, 12, 7, 9, 30, 0, 123456, tzinfo=UTC),
        "actor": "api_key:k",
        "member_id": None,
        "key_id": UUID("01900000-0000-7000-8000-0000000000bb"),
        "resource": "leads",
        "resource_id": "L1",
        "action": "update",
        "route": "PATCH /v1/leads/{lead_id}",
        "ip": "127.0.0.1",
        "user_agent": "curl",
        "request_id": "r1",
        "changes": {"email": {"before": None, "after": "***"}},
        "detail": None,
        "personal": personal,
        "personal_digest": e.personal_digest(personal),
        **overrides,
    }
    row["digest"] = e.digest(row)
    return row


def test_the_digest_covers_every_field_but_the_personal_values_themselves() -> None:
    base = entry()
    assert len(base["digest"]) == 64 and e.digest(base) == base["digest"]
    for field, value in [("action", "delete"), ("resource_id", "L2"), ("ip", "10.0.0.1"), ("changes", None)]:
        assert e.digest({**base, field: value}) != base["digest"], field
    assert e.digest({**base, "personal": None}) == base["digest"]  # erasure: the same digest
    assert e.digest({**base, "personal_digest": None}) != base["digest"]  # ...but not its own digest
    # the same instant in another offset is the same entry
    moment = base["occurred_at"].astimezone(datetime.now().astimezone().tzinfo)
    assert e.digest({**base, "occurred_at": moment}) == base["digest"]
    assert e.digest({**base, "workspace_id": str(WORKSPACE)}) == base["digest"]


def test_personal_values_are_salted() -> None:
    one, two = e.personal_document({"x": "a@x.io"}), e.personal_document({"x": "a@x.io"})
    assert one is not None and two is not None and one["salt"] != two["salt"]
    assert e.personal_digest(one) != e.personal_digest(two)
    assert e.personal_document({}) is None and e.personal_digest(None) is None


def chained(count: int, after: tuple[str, int] = (e.GENESIS, 0)) -> list[dict[str, Any]]:
    rows = [entry(id=UUID(int=n + 1), resource_id=f"L{n}") for n in range(count)]
    for row, (seq, chain_hash) in zip(rows, e.link(after[0], after[1], [r["digest"] for r in rows]), strict=True):
        row["seq"], row["chain_hash"] = seq, chain_hash
    return rows


def walk(rows: list[dict[str, Any]], check: e.ChainCheck | None = None) -> e.ChainCheck:
    check = check or e.ChainCheck()
    for row in rows:
        if not check.feed(row):
            break
    return check


def test_the_chain_links_each_digest_to_the_one_before() -> None:
    rows = chained(3)
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["chain_hash"] == e.chain(e.GENESIS, rows[0]["digest"])
    assert rows[2]["chain_hash"] == e.chain(rows[1]["chain_hash"], rows[2]["digest"])
    check = walk(rows)
    check.end(3, rows[-1]["chain_hash"], rows[-1]["id"])
    assert check.ok and check.checked == 3 and check.previous_hash == rows[-1]["chain_hash"]


def test_a_walk_finds_a_changed_field_a_gap_changed_personal_values_and_a_cut_end() -> None:
    rows = chained(4)
    assert walk([rows[0], {**rows[1], "action": "read"}, *rows[2:]]).first_break == rows[1]["id"]
    assert walk([rows[0], *rows[2:]]).first_break == rows[2]["id"]
    assert walk([{**rows[0], "chain_hash": "f" * 64}, *rows[1:]]).first_break == rows[0]["id"]
    forged = {**rows[1], "personal": {"salt": "00", "values": {"changes.email.after": "b@x.io"}}}
    assert walk([rows[0], forged]).first_break == rows[1]["id"]
    assert walk([rows[0], {**rows[1], "personal": None}, *rows[2:]]).ok  # erased: no break

    cut = walk(rows[:2])
    cut.end(4, rows[3]["chain_hash"], rows[3]["id"])
    assert cut.first_break == rows[3]["id"] and cut.checked == 2


def test_a_walk_starts_at_the_anchor_left_by_a_purge() -> None:
    rows = chained(5)
    anchor = rows[2]
    check = walk(rows[3:], e.ChainCheck(previous_hash=anchor["chain_hash"], previous_seq=anchor["seq"]))
    assert check.ok and check.checked == 2
    assert not walk(rows[3:]).ok  # without the anchor the remaining entries do not start a chain


def test_diff_lists_only_what_changed() -> None:
    assert e.diff({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"b": {"before": 2, "after": 3}}
    assert e.diff(None, {"a": 1, "b": None, "c": 2}, ["a", "b"]) == {"a": {"before": None, "after": 1}}
