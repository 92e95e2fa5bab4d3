from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain import api_keys as keys
from app.domain.errors import InvalidInput


def test_admin_implies_every_scope_even_future_ones() -> None:
    assert keys.allows({"admin"}, "leads:write") and keys.allows({"admin"}, "anything:read")


def test_write_implies_read_of_the_same_resource_only() -> None:
    assert keys.allows({"members:write"}, "members:read")
    assert not keys.allows({"members:read"}, "members:write")
    assert not keys.allows({"members:write"}, "workspace:read")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("https://Example.com", "https://example.com"),
        ("https://example.com:443/", "https://example.com"),
        ("http://example.com:8080", "http://example.com:8080"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("ftp://example.com", None),
        ("https://example.com/path", None),
        ("example.com", None),
        ("https://user@example.com", None),
    ],
)
def test_origins_are_normalized_or_refused(raw: str, normalized: str | None) -> None:
    assert keys.normalize_origin(raw) == normalized


def test_key_spec_rules() -> None:
    spec = keys.validate_key_spec(keys.KeyKind.SECRET, ["members:write", "members:write", "admin"], [])
    assert spec.scopes == ("admin", "members:write")
    with pytest.raises(InvalidInput) as err:
        keys.validate_key_spec(keys.KeyKind.SECRET, ["nope"], ["https://a.io"])
    assert {e.field for e in err.value.errors} == {"scopes.0", "allowed_origins"}
    with pytest.raises(InvalidInput):
        keys.validate_key_spec(keys.KeyKind.PUBLISHABLE, ["admin"], [])


def test_digest_and_redaction() -> None:
    token = "sk_abcdefghijklmnop"
    assert len(keys.digest(token)) == 64 and keys.digest(token) != keys.digest(token + "x")
    assert keys.redact(token) == "sk_…mnop"
    assert keys.kind_of("pk_x") is keys.KeyKind.PUBLISHABLE and keys.kind_of("xx") is None


def test_an_expiry_must_be_aware_and_in_the_future() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    spec = keys.validate_key_spec(keys.KeyKind.SECRET, ["admin"], [], expires_at=now + timedelta(days=1), now=now)
    assert spec.expires_at == now + timedelta(days=1)
    for bad in (now, now - timedelta(seconds=1), datetime(2027, 1, 1)):  # now, past, no time zone
        with pytest.raises(InvalidInput) as err:
            keys.validate_key_spec(keys.KeyKind.SECRET, ["admin"], [], expires_at=bad, now=now)
        assert [e.field for e in err.value.errors] == ["expires_at"]


def test_a_key_expires_at_its_expiry_instant() -> None:
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert not keys.expired(None, at)
    assert not keys.expired(at, at - timedelta(microseconds=1))
    assert keys.expired(at, at) and keys.expired(at, at + timedelta(days=1))
