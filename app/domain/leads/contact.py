"""Contact details as people type them: emails normalised and keyed for matching, phones parsed
into E.164 with the workspace's region for national numbers (kept as typed either way)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.domain.errors import ErrorList


@dataclass(frozen=True)
class Email:
    address: str  # trimmed, domain lower-cased (as email-validator normalises it)
    key: str  # casefolded: what duplicates are matched on


@dataclass(frozen=True)
class Phone:
    raw: str
    e164: str | None  # when it is a possible number
    valid: bool  # a real, assignable number for its region


# Both parsers are pure functions of what was typed, and shops resend the same customers with
# every order: the last few thousand answers are kept (an invalid address raises each time).
CACHED_DETAILS = 16384


@lru_cache(maxsize=CACHED_DETAILS)
def parse_email(raw: str) -> Email:
    """Raises ValueError with a reason when the address is not usable."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return Email(result.normalized, result.normalized.casefold())


@lru_cache(maxsize=CACHED_DETAILS)
def parse_phone(raw: str, default_region: str | None) -> Phone:
    raw = raw.strip()
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return Phone(raw, None, False)
    if not phonenumbers.is_possible_number(number):
        return Phone(raw, None, False)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(raw, e164, phonenumbers.is_valid_number(number))


@dataclass(frozen=True)
class ContactDetails:
    email: Email | None
    phone: Phone | None

    @property
    def email_key(self) -> str | None:
        return self.email.key if self.email else None

    @property
    def phone_e164(self) -> str | None:
        return self.phone.e164 if self.phone else None

    @property
    def identity_keys(self) -> list[str]:
        """The email key and E.164 phone this person is matched by (those it has)."""
        return [key for key in (self.email_key, self.phone_e164) if key]


def contact_details(
    email: str | None, phone: str | None, default_region: str | None, errors: ErrorList, *, prefix: str = ""
) -> ContactDetails:
    """A lead needs a usable email or phone. An invalid email is an error; a doubtful phone never
    rejects a lead that has a valid email (it is kept as typed, without E.164)."""
    parsed_email = None
    if email is not None and email.strip():
        try:
            parsed_email = parse_email(email)
        except ValueError as exc:
            errors.add(f"{prefix}email", str(exc))
    parsed_phone = parse_phone(phone, default_region) if phone is not None and phone.strip() else None
    usable_phone = parsed_phone is not None and parsed_phone.e164 is not None
    if parsed_email is None and not usable_phone and not errors.errors:
        if parsed_phone is not None:
            errors.add(f"{prefix}phone", "not a possible phone number (add the country code, e.g. +98…)")
        else:
            errors.add(f"{prefix}email", "give an email or a phone number")
    return ContactDetails(parsed_email, parsed_phone)
