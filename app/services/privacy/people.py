"""Who a privacy request is about: every lead and contact matched by any identity key the service
uses (the normalised email, the E.164 phone, the lead and contact ids, shops' customer ids), grown
to a fixpoint (a lead's contact, a contact's leads, the emails and phones those carry), with which
key matched each record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from app.domain.errors import InvalidInput
from app.domain.leads.contact import parse_email, parse_phone
from app.sealing import sealer
from app.services.context import Context
from app.services.privacy import subjects as refs
from app.services.workspace import workspaces

# A request matching more records than this is refused: an email or phone shared by that many
# people (a switchboard, a placeholder) is no one person's, and erasing them all is no request.
MAX_RECORDS = 200
MAX_ROUNDS = 6


@dataclass(frozen=True)
class Given:
    """The identifiers a request was given, normalised."""

    email_key: str | None = None
    phone: str | None = None
    lead_id: UUID | None = None
    contact_id: UUID | None = None
    shop_ids: tuple[tuple[str, str], ...] = ()

    def digests(self) -> dict[str, Any]:
        """What a request keeps of them: keyed digests only (ids are no personal data, but a
        request keeps nothing it was given in the clear)."""
        out: dict[str, Any] = {}
        if self.email_key:
            out["email"] = refs.email_subject(self.email_key)
        if self.phone:
            out["phone"] = refs.phone_subject(self.phone)
        if self.lead_id:
            out["lead_id"] = "lead:" + sealer().keyed_digest("person:lead", str(self.lead_id))
        if self.contact_id:
            out["contact_id"] = "contact:" + sealer().keyed_digest("person:contact", str(self.contact_id))
        if self.shop_ids:
            out["shop_customer_ids"] = [refs.shop_subject(s, e) for s, e in self.shop_ids]
        return out


@dataclass
class Person:
    """The records a request matched, the keys that matched each, and every identifier they carry."""

    leads: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    keys: dict[tuple[str, UUID], set[str]] = field(default_factory=dict)
    email_keys: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    shop_ids: set[tuple[str, str]] = field(default_factory=set)

    @property
    def lead_ids(self) -> list[UUID]:
        return sorted(self.leads)

    @property
    def contact_ids(self) -> list[UUID]:
        return sorted(self.contacts)

    @property
    def empty(self) -> bool:
        return not (self.leads or self.contacts)

    def matched(self) -> list[dict[str, Any]]:
        """[{"resource", "id", "keys"}]: each record and the identity keys that found it."""
        return [
            {"resource": resource, "id": str(record_id), "keys": sorted(keys)}
            for (resource, record_id), keys in sorted(self.keys.items(), key=lambda item: (item[0][0], str(item[0][1])))
        ]

    def subjects(self) -> list[str]:
        """Every subject `personal_refs` may name them by."""
        out = [str(i) for i in (*self.leads, *self.contacts)]
        out += [refs.email_subject(e) for e in self.email_keys]
        out += [refs.phone_subject(p) for p in self.phones]
        out += [refs.shop_subject(s, e) for s, e in self.shop_ids]
        return sorted(set(out))

    def records(self) -> list[Mapping[str, Any]]:
        return [*self.leads.values(), *self.contacts.values()]


async def given(ctx: Context, values: Mapping[str, Any], shop_ids: Sequence[tuple[str, str]] = ()) -> Given:
    """The identifiers of a request body, normalised; 422 naming the field that is no usable
    email or phone, or when none is given."""
    email = values.get("email")
    phone = values.get("phone")
    email_key = phone_e164 = None
    if email:
        try:
            email_key = parse_email(email).key
        except ValueError as exc:
            raise InvalidInput.field("email", str(exc)) from exc
    if phone:
        parsed = parse_phone(phone, await workspaces.default_region(ctx))
        if parsed.e164 is None:
            raise InvalidInput.field("phone", "not a phone number (give it in international form, e.g. +989121234567)")
        phone_e164 = parsed.e164
    result = Given(email_key, phone_e164, values.get("lead_id"), values.get("contact_id"), tuple(shop_ids))
    if not (email_key or phone_e164 or result.lead_id or result.contact_id or result.shop_ids):
        raise InvalidInput.field("email", "give at least one of email, phone, lead_id or contact_id")
    return result


async def resolve(ctx: Context, request: Given) -> Person:
    """Every lead and contact of the person, grown from what the request gave to a fixpoint."""
    person = Person()
    repo = ctx.personal_data
    if request.email_key:
        person.email_keys.add(request.email_key)
    if request.phone:
        person.phones.add(request.phone)
    person.shop_ids.update(request.shop_ids)
    lead_ids = {request.lead_id} if request.lead_id else set()
    contact_ids = {request.contact_id} if request.contact_id else set()
    origin: dict[tuple[str, Any], str] = {
        ("leads", request.lead_id): "lead_id",
        ("contacts", request.contact_id): "contact_id",
    }
    for contact_id in await repo.contacts_by_shop_ids(sorted(person.shop_ids)):
        origin[("contacts", contact_id)] = "shop_customer_id"
        contact_ids.add(contact_id)
    for _ in range(MAX_ROUNDS):
        before = (len(person.leads), len(person.contacts), len(person.email_keys), len(person.phones))
        for row in await repo.leads_matching(
            ids=sorted(lead_ids - set(person.leads)),
            email_keys=sorted(person.email_keys),
            phones=sorted(person.phones),
            contact_ids=sorted(contact_ids),
        ):
            _add(person, "leads", row, origin, request)
            if row["contact_id"]:
                contact_ids.add(row["contact_id"])
            if row["merged_into_id"]:
                lead_ids.add(row["merged_into_id"])
        for row in await repo.contacts_matching(
            ids=sorted(contact_ids - set(person.contacts)),
            email_keys=sorted(person.email_keys),
            phones=sorted(person.phones),
            lead_ids=sorted(set(person.leads)),
        ):
            _add(person, "contacts", row, origin, request)
            if row["lead_id"]:
                lead_ids.add(row["lead_id"])
        if len(person.leads) + len(person.contacts) > MAX_RECORDS:
            raise InvalidInput(
                f"these identifiers match more than {MAX_RECORDS} records: they are no one person's; "
                "ask by a lead or contact id instead"
            )
        lead_ids |= set(person.leads)
        contact_ids |= set(person.contacts)
        after = (len(person.leads), len(person.contacts), len(person.email_keys), len(person.phones))
        if after == before and lead_ids <= set(person.leads) and contact_ids <= set(person.contacts):
            break
    return person


def _add(
    person: Person, resource: str, row: Mapping[str, Any], origin: Mapping[tuple[str, Any], str], request: Given
) -> None:
    """Note a record and the keys that found it: those of the request's own identifiers it carries,
    else those it shares with the records found before it (a lead's contact: `lead_id`)."""
    records = person.leads if resource == "leads" else person.contacts
    records.setdefault(row["id"], dict(row))
    keys = person.keys.setdefault((resource, row["id"]), set())
    if (resource, row["id"]) in origin:
        keys.add(origin[(resource, row["id"])])
    if request.email_key and row.get("email_key") == request.email_key:
        keys.add("email")
    if request.phone and row.get("phone_e164") == request.phone:
        keys.add("phone")
    if not keys:
        if row.get("email_key") and row["email_key"] in person.email_keys:
            keys.add("email")
        if row.get("phone_e164") and row["phone_e164"] in person.phones:
            keys.add("phone")
    if not keys:
        keys.add("lead_id" if resource == "contacts" else "contact_id")  # reached through the other
    if row.get("email_key"):
        person.email_keys.add(row["email_key"])
    if row.get("phone_e164"):
        person.phones.add(row["phone_e164"])
