"""Pagination cursors, ETags, idempotency decisions, manager chains, locale checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.concurrency import check_if_match, etag, none_match
from app.domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused, PreconditionFailed
from app.domain.idempotency import LOCK_TIMEOUT, Decision, StoredKey, decide, fingerprint
from app.domain.pagination import BadCursor, Sort, decode_cursor, encode_cursor
from app.domain.workspace import workspaces as locale
from app.domain.workspace.members import manager_cycle

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@given(
    value=st.one_of(st.text(), st.integers(), st.none()),
    row_id=st.uuids().map(str),
    field=st.sampled_from(["name", "created_at"]),
    descending=st.booleans(),
)
def test_cursor_round_trips(value: object, row_id: str, field: str, descending: bool) -> None:
    sort = Sort(field, descending)
    assert decode_cursor(encode_cursor(sort, value, row_id), sort) == (value, row_id)


def test_cursor_for_another_sort_or_garbage_is_refused() -> None:
    cursor = encode_cursor(Sort("name", False), "a", "id")
    with pytest.raises(BadCursor):
        decode_cursor(cursor, Sort("name", True))
    for garbage in ("", "!!!", "e30", "bnVsbA"):
        with pytest.raises(BadCursor):
            decode_cursor(garbage, Sort("name", False))


def test_sort_parse() -> None:
    assert Sort.parse("-created_at") == Sort("created_at", True) and str(Sort.parse("name")) == "name"


def test_etags() -> None:
    assert etag(3) == '"3"'
    assert none_match('"3"', 3) and none_match('W/"3"', 3) and none_match("*", 3) and none_match('"1", "3"', 3)
    assert not none_match('"2"', 3) and not none_match(None, 3)
    check_if_match(None, 3)
    check_if_match('"3"', 3)
    with pytest.raises(PreconditionFailed):
        check_if_match('"2"', 3)
    with pytest.raises(PreconditionFailed):
        check_if_match('W/"3"', 3)  # If-Match uses strong comparison


def _stored(
    fp: str = "a",
    *,
    completed: bool = False,
    locked: timedelta = timedelta(0),
    expires: timedelta = timedelta(hours=24),
) -> StoredKey:
    return StoredKey(fp, completed, NOW - locked, NOW + expires)


def test_idempotency_decisions() -> None:
    assert decide(None, "a", NOW) == Decision.PROCEED
    assert decide(_stored(completed=True), "a", NOW) == Decision.REPLAY
    with pytest.raises(IdempotencyKeyReused):
        decide(_stored(completed=True), "b", NOW)
    with pytest.raises(IdempotencyKeyInUse):
        decide(_stored(), "a", NOW)
    assert decide(_stored(locked=LOCK_TIMEOUT), "a", NOW) == Decision.PROCEED  # abandoned by a dead process
    assert decide(_stored("b", completed=True, expires=-timedelta(seconds=1)), "a", NOW) == Decision.PROCEED


def test_fingerprint_separates_method_path_and_body() -> None:
    assert fingerprint("POST", "/a", b"x") != fingerprint("POST", "/ax", b"")
    assert fingerprint("post", "/a", b"x") == fingerprint("POST", "/a", b"x")


def test_manager_cycles() -> None:
    chain = {"boss": None, "lead": "boss", "rep": "lead"}
    assert manager_cycle("boss", "rep", chain)
    assert manager_cycle("x", "x", {})
    assert not manager_cycle("new", "rep", chain)
    assert not manager_cycle("a", "b", {"b": "c", "c": "b"})  # a loop elsewhere never hangs


def test_locale_checks() -> None:
    assert locale.is_country("IR") and not locale.is_country("XX") and not locale.is_country("ir")
    assert locale.is_timezone("Asia/Tehran") and not locale.is_timezone("Mars/Base")
    assert locale.is_currency("IRR") and not locale.is_currency("ABC")
    assert (locale.currency_exponent("USD"), locale.currency_exponent("JPY"), locale.currency_exponent("KWD")) == (
        2,
        0,
        3,
    )
