from __future__ import annotations

from tests.conftest import Tenant, assert_problem


async def test_settings_section_starts_at_defaults(tenant: Tenant) -> None:
    response = await tenant.get("/v1/settings/retention")
    assert response.status_code == 200
    assert response.json()["idempotency_key_hours"] == 24 and response.json()["version"] == 0


async def test_patch_settings_then_read_back(tenant: Tenant) -> None:
    response = await tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": 48})
    assert response.status_code == 200, response.text
    assert response.json()["idempotency_key_hours"] == 48 and response.json()["version"] == 1
    again = await tenant.patch(
        "/v1/settings/retention", json={"idempotency_key_hours": 72}, headers={"If-Match": '"1"'}
    )
    assert again.json()["version"] == 2
    assert (await tenant.get("/v1/settings/retention")).json()["idempotency_key_hours"] == 72


async def test_invalid_settings_are_422_and_unknown_sections_404(tenant: Tenant) -> None:
    assert_problem(
        await tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": 0}), 422, "idempotency_key_hours"
    )
    assert_problem(
        await tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": None}), 422, "idempotency_key_hours"
    )
    assert_problem(await tenant.patch("/v1/settings/retention", json={"keep_forever": True}), 422, "keep_forever")
    assert_problem(await tenant.get("/v1/settings/astrology"), 404)
    assert (await tenant.get("/v1/settings/retention")).json()["version"] == 0


async def test_settings_need_their_scope(tenant: Tenant) -> None:
    reader = await tenant.key_with("settings:read")
    assert (await tenant.get("/v1/settings/retention", key=reader)).status_code == 200
    assert_problem(await tenant.patch("/v1/settings/retention", key=reader, json={"idempotency_key_hours": 2}), 403)
