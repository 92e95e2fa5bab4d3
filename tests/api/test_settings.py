from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from app.schemas.workspace.settings import SECTIONS
from tests.conftest import Tenant, assert_problem
from tests.documented import assert_documented


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


def _partial_documents(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The emptiest documents a client can write: none of the fields, and each field that holds an
    object given as an empty object (its own fields left to their defaults)."""
    documents: list[dict[str, Any]] = [{}]
    for name, field in model.model_fields.items():
        annotation = field.annotation
        options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
        if any(isinstance(o, type) and issubclass(o, BaseModel) for o in options):
            documents.append({name: {}})
    return documents


@pytest.mark.parametrize("section", sorted(SECTIONS))
async def test_every_section_answers_what_its_read_schema_describes(tenant: Tenant, section: str) -> None:
    """Whatever a write accepts is stored and read back as the document describes it: the write is
    validated as the read is described (a write the read schema would reject is a 422, never a
    stored document that every later GET, PATCH and PUT answers in breach of the document)."""
    stored_model, _, _ = SECTIONS[section]
    path = f"/v1/settings/{section}"
    assert_documented(await tenant.get(path), path)
    for document in _partial_documents(stored_model):
        for method in ("PUT", "PATCH"):
            answer = await tenant.request(method, path, json=document)
            if answer.status_code == 200:
                assert_documented(answer, path)
                assert_documented(await tenant.get(path), path)
            else:
                assert_problem(answer, 422)


async def test_working_hours_are_local_times_as_documented(tenant: Tenant) -> None:
    written = await tenant.request("PUT", "/v1/settings/sla", json={"business_hours": {}})
    assert written.status_code == 200, written.text
    assert written.json()["business_hours"] == {"timezone": None, "days": None, "start": "09:00:00",
                                                "end": "17:00:00", "holidays": [], "region_holidays": True,
                                                "removed_holidays": []}  # fmt: skip
    assert_documented(written, "/v1/settings/sla")
    changed = await tenant.patch("/v1/settings/sla", json={"business_hours": {"start": "08:30", "end": "16:45:30"}})
    assert (changed.json()["business_hours"]["start"], changed.json()["business_hours"]["end"]) == (
        "08:30:00", "16:45:30"
    )  # fmt: skip
    assert_documented(changed, "/v1/settings/sla")
    for bad in ("08:30Z", "08:30+03:30", 830, "8:30", "24:00"):
        refused = await tenant.patch("/v1/settings/sla", json={"business_hours": {"start": bad}})
        assert_problem(refused, 422, "business_hours.start")
    member = await tenant.post("/v1/members", json={
        "email": "rep@example.com", "name": "Rep",
        "working_hours": {"days": ["saturday"], "start": "09:00", "end": "18:00"},
    })  # fmt: skip
    assert member.status_code == 201, member.text
    assert_documented(member, "/v1/members")
    assert_documented(await tenant.get(f"/v1/members/{member.json()['id']}"), "/v1/members/{member_id}")
