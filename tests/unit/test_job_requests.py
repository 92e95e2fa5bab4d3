"""What makes two job requests the same one, and what a tenant is told of a failure."""

from uuid import UUID

from app.domain.events.jobs import failure_problem, fingerprint


def test_the_same_work_has_one_fingerprint_whatever_the_order_of_its_fields() -> None:
    one = fingerprint("analytics.refresh", {"as_of": "2026-06-30", "cause": "api", "nested": {"b": 1, "a": 2}})
    two = fingerprint("analytics.refresh", {"nested": {"a": 2, "b": 1}, "cause": "api", "as_of": "2026-06-30"})
    assert one == two and len(one) == 64
    assert fingerprint("analytics.refresh", {"as_of": "2026-06-29", "cause": "api"}) != fingerprint(
        "analytics.refresh", {"as_of": "2026-06-30", "cause": "api"}
    )
    assert fingerprint("events.redact", {"resource_id": "x"}) != fingerprint("leads.rescore", {"resource_id": "x"})


def test_a_failure_names_the_job_and_nothing_else() -> None:
    job_id = UUID("01a21ccd-7080-7524-9a80-7fc53d31ae93")
    problem = failure_problem(job_id, subject="import")
    assert problem["type"] == "/problems/import-failed" and problem["job_id"] == str(job_id)
    assert str(job_id) in problem["detail"]
