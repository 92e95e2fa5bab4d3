"""Checking an answer against the OpenAPI document the app serves: the body of a 2xx must be valid
under the operation's documented schema, formats included (as schemathesis checks it)."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
import jsonschema_rs

from app.main import create_app


@cache
def _document() -> dict[str, Any]:
    return create_app().openapi()  # type: ignore[no-any-return]


@cache
def _validator(method: str, template: str, status: str) -> Any:
    document = _document()
    content = document["paths"][template][method.lower()]["responses"][status]["content"]
    schema = {**content["application/json"]["schema"], "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def assert_documented(response: httpx.Response, template: str) -> None:
    """`response` (to a request on the path `template`, e.g. /v1/members/{member_id}) is one of its
    operation's documented answers, and its body is valid under that answer's schema."""
    method, status = response.request.method, str(response.status_code)
    errors = [
        f"{'/'.join(map(str, e.instance_path)) or '(body)'}: {e.message}"
        for e in _validator(method, template, status).iter_errors(response.json())
    ]
    assert not errors, f"{method} {template} {status} breaks its documented schema: {errors}"
