"""Content negotiation (app/domain/negotiation.py): q-values, wildcards, q=0, ties and ill-formed
headers."""

from __future__ import annotations

import pytest

from app.domain.negotiation import MediaRange, media_ranges, preferred, quality

REPORT = ["application/json", "text/csv", "image/png"]


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("  ", "application/json"),
        ("text/csv", "text/csv"),
        ("TEXT/CSV; charset=UTF-8", "text/csv"),
        ("text/csv;q=0, application/json", "application/json"),  # q=0: not acceptable
        ("text/csv;q=0", None),
        ("text/csv;q=0.5, application/json;q=0.9", "application/json"),
        ("application/json;q=0.4, text/csv;q=0.41", "text/csv"),
        ("image/*", "image/png"),
        ("image/*;q=0.5, text/csv;q=0.2", "image/png"),
        ("*/*", "application/json"),  # a tie: the first offered
        ("text/csv, application/json", "application/json"),  # order in the header does not count
        ("text/csv, */*", "text/csv"),  # equal q: the one named beats the wildcard
        ("*/*;q=0.1, text/csv", "text/csv"),
        ("*/*;q=0, image/png", "image/png"),
        ("text/*", "text/csv"),
        ("text/*;q=0, */*", "application/json"),  # the most specific range decides: text/csv refused
        ("text/csv;q=1, text/*;q=0", "text/csv"),
        ("application/*;q=0, */*", "text/csv"),
        ("application/xml", None),
        ("application/xml, image/webp", None),
        ("json", "application/json"),  # no well-formed range: as if absent
        ("text/csv;q=high", "application/json"),
        ("text/csv;q=high, image/png", "image/png"),  # an ill-formed range beside good ones: ignored
        ("text/csv;q=1.5", "application/json"),
        ("text/csv;q=0.0001", "application/json"),  # more than 3 decimals: ill-formed
        ("text/csv;q=0.001", "text/csv"),
        ("*/csv", "application/json"),  # ill-formed: a subtype under any type
        ("text/csv;q=0.5;ext=1, application/json;q=0.4", "text/csv"),
    ],
)
def test_the_preferred_type(header: str | None, chosen: str | None) -> None:
    assert preferred(header, REPORT) == chosen


def test_a_report_without_a_chart() -> None:
    offered = ["application/json", "text/csv"]
    assert preferred("image/png", offered) is None
    assert preferred("image/*, text/csv;q=0.1", offered) == "text/csv"
    assert preferred("anything", []) is None


def test_ranges_and_their_quality() -> None:
    ranges = media_ranges("text/*;q=0.3, text/csv;q=0.7, */*;q=0.1, bad")
    assert ranges == [MediaRange("text", "*", 0.3), MediaRange("text", "csv", 0.7), MediaRange("*", "*", 0.1)]
    assert quality(ranges, "text/csv") == (0.7, 2)
    assert quality(ranges, "text/html") == (0.3, 1)
    assert quality(ranges, "image/png") == (0.1, 0)
    assert quality(media_ranges("text/csv"), "image/png") is None
