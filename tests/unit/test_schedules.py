from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.domain.events.webhooks import after_attempt, subscribed
from app.domain.schedules import is_occurrence, next_occurrence

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_nightly_runs_at_local_three_oclock_across_dst() -> None:
    # Berlin leaves summer time on 2026-10-25: 03:00 local is 01:00 UTC before and 02:00 UTC after.
    before = next_occurrence("0 3 * * *", "Europe/Berlin", datetime(2026, 10, 23, 12, tzinfo=UTC))
    after = next_occurrence("0 3 * * *", "Europe/Berlin", datetime(2026, 10, 26, 12, tzinfo=UTC))
    assert before == datetime(2026, 10, 24, 1, tzinfo=UTC)
    assert after == datetime(2026, 10, 27, 2, tzinfo=UTC)
    tehran = next_occurrence("0 3 * * *", "Asia/Tehran", NOW)
    assert tehran == datetime(2026, 11, 27, 23, 30, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)).map(lambda d: d.replace(tzinfo=UTC))
)
def test_next_occurrence_is_later_and_on_schedule(after: datetime) -> None:
    following = next_occurrence("30 2 * * *", "America/New_York", after)
    assert after < following <= after + timedelta(days=1, hours=2)
    assert is_occurrence("30 2 * * *", "America/New_York", following)


def test_a_moved_time_zone_takes_the_old_chain_off_schedule() -> None:
    berlin = next_occurrence("0 3 * * *", "Europe/Berlin", NOW)
    assert is_occurrence("0 3 * * *", "Europe/Berlin", berlin)
    assert not is_occurrence("0 3 * * *", "Asia/Tehran", berlin)


def test_retry_schedule_then_failed() -> None:
    schedule = (0, 5, 300)
    first = after_attempt(attempts=1, status_code=500, now=NOW, failing_since=None, schedule=schedule, jitter=0)
    assert first.status == "pending" and first.next_attempt_at == NOW + timedelta(seconds=5)
    assert first.failing_since == NOW
    jittered = after_attempt(attempts=2, status_code=None, now=NOW, failing_since=NOW, schedule=schedule, jitter=1)
    assert jittered.next_attempt_at == NOW + timedelta(seconds=330)
    last = after_attempt(attempts=3, status_code=500, now=NOW, failing_since=NOW, schedule=schedule, jitter=0)
    assert last.status == "failed"
    ok = after_attempt(attempts=3, status_code=204, now=NOW, failing_since=NOW, schedule=schedule, jitter=0)
    assert ok.status == "succeeded" and ok.failing_since is None


def test_gone_or_five_days_of_failure_disable_the_endpoint() -> None:
    gone = after_attempt(attempts=1, status_code=410, now=NOW, failing_since=None, schedule=(0,), jitter=0)
    assert gone.disable_endpoint and gone.status == "pending"  # it waits for re-enabling
    stale = NOW - timedelta(days=5)
    tired = after_attempt(attempts=1, status_code=500, now=NOW, failing_since=stale, schedule=(0, 5), jitter=0)
    assert tired.disable_endpoint and "5 days" in tired.disable_endpoint


def test_subscriptions() -> None:
    assert subscribed([], "member.created") and subscribed(["member.created"], "member.created")
    assert not subscribed(["member.updated"], "member.created")
