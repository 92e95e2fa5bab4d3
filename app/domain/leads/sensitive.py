"""Sensitive custom fields (a person's religion, ethnicity): which values a reader may see.

A sensitive field's value is shown only in a single lead's answer, and only to a key with
`sensitive:read`; never in a list, an export, an event or a webhook. These functions take the
workspace's sensitive keys and leave the documents they get untouched: they return the same object
when nothing in it is sensitive, else a copy without the sensitive values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from app.domain.leads.custom_fields import FieldDefinition

CUSTOM_FIELDS = "custom_fields"
CUSTOM_PREFIX = "custom_fields."
# The events whose data may carry a lead's custom fields (the lead, a merge's survivor and what it
# filled, a duplicate's candidates): every `lead.*` type.
LEAD_EVENT_PREFIX = "lead."

T = TypeVar("T")
RowT = TypeVar("RowT", bound=Mapping[str, Any])


def sensitive_keys(definitions: Iterable[FieldDefinition]) -> frozenset[str]:
    return frozenset(d.key for d in definitions if d.sensitive)


def without_sensitive(row: RowT, keys: frozenset[str]) -> RowT:
    """A lead (a row, or its JSON form) without the sensitive values of its `custom_fields`."""
    values = row.get(CUSTOM_FIELDS)
    if not keys or not isinstance(values, Mapping) or keys.isdisjoint(values):
        return row
    return {**row, CUSTOM_FIELDS: {k: v for k, v in values.items() if k not in keys}}  # type: ignore[return-value]


def scrub(document: T, keys: frozenset[str]) -> T:
    """A JSON document without the sensitive values of every `custom_fields` object in it, at any
    depth (an event's lead, a merge's survivor and its `filled_fields`, an engagement's
    `properties.filled_fields`)."""
    if not keys:
        return document
    return _scrub(document, keys)  # type: ignore[no-any-return]


def _scrub(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        changed: dict[str, Any] | None = None
        for name, item in value.items():
            if name == CUSTOM_FIELDS and isinstance(item, Mapping) and not keys.isdisjoint(item):
                new: Any = {k: v for k, v in item.items() if k not in keys}
            else:
                new = _scrub(item, keys)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[name] = new
        return value if changed is None else changed
    if isinstance(value, list):
        items = [_scrub(item, keys) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def carries_custom_fields(document: Any) -> bool:
    """Whether a JSON document has a non-empty `custom_fields` object anywhere in it (else there is
    nothing to scrub, and the workspace's definitions need not be read)."""
    if isinstance(document, Mapping):
        return any(
            (name == CUSTOM_FIELDS and isinstance(item, Mapping) and bool(item)) or carries_custom_fields(item)
            for name, item in document.items()
        )
    if isinstance(document, list):
        return any(carries_custom_fields(item) for item in document)
    return False


def event_payload(
    event_type: str, data: dict[str, Any], previous: dict[str, Any] | None, keys: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """An event's `data` and the resource as it was before (from which `previous_attributes` is
    taken), without sensitive values. Only `lead.*` events carry a lead's custom fields; other
    types' `custom_fields` objects are configuration (a routing rule's, a journey step's)."""
    if not keys or not event_type.startswith(LEAD_EVENT_PREFIX):
        return data, previous
    return scrub(data, keys), scrub(previous, keys) if previous is not None else None


def stored_event(event: RowT, keys: frozenset[str]) -> RowT:
    """An event of the log as it is read: one recorded before its lead's field was marked
    sensitive still has the value, left out here (`data` and `previous_attributes`)."""
    if not keys or not str(event.get("type", "")).startswith(LEAD_EVENT_PREFIX):
        return event
    data, previous = event.get("data"), event.get("previous_attributes")
    scrubbed, scrubbed_previous = scrub(data, keys), scrub(previous, keys)
    if scrubbed is data and scrubbed_previous is previous:
        return event
    return {**event, "data": scrubbed, "previous_attributes": scrubbed_previous}  # type: ignore[return-value]


def sensitive_form_fields(field_mapping: Mapping[str, Any], keys: frozenset[str]) -> frozenset[str]:
    """The form fields a form's `field_mapping` sends to a sensitive custom field: their posted
    values are a submission's copy of the sensitive value."""
    if not keys:
        return frozenset()
    return frozenset(
        name
        for name, target in field_mapping.items()
        if isinstance(target, str) and target.startswith(CUSTOM_PREFIX) and target[len(CUSTOM_PREFIX) :] in keys
    )


def sensitive_columns(fields_to_columns: Mapping[str, str], keys: frozenset[str]) -> frozenset[str]:
    """The columns of a lead import's file (by name) that carry a sensitive value: those its mapping
    (field -> column name) sends to a sensitive custom field (`custom_fields.<key>`), and one read
    as the whole `custom_fields` object. A failed row is kept and listed without them."""
    if not keys:
        return frozenset()
    return frozenset(
        column
        for field, column in fields_to_columns.items()
        if field == CUSTOM_FIELDS or (field.startswith(CUSTOM_PREFIX) and field[len(CUSTOM_PREFIX) :] in keys)
    )


def sensitive_conditions(document: Any, keys: frozenset[str], path: str = "") -> list[str]:
    """The paths (`trigger.conditions.all.0.field`) of the conditions in a JSON document (a journey,
    a campaign's audience) that pick people by a sensitive custom field (`custom_fields.<key>`):
    the people they find tell whose value it is. A condition is an object with `field` and `op`."""
    if not keys:
        return []
    found: list[str] = []
    if isinstance(document, Mapping):
        name = document.get("field")
        if (
            "op" in document
            and isinstance(name, str)
            and name.startswith(CUSTOM_PREFIX)
            and name[len(CUSTOM_PREFIX) :] in keys
        ):
            found.append(f"{path}.field" if path else "field")
        for key, item in document.items():
            found += sensitive_conditions(item, keys, f"{path}.{key}" if path else str(key))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            found += sensitive_conditions(item, keys, f"{path}.{index}" if path else str(index))
    return found


def without_form_fields(submission: RowT, names: frozenset[str]) -> RowT:
    """A form submission (a row, or its JSON form) without the posted values of `names`."""
    fields = submission.get("fields")
    if not names or not isinstance(fields, Mapping) or names.isdisjoint(fields):
        return submission
    return {**submission, "fields": {k: v for k, v in fields.items() if k not in names}}  # type: ignore[return-value]
