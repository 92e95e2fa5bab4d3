"""Idempotency-Key on POST: safe retries for plugins and forms that resend."""

from __future__ import annotations

import pytest

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
