"""Who may read each event type: the rule, its one table of exceptions, and every catalogued type."""

from __future__ import annotations

from app.domain.events import events
from app.domain.events.webhooks import covers, delivers, endpoint_scopes
from app.domain.workspace.api_keys import ADMIN, SCOPES
from app.schemas.events.events import CATALOGUE


def test_every_catalogued_type_needs_a_scope_of_the_catalogue() -> None:
    for event_type in CATALOGUE:
        for scope in events.required_scopes(event_type):
            assert scope in SCOPES, (event_type, scope)
            assert scope == ADMIN or scope.endswith(":read"), (event_type, scope)
            if scope == ADMIN:  # decided in the table, never by falling through the rule
                assert events.EVENT_SCOPE_EXCEPTIONS.get(event_type.partition(".")[0]) == ADMIN, event_type


def test_a_consent_belongs_to_a_lead_or_a_contact_so_both_read_scopes_are_needed() -> None:
    assert events.required_scopes("consent.updated") == ("leads:read", "contacts:read")
    assert not events.may_read({"leads:read"}, "consent.updated")
    assert not events.may_read({"contacts:write"}, "consent.updated")
    assert events.may_read({"leads:read", "contacts:write"}, "consent.updated")
    assert events.readable({"suppressions:read"}, ["message.sent", "consent.updated", "suppression.created"]) == [
        "suppression.created"
    ]


def test_a_message_event_shows_its_recipient_so_it_needs_the_person_scopes_too() -> None:
    assert not events.may_read({"messages:read"}, "message.sent")
    assert not events.may_read({"messages:read", "leads:read"}, "message.sent")
    assert events.may_read({"messages:read", "leads:read", "contacts:read"}, "message.delivered")


def test_the_resource_before_the_dot_decides_and_the_table_holds_the_exceptions() -> None:
    assert events.required_scope("lead.created") == "leads:read"
    assert events.required_scope("order.refunded") == "orders:read"
    assert events.required_scope("customer.churned") == "contacts:read"
    assert events.required_scope("team.updated") == "members:read"
    assert events.required_scope("opportunity.won") == "opportunities:read"
    for workspace_level in ("workspace", "settings", "api_key", "webhook_endpoint", "integration", "form"):
        assert events.required_scope(f"{workspace_level}.anything") == ADMIN
    assert events.required_scope("unheard_of.happened") == ADMIN  # hidden until someone decides


def test_write_and_admin_imply_read() -> None:
    assert events.may_read({"leads:write"}, "lead.created")
    assert events.may_read({ADMIN}, "api_key.created")
    assert not events.may_read({"leads:read", "events:read"}, "api_key.created")
    assert events.readable({"members:read"}, ["lead.created", "member.created", "team.deleted"]) == [
        "member.created",
        "team.deleted",
    ]


def test_an_endpoint_is_delivered_what_it_subscribes_to_and_its_scopes_may_read() -> None:
    narrow = endpoint_scopes(frozenset({"webhooks:write", "members:read"}))
    assert narrow == ["members:read", "webhooks:write"]
    assert endpoint_scopes(frozenset({ADMIN, "leads:read"})) == [ADMIN]
    assert delivers([], narrow, "member.created") and not delivers([], narrow, "lead.created")
    assert not delivers(["team.created"], narrow, "member.created")
    assert delivers([], [ADMIN], "lead.created")
    assert covers(frozenset({ADMIN}), [ADMIN]) and not covers(frozenset({"webhooks:write"}), [ADMIN])
    assert covers(frozenset({"members:read", "webhooks:write"}), narrow)  # write implies read
