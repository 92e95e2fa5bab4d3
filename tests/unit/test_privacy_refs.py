"""Which people an event, a stored idempotent answer and the write-behind path refer to
(`personal_refs`): the extraction every event pays for, kept to the paths people live at."""

from __future__ import annotations

from uuid import uuid4

from app.db import tables
from app.db.bulk import write_behind
from app.services.privacy.subjects import answer_person_ids, event_person_ids, person_ids

LEAD, CONTACT, OTHER = (str(uuid4()) for _ in range(3))


def test_an_event_about_a_person_that_names_nobody_else_needs_no_ref() -> None:
    data = {"id": LEAD, "email": "sara@example.com", "contact_id": None, "referred_by_lead_id": None}
    assert event_person_ids("lead.created", data, None, LEAD) == set()


def test_the_people_an_event_names_besides_its_resource() -> None:
    submission = {"id": str(uuid4()), "lead_id": LEAD, "contact_id": None, "fields": {"lead_id": OTHER}}
    # a submission's fields are what the visitor typed: never read for people
    assert event_person_ids("form.submission_received", submission, None, submission["id"]) == {LEAD}
    # an order's or a task's events are found by their record's id, as the record is by its person
    order = {"id": str(uuid4()), "contact_id": CONTACT.upper(), "line_items": [{"contact_id": OTHER}]}
    assert event_person_ids("order.created", order, None, order["id"]) == set()
    task = {"id": str(uuid4()), "lead_id": LEAD, "contact_id": None}
    assert event_person_ids("task.created", task, None, task["id"]) == set()
    # ... unless it moved away from someone: their erasure finds this event by its ref
    assert event_person_ids("task.updated", task, {"lead_id": OTHER}, task["id"]) == {OTHER}
    # an update names whom it was about before too
    lead = {"id": LEAD, "contact_id": CONTACT}
    assert event_person_ids("lead.updated", lead, {"contact_id": OTHER}, LEAD) == {CONTACT, OTHER}
    # a converted lead names its contact; a referral names both people
    assert event_person_ids("lead.qualified", {"id": LEAD, "contact_id": CONTACT}, None, LEAD) == {CONTACT}
    referral = {"referrer_contact_id": CONTACT, "referred_contact_id": OTHER, "lead_id": LEAD}
    assert event_person_ids("contact.referral_converted", referral, None, CONTACT) == {OTHER, LEAD}


def test_merges_and_duplicates_name_people_below_the_top_level() -> None:
    merged = {"survivor": {"id": LEAD, "contact_id": CONTACT}, "merged_lead_ids": [OTHER, "not-an-id"]}
    assert event_person_ids("lead.merged", merged, None, LEAD) == {CONTACT, OTHER}
    unmerged = {"lead": {"id": OTHER}, "survivor": {"id": LEAD}}
    assert event_person_ids("lead.unmerged", unmerged, None, OTHER) == {LEAD}
    found = {"lead_id": LEAD, "candidates": [{"id": str(uuid4()), "lead_id": LEAD, "candidate_id": OTHER}]}
    assert event_person_ids("lead.duplicates_found", found, None, LEAD) == {OTHER}
    # the same shapes in another event type are not looked into
    assert event_person_ids("form.submission_received", merged, None, None) == set()


def test_values_that_are_no_id_are_ignored() -> None:
    assert person_ids({"lead_id": "x", "items": [{"contact_id": 7}, {"contact_id": CONTACT}]}) == {CONTACT}


def test_an_answer_names_its_person_by_the_collection_it_was_posted_to() -> None:
    assert answer_person_ids("/v1/leads", {"id": LEAD, "contact_id": None}) == {LEAD}
    assert answer_person_ids("/v1/contacts", {"id": CONTACT, "lead_id": LEAD}) == {CONTACT, LEAD}
    batch = {"results": [{"index": 0, "id": LEAD}, {"index": 1, "id": None, "status": "error"}]}
    assert answer_person_ids("/v1/leads/batch", batch) == {LEAD}
    assert answer_person_ids("/v1/customers/batch", {"results": [{"id": CONTACT}]}) == {CONTACT}
    # a person's sub-resource: the path's person, not the answer's own id
    assert answer_person_ids(f"/v1/leads/{LEAD}/engagements", {"id": OTHER, "lead_id": LEAD}) == {LEAD}
    assert answer_person_ids(f"/v1/contacts/{CONTACT}/loyalty", {"id": OTHER}) == {CONTACT}
    assert answer_person_ids("/v1/leads/rescore", {"id": OTHER}) == set()
    # other collections: only the ids under person keys
    assert answer_person_ids("/v1/orders/batch", {"results": [{"id": OTHER}]}) == set()
    assert answer_person_ids("/v1/tickets", {"id": OTHER, "contact_id": CONTACT}) == {CONTACT}
    assert answer_person_ids("/v1/leads", None) == set()


def test_refs_queued_between_other_rows_are_written_as_one_group() -> None:
    """A ref is queued beside each event of a batch, between other tables' rows: gathered into one
    group, the unit of work still writes one statement (PostgreSQL) and not one per ref."""

    def ref(key: str) -> dict[str, str]:
        return {"workspace_id": LEAD, "subject": CONTACT, "place": "events", "row_key": key}

    def tag(name: str) -> dict[str, str]:
        return {"workspace_id": LEAD, "lead_id": OTHER, "tag": name}

    writes = [
        (tables.lead_tags, [tag("a")]),
        (tables.personal_refs, [ref("1")]),
        (tables.lead_tags, [tag("b")]),
        (tables.personal_refs, [ref("2"), ref("3")]),
        (tables.lead_tags, [tag("c")]),
    ]
    groups = write_behind.groups(writes)
    assert [(g.table.name, len(g.rows)) for g in groups] == [("lead_tags", 3), ("personal_refs", 3)]
