"""Idempotency-Key on POST: safe retries for plugins and forms that resend."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.domain import idempotency as rules
from app.ids import utcnow
from app.services import idempotency
from tests.conftest import Tenant, assert_problem

BODY = {"name": "Sara", "email": "sara@x.io"}


async def test_same_key_and_body_replays_the_first_response(tenant: Tenant) -> None:
    first = await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "k-1"})
    second = await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert len((await tenant.get("/v1/members")).json()["data"]) == 1


async def test_same_key_with_another_body_is_422(tenant: Tenant) -> None:
    await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "k-2"})
    other = await tenant.post("/v1/members", json={**BODY, "name": "Other"}, headers={"Idempotency-Key": "k-2"})
    assert_problem(other, 422)
    assert other.json()["type"] == "/problems/idempotency-key-reused"


async def test_keys_are_per_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    a = await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "shared"})
    b = await other_tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]


async def test_request_while_first_is_in_flight_is_409(tenant: Tenant, database: Database) -> None:
    import uuid

    body = b'{"name":"Sara","email":"sara@x.io"}'
    claim = await idempotency.begin(
        database, uuid.UUID(tenant.id), "busy", rules.fingerprint("POST", "/v1/members", body), utcnow()
    )
    response = await tenant.post(
        "/v1/members", content=body, headers={"Idempotency-Key": "busy", "Content-Type": "application/json"}
    )
    assert_problem(response, 409)
    assert response.json()["type"] == "/problems/idempotency-key-in-use"
    await idempotency.release(database, claim)
    done = await tenant.post(
        "/v1/members", content=body, headers={"Idempotency-Key": "busy", "Content-Type": "application/json"}
    )
    assert done.status_code == 201


async def test_a_failed_request_is_not_stored_so_a_retry_runs_again(tenant: Tenant) -> None:
    await tenant.post("/v1/members", json=BODY)
    conflict = await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "k-3"})
    assert_problem(conflict, 409)
    members = (await tenant.get("/v1/members")).json()["data"]
    await tenant.patch(f"/v1/members/{members[0]['id']}", json={"email": "moved@x.io"})
    retried = await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "k-3"})
    assert retried.status_code == 201


async def test_result_is_stored_in_the_same_transaction_as_the_change(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("injected failure while storing the response")

    monkeypatch.setattr(idempotency, "complete", crash)
    failed = await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "k-4"})
    assert_problem(failed, 500)
    assert (await tenant.get("/v1/members")).json()["data"] == []  # the change rolled back with it
    monkeypatch.undo()
    retried = await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "k-4"})
    assert retried.status_code == 201
    assert len((await tenant.get("/v1/members")).json()["data"]) == 1


async def test_invalid_idempotency_key_is_422(tenant: Tenant) -> None:
    response = await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "x" * 300})
    assert_problem(response, 422, "Idempotency-Key")


async def test_a_claim_abandoned_by_a_dead_process_stops_blocking(tenant: Tenant, database: Database) -> None:
    import uuid
    from datetime import timedelta

    body = b'{"name":"Sara","email":"sara@x.io"}'
    stale = utcnow() - rules.LOCK_TIMEOUT - timedelta(seconds=1)
    await idempotency.begin(
        database, uuid.UUID(tenant.id), "orphan", rules.fingerprint("POST", "/v1/members", body), stale
    )
    response = await tenant.post(
        "/v1/members", content=body, headers={"Idempotency-Key": "orphan", "Content-Type": "application/json"}
    )
    assert response.status_code == 201


async def test_stored_response_expires_after_the_workspace_retention(tenant: Tenant, database: Database) -> None:
    import uuid
    from datetime import timedelta

    await tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": 1})
    first = await tenant.post("/v1/members", json=BODY, headers={"Idempotency-Key": "short"})
    assert first.status_code == 201
    body = first.request.content
    fp = rules.fingerprint("POST", "/v1/members", body)
    replay = await idempotency.begin(database, uuid.UUID(tenant.id), "short", fp, utcnow() + timedelta(minutes=59))
    assert isinstance(replay, idempotency.StoredResponse) and replay.status_code == 201
    later = await idempotency.begin(database, uuid.UUID(tenant.id), "short", fp, utcnow() + timedelta(minutes=61))
    assert isinstance(later, idempotency.Claim)  # expired: the key is free for a new request


async def test_an_answer_that_carried_a_secret_is_never_replayed_but_names_what_it_created(tenant: Tenant) -> None:
    """The secret is shown once: a retry with the same Idempotency-Key gets 409
    secret-not-replayable naming the resource (revoke it, create a new one), never the secret."""
    creations = {
        "/v1/api-keys": ({"name": "plugin", "scopes": ["leads:read"]}, "key"),
        "/v1/webhook-endpoints": ({"url": "https://hooks.example.com/a"}, "secret"),
    }
    for path, (body, secret_field) in creations.items():
        headers = {"Idempotency-Key": f"create {path}"}
        first = await tenant.post(path, json=body, headers=headers)
        assert first.status_code == 201 and first.json()[secret_field]
        again = await tenant.post(path, json=body, headers=headers)
        problem = assert_problem(again, 409)
        assert problem["type"] == "/problems/secret-not-replayable"
        assert problem["resource"] == first.headers["location"] == f"{path}/{first.json()['id']}"
        assert first.json()[secret_field] not in again.text
        assert_problem(await tenant.post(path, json={**body, "description": "x"}, headers=headers), 422)
    keys = (await tenant.get("/v1/api-keys", params={"limit": 100})).json()["data"]
    assert sum(k["name"] == "plugin" for k in keys) == 1  # the retry created nothing
    # other creations are replayed as before
    integration = {"platform": "woocommerce", "store_url": "https://shop.example", "webhook_secret": "s3cret-woo"}
    first = await tenant.post("/v1/integrations", json=integration, headers={"Idempotency-Key": "shop"})
    again = await tenant.post("/v1/integrations", json=integration, headers={"Idempotency-Key": "shop"})
    assert again.status_code == 201 and again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


def test_operations_that_answer_a_secret_declare_the_409(app) -> None:  # type: ignore[no-untyped-def]
    operations = app.openapi()["paths"]
    for path in ("/v1/api-keys", "/v1/webhook-endpoints"):
        assert "secret-not-replayable" in operations[path]["post"]["responses"]["409"]["description"]
    assert "secret-not-replayable" not in operations["/v1/integrations"]["post"]["responses"]["409"]["description"]


async def test_no_secret_is_stored_in_the_clear_outside_its_own_row(tenant: Tenant, database: Database) -> None:
    """Every text, JSON and binary column of every table (new tables included) is searched for
    each secret the API created or was given, after Idempotency-Key creations, their replays and
    the events they emitted have been dispatched."""
    import secrets as random
    import uuid

    from sqlalchemy import JSON, LargeBinary, String, Text, select

    from app.db import tables
    from app.db.unit_of_work import UnitOfWork
    from tests.conftest import drain_dispatch

    hook = await tenant.post(
        "/v1/webhook-endpoints",
        json={"url": "https://hooks.example.com/all", "event_types": ["api_key.created", "integration.created"]},
        headers={"Idempotency-Key": "hook"},
    )
    created_key = await tenant.post(
        "/v1/api-keys", json={"name": "sync", "scopes": ["orders:write"]}, headers={"Idempotency-Key": "key"}
    )
    public_key = await tenant.post(
        "/v1/api-keys", json={"name": "site", "kind": "publishable"}, headers={"Idempotency-Key": "pk"}
    )
    woo_secret = "woo-" + random.token_hex(16)
    shop = await tenant.post(
        "/v1/integrations",
        json={"platform": "woocommerce", "store_url": "https://shop.example", "webhook_secret": woo_secret},
        headers={"Idempotency-Key": "shop"},
    )
    for response in (hook, created_key, public_key, shop):
        assert response.status_code == 201, response.text
    for path, key in (("/v1/api-keys", "key"), ("/v1/webhook-endpoints", "hook")):  # replays store nothing
        await tenant.post(path, json={"name": "sync", "scopes": ["orders:write"]} if key == "key" else
                          {"url": "https://hooks.example.com/all", "event_types": ["api_key.created",
                                                                                     "integration.created"]},
                          headers={"Idempotency-Key": key})  # fmt: skip
    rotated = "woo-" + random.token_hex(16)  # a rotation keeps only the new secret, in the same row
    patched = await tenant.patch(f"/v1/integrations/{shop.json()['id']}", json={"webhook_secret": rotated})
    assert patched.status_code == 200, patched.text
    await drain_dispatch(database)
    deliveries = (await tenant.get(f"/v1/webhook-endpoints/{hook.json()['id']}/deliveries")).json()["data"]
    assert len(deliveries) >= 3  # the events were fanned out: their copies are searched too

    def text_like(column: Any) -> bool:
        return isinstance(column.type, (String, Text, JSON, LargeBinary)) or isinstance(
            getattr(column.type, "impl", None), (String, Text, JSON, LargeBinary)
        )

    async def found(secret: str) -> list[tuple[str, str, str]]:
        hits = []
        async with UnitOfWork(database, write=False) as uow:
            for table in tables.metadata.sorted_tables:
                columns = [c for c in table.columns if text_like(c)]
                keys = [c for c in table.primary_key.columns if c.name != "workspace_id"]
                if not columns:
                    continue
                rows = (await uow.execute(select(*keys, *columns))).mappings()
                for row in rows:
                    for column in columns:
                        value = row[column.name]
                        if value is None:
                            continue
                        if isinstance(value, (bytes, bytearray, memoryview)):
                            text = bytes(value).decode("utf-8", "replace")
                        elif isinstance(value, str):
                            text = value
                        else:
                            text = json.dumps(value, ensure_ascii=False, default=str)
                        if secret in text:
                            hits.append((table.name, column.name, str(row[keys[0].name]) if keys else ""))
        return hits

    assert {t.name for t in tables.metadata.sorted_tables} >= {"idempotency_keys", "events", "webhook_deliveries"}
    async with UnitOfWork(database, write=False) as uow:  # the record: the status and the resource, no body
        stored = (await WorkspaceRepositories(uow, uuid.UUID(tenant.id)).idempotency.find("key"))[1]  # type: ignore[index]
    assert (stored["status_code"], stored["body"]) == (201, None)
    assert stored["secret_resource"] == created_key.headers["location"]
    for key in (created_key.json()["key"], public_key.json()["key"], tenant.secret_key, tenant.publishable_key):
        assert await found(key) == [], key
    assert await found(hook.json()["secret"]) == [("webhook_endpoints", "secret", hook.json()["id"])]
    assert await found(woo_secret) == []
    assert await found(rotated) == [("integrations", "webhook_secret", shop.json()["id"])]


async def test_a_request_whose_commit_lost_a_race_runs_again_under_its_key(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses the commit once (another request wrote the same unique key first): the
    request runs again, still holding its Idempotency-Key, and its answer is stored for replays."""
    from app.db.unit_of_work import UnitOfWork

    commit = UnitOfWork.commit
    refused: list[bool] = []

    async def refuse_once(self: UnitOfWork) -> None:
        if self._events and not refused:  # the use case's commit (it recorded events), not the claim's
            refused.append(True)
            raise RuntimeError('duplicate key value violates unique constraint "ix_leads_open_email"')
        await commit(self)

    monkeypatch.setattr(UnitOfWork, "commit", refuse_once)
    body = {"leads": [{"external_id": "ext-1", "email": "race@x.io"}]}
    first = await tenant.post("/v1/leads/batch", json=body, headers={"Idempotency-Key": "k-race"})
    assert first.status_code == 200, first.text
    assert refused == [True]
    monkeypatch.undo()
    replayed = await tenant.post("/v1/leads/batch", json=body, headers={"Idempotency-Key": "k-race"})
    assert replayed.status_code == 200 and replayed.headers.get("idempotent-replayed") == "true"
    assert replayed.json() == first.json()
    assert len((await tenant.get("/v1/leads")).json()["data"]) == 1
