"""Ids: UUIDv7, ordered as they are made, and stamped with the real millisecond even when a busy
process makes thousands per millisecond (so an id's time never runs ahead of the clock)."""

from __future__ import annotations

import time

from app.ids import new_id


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
