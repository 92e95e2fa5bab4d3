"""JSON read and written as the json module would, at orjson's speed where the two agree."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime

import pytest

from app import jsonio


@pytest.mark.parametrize(
    "text",
    [
        '{"ref": 1234567890123456789012345, "n": 18446744073709551616, "small": 42, "ratio": 1.5}',
        '{"phone": "09121234567890123456789", "id": 7}',
        '{"a": 1, "a": 2}',
        '["\\u00e9", "\\ud83d\\ude00", "\\ud800"]',
        "[-0.0, 1e-7, 0.1]",
    ],
)
def test_reads_what_the_json_module_reads(text: str) -> None:
    assert jsonio.loads(text) == json.loads(text)
    assert jsonio.loads(text.encode("utf-8", "surrogatepass")) == json.loads(text)


def test_reads_nan_and_infinity_like_the_json_module() -> None:
    value = jsonio.loads(b'{"a": NaN, "b": Infinity}')
    assert math.isnan(value["a"]) and value["b"] == math.inf


def test_invalid_json_is_refused() -> None:
    with pytest.raises(ValueError):
        jsonio.loads(b'{"a": ')


def test_writes_integers_past_64_bits_exactly() -> None:
    when, key = datetime(2026, 11, 28, tzinfo=UTC), uuid.uuid4()
    text = jsonio.dumps({"ref": 10**25, "at": when, "id": key, "name": "Sára"})
    assert json.loads(text) == {"ref": 10**25, "at": when.isoformat(), "id": str(key), "name": "Sára"}
    assert jsonio.dumps({"n": 1}) == '{"n":1}'  # orjson's compact form where it can
