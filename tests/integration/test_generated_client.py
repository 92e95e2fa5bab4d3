"""A frontend team's path: generate a Python client from the committed OpenAPI document with
openapi-python-client and drive a lead's life through it (create, read, list, qualify) against the
real app on both databases. The client's functions are named after the operation ids."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def crm_client(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    root = tmp_path_factory.mktemp("generated")
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(COMMITTED), "--meta", "none", "--output-path",
         str(root / "crm_client")],
        capture_output=True, text=True, timeout=300,
        env={"PATH": f"{GENERATOR.parent}:/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module("crm_client")
    finally:
        sys.path.remove(str(root))


def _api(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


async def test_a_generated_client_runs_a_leads_life(crm_client: ModuleType, app: Any, tenant: Tenant) -> None:
    client = crm_client.AuthenticatedClient(
        base_url="http://testserver", token=tenant.secret_key, httpx_args={"transport": httpx.ASGITransport(app=app)}
    )
    create_lead = _api(crm_client, "api.leads.create_lead")
    get_lead = _api(crm_client, "api.leads.get_lead")
    list_leads = _api(crm_client, "api.leads.list_leads")
    qualify_lead = _api(crm_client, "api.leads.qualify_lead")
    models = _api(crm_client, "models")

    body = models.LeadCreate.from_dict({"first_name": "Sara", "last_name": "Ahmadi", "email": "sara@example.com",
                                        "company": "Acme"})  # fmt: skip
    created = await create_lead.asyncio_detailed(client=client, body=body)
    assert created.status_code == 201, created.content
    lead = created.parsed
    assert isinstance(lead, models.LeadRead) and lead.email == "sara@example.com" and lead.status == "new"

    read = await get_lead.asyncio(lead.id, client=client)
    assert isinstance(read, models.LeadRead) and read.id == lead.id and read.version == lead.version

    page = await list_leads.asyncio(client=client, limit=10)
    assert isinstance(page, models.PageLeadRead) and [item.id for item in page.data] == [lead.id]

    qualified = await qualify_lead.asyncio_detailed(lead.id, client=client, body=models.QualifyRequest.from_dict({}))
    assert qualified.status_code == 200, qualified.content
    result = qualified.parsed
    assert isinstance(result, models.Qualification)
    assert result.lead_id == lead.id and result.contact_created and result.account_created
    after = await get_lead.asyncio(lead.id, client=client)
    assert isinstance(after, models.LeadRead) and after.status == "qualified" and after.contact_id == result.contact_id

    again = await qualify_lead.asyncio(lead.id, client=client, body=models.QualifyRequest.from_dict({}))
    assert isinstance(again, models.Problem) and again.status == 409  # problems parse as problems

    missing = await get_lead.asyncio_detailed(lead.id.__class__(int=1), client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Problem)
