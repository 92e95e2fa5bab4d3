"""Ids: UUIDv7, ordered as they are made, and stamped with the real millisecond even when a busy
process makes thousands per millisecond (so an id's time never runs ahead of the clock)."""

from __future__ import annotations

import pickle
import time
import uuid

from app.ids import new_id, sorted_ids


def test_ids_are_version_7_unique_and_increasing() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert all(i.version == 7 for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_a_burst_of_ids_keeps_the_clock_time() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(50_000)]  # far more than one per millisecond
    after_ms = time.time_ns() // 1_000_000
    stamped = [i.int >> 80 for i in ids]  # the first 48 bits: Unix milliseconds
    assert before_ms <= stamped[0]
    assert stamped[-1] <= after_ms + 1  # a generator that bumps the millisecond per id ends far ahead


def test_ids_are_standard_uuids_that_round_trip() -> None:
    """new_id builds the UUID without its constructor: it must still be an ordinary UUID."""
    made = new_id()
    assert type(made) is uuid.UUID
    again = uuid.UUID(str(made))
    assert again == made and hash(again) == hash(made) and again.bytes == made.bytes
    assert pickle.loads(pickle.dumps(made)) == made
    assert made.variant == uuid.RFC_4122


def test_sorted_ids_orders_as_uuid_comparison_does() -> None:
    ids = [uuid.uuid4() for _ in range(2_000)] + [new_id() for _ in range(2_000)]
    assert sorted_ids(ids) == sorted(ids)
