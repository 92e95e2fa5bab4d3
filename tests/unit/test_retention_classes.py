"""The retention classes' pure rules: each pass's window and the mark it leaves, resuming a pass, what
an old submission and an anonymised lead lose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from app.domain.leads import retention as leads
from app.domain.outreach.messages import may_be_sent_again
from app.domain.workspace import retention
from app.domain.workspace.retention import Swept, Tally, Window

NOW = datetime(2027, 3, 1, 3, 40, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_pass_handles_what_aged_since_the_last_one() -> None:
    assert retention.window(NOW, None, None) is None  # off
    assert retention.window(NOW, 180, None) == Window(None, NOW - 180 * DAY, NOW)  # the first: from the first row
    previous = NOW - 181 * DAY
    assert retention.window(NOW, 180, previous) == Window(previous, NOW - 180 * DAY, NOW)
    # lengthened since the last pass: nothing is due until the rows reach the new cutoff
    assert retention.window(NOW, 365, previous) is None


def test_the_mark_never_goes_back_and_waits_for_what_was_held() -> None:
    assert retention.done_before(NOW, 180, None, None) == NOW - 180 * DAY
    assert retention.done_before(NOW, 365, NOW - 180 * DAY, None) == NOW - 180 * DAY  # lengthened: kept
    assert retention.done_before(NOW, None, NOW - 10 * DAY, None) == NOW - 10 * DAY  # off: kept
    assert retention.done_before(NOW, None, None, None) is None
    held = NOW - 400 * DAY
    assert retention.done_before(NOW, 365, None, held) == held
    # a window shorter than the last hour (webhook excerpts at 0 days) marks only up to an hour ago
    assert retention.done_before(NOW, 0, None, None) == NOW - retention.LATE_WRITES


def test_a_resumed_pass_goes_on_from_its_page_and_counts_what_it_removed() -> None:
    tally = Tally()
    row = uuid4()
    tally.add(Swept(3, retention.cursor(NOW - 200 * DAY, row), held=NOW - 300 * DAY))
    tally.add(Swept(2, retention.cursor(NOW - 190 * DAY, row), held=NOW - 250 * DAY))
    again = Tally.from_json(tally.to_json())
    assert again == tally and (again.removed, again.held, again.finished) == (5, NOW - 300 * DAY, False)
    assert retention.position(again.after) == (NOW - 190 * DAY, row)
    again.add(Swept(0, None))
    assert again.finished and Tally.from_json(again.to_json()).finished
    assert Tally.from_json(None) == Tally() == Tally.from_json({"removed": -1, "after": "x", "held": 5})
    assert retention.position(["yesterday", "not an id"]) is None and retention.position(None) is None


def test_an_earlier_result_gives_each_class_its_mark() -> None:
    result = {
        "as_of": retention.timestamp(NOW),
        "form_submissions": retention.report(180, 4, NOW - 180 * DAY),
        "message_bodies": {"done_before": "garbage"},
        "archived_leads": retention.report(None, 0, None),
    }
    marks = retention.previous_marks(result)
    assert marks["form_submissions"] == NOW - 180 * DAY
    assert marks["message_bodies"] is None and marks["archived_leads"] is None and marks["privacy_exports"] is None
    assert retention.previous_marks(None) == dict.fromkeys(retention.CLASSES)
    assert retention.timestamp(NOW) == "2027-03-01T03:40:00.000000Z"


def test_an_old_submission_loses_its_raw_fields_and_who_sent_it() -> None:
    meta = {"ip": "203.0.113.9", "user_agent": "Mozilla", "origin": "https://shop.example", "utm_source": "x",
            "consents": [{"channel": "email", "text": "Send me news"}]}  # fmt: skip
    kept = {key: meta[key] for key in ("origin", "utm_source", "consents")}
    assert leads.cleared_submission({"email": "a@b.io"}, meta) == ({}, kept)
    assert leads.cleared_submission({}, {"origin": "https://shop.example"}) is None  # nothing left to clear
    assert leads.cleared_submission({}, {"ip": "203.0.113.9"}) == ({}, {})


def _lead(**values: object) -> dict[str, object]:
    base: dict[str, object] = dict.fromkeys((*leads.IDENTIFYING, *leads.CONVERSIONS, "merged_into_id", "archived_at"))
    return {**base, "status": "disqualified", "custom_fields": {}, "search_text": "", **values}


def test_only_a_lead_that_never_converted_and_still_names_its_person_is_anonymised() -> None:
    assert leads.never_converted(_lead()) and leads.never_converted(_lead(status="nurturing"))
    assert not leads.never_converted(_lead(status="qualified"))
    for conversion in leads.CONVERSIONS:
        assert not leads.never_converted(_lead(**{conversion: uuid4()}))
    assert leads.identified(_lead(email="a@b.io")) and leads.identified(_lead(custom_fields={"vip": True}))
    assert not leads.identified(_lead()) and not leads.identified(_lead(**leads.ANONYMISED))


def test_a_merged_lead_waits_until_its_merge_can_no_longer_be_undone() -> None:
    merged = _lead(merged_into_id=uuid4(), archived_at=NOW - 10 * DAY)
    assert leads.merge_undoable(merged, NOW)
    assert not leads.merge_undoable({**merged, "archived_at": NOW - 31 * DAY}, NOW)
    assert not leads.merge_undoable(_lead(archived_at=NOW - DAY), NOW)


def test_a_message_that_may_still_be_sent_keeps_its_content() -> None:
    assert may_be_sent_again("queued", None) and may_be_sent_again("sending", None)
    assert may_be_sent_again("unknown", NOW)
    for status in ("unknown", "sent", "delivered", "failed", "bounced", "blocked"):
        assert not may_be_sent_again(status, None)
