"""The committed OpenAPI document is current and complete."""

from __future__ import annotations

import json
from pathlib import Path

from app.main import create_app

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def _document() -> dict:  # type: ignore[type-arg]
    return create_app().openapi()


def _versioned(document: dict, op: dict) -> bool:  # type: ignore[type-arg]
    content = op["responses"]["200"]["content"].get("application/json")
    if content is None:  # e.g. a CSV download
        return False
    ref = content["schema"].get("$ref", "")
    if not ref:
        return False
    return "version" in document["components"]["schemas"][ref.rsplit("/", 1)[-1]].get("properties", {})


def test_webhooks_section_lists_every_event_type_with_its_payload() -> None:
    document = _document()
    from app.schemas.events.events import CATALOGUE

    assert set(document["webhooks"]) == set(CATALOGUE)
    for event_type, item in document["webhooks"].items():
        ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[-1] in document["components"]["schemas"], event_type


def test_committed_openapi_is_current() -> None:
    current = json.dumps(_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert COMMITTED.read_text(encoding="utf-8") == current, "stale: run `python -m app openapi` and commit"


def test_every_operation_is_documented_with_its_errors() -> None:
    document = _document()
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary") and op.get("tags"), where
            # a tracked link's only answer is a redirect (303 See Other, no body)
            success = [s for s in op["responses"] if s.startswith("2")] or [s for s in op["responses"] if s == "303"]
            assert success, where
            assert success[0] in ("204", "303") or "content" in op["responses"][success[0]], where
            if path.startswith("/v1/"):
                for status in ("401", "403", "414", "422", "431", "500"):
                    content = op["responses"][status]["content"]
                    assert "application/problem+json" in content, f"{where} {status}"
                if "{" in path:
                    assert "404" in op["responses"], where
                if method == "patch":
                    assert "requestBody" in op, where
                if "requestBody" in op:
                    assert {"413", "415"} <= set(op["responses"]), where
                if method in ("patch", "delete"):
                    assert "412" in op["responses"], where
                if method == "get" and _versioned(document, op):
                    assert "304" in op["responses"], f"{where}: a versioned resource answers If-None-Match"
                if method != "options":  # a CORS preflight never carries credentials
                    assert op.get("security"), where
    assert "Problem" in document["components"]["schemas"]


def test_every_operation_has_a_clean_unique_verb_id() -> None:
    """Generated clients name their functions after operation ids: `create_lead`, never the
    framework's `create_lead_v1_leads_post`."""
    import re

    document = _document()
    ids = [op["operationId"] for operations in document["paths"].values() for op in operations.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    verbs = {
        "get", "list", "create", "update", "replace", "archive", "delete", "revoke", "void", "qualify",
        "disqualify", "merge", "unmerge", "reactivate", "assign", "rescore", "upsert", "sync", "add", "set",
        "record", "track", "submit", "preflight", "receive", "redact", "replay", "retry", "test", "export",
        "download", "refresh", "send", "publish", "pause", "resume", "enrol", "confirm", "cancel", "review", "launch",
        "verify",
    }  # fmt: skip
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", operation_id), operation_id
        assert operation_id.split("_", 1)[0] in verbs, operation_id
        assert not re.search(r"_(get|post|put|patch|delete|options)$", operation_id), operation_id
    assert {"create_lead", "list_leads", "get_lead", "qualify_lead"} <= set(ids)
