"""Message templates: the variables a template may name, how a template is checked when it is
saved (syntax and every variable against the catalogue, each error naming the field and the line),
how it renders (Jinja2's sandbox; HTML escaped, text not; Persian digits and Jalali dates), and how
many parts an SMS takes as the network counts them (GSM-7 or UCS-2)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import jdatetime  # type: ignore[import-untyped]
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from app.domain.errors import ErrorList
from app.domain.outreach.vocabulary import ChannelType

# -- the variable catalogue ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    description: str
    example: str


PERSON_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "company",
    "job_title",
    "city",
    "province",
    "country",
)
OWNER_FIELDS: tuple[str, ...] = ("name", "email")
WORKSPACE_FIELDS: tuple[str, ...] = ("name",)
# root -> the attributes it has (None: a plain value with no attributes of its own)
ROOTS: dict[str, tuple[str, ...] | None] = {
    "person": (*PERSON_FIELDS, "custom_fields", "recommendations"),
    "owner": OWNER_FIELDS,
    "workspace": WORKSPACE_FIELDS,
    "unsubscribe_url": None,
}

CATALOGUE: tuple[Variable, ...] = (
    Variable("person.first_name", "The recipient's first name (a lead or a contact)", "Sara"),
    Variable("person.last_name", "The recipient's last name", "Ahmadi"),
    Variable("person.full_name", "First and last name, joined by a space", "Sara Ahmadi"),
    Variable("person.email", "The recipient's email address", "sara@example.com"),
    Variable("person.phone", "The recipient's phone number as stored", "+989121234567"),
    Variable("person.company", "A lead's company; a contact's account name", "Acme"),
    Variable("person.job_title", "The recipient's job title", "Buyer"),
    Variable("person.city", "The recipient's city", "Tehran"),
    Variable("person.province", "The recipient's province or state", "Tehran"),
    Variable("person.country", "ISO 3166-1 alpha-2 country code", "IR"),
    Variable(
        "person.custom_fields.<key>",
        "A custom field of the recipient by its key (a lead's; contacts have none). Undefined for a person "
        'without it: write `{{ person.custom_fields.key | default("") }}` when some may lack it',
        "2026-12-06",
    ),
    Variable(
        "person.recommendations",
        "Product categories the latest retention analytics recommend to a contact (cross-sell: their declared "
        "interests first, then what buyers of the same categories also bought), best first, at most three; empty "
        'for a lead and before the first analytics run. `{{ person.recommendations | join(", ") }}`, or '
        "`{% for category in person.recommendations %}`",
        "flour, mugs",
    ),
    Variable("owner.name", "The name of the member who owns the recipient; empty when nobody does", "Reza Karimi"),
    Variable("owner.email", "That member's email; empty when nobody owns the recipient", "reza@acme.example"),
    Variable("workspace.name", "The workspace's name", "Acme"),
    Variable("unsubscribe_url", "The recipient's unsubscribe link for this message", "https://crm.example/u/…"),
)

FILTERS_DOC: tuple[Variable, ...] = (
    Variable("fa_digits", "Latin and Arabic-Indic digits to Persian digits", "{{ '1405' | fa_digits }} → ۱۴۰۵"),
    Variable("en_digits", "Persian and Arabic-Indic digits to Latin digits", "{{ '۱۴۰۵' | en_digits }} → 1405"),
    Variable(
        "jalali",
        "A date, a datetime or an ISO 8601 text as a Jalali (Solar Hijri) date; optional strftime-style format "
        "(default %Y/%m/%d); empty for an empty value",
        "{{ person.custom_fields.renewal | jalali }} → 1405/09/15",
    ),
)

# -- filters ---------------------------------------------------------------------------------------

_PERSIAN = "۰۱۲۳۴۵۶۷۸۹"
_ARABIC = "٠١٢٣٤٥٦٧٨٩"
_LATIN = "0123456789"
_TO_PERSIAN = str.maketrans(_LATIN + _ARABIC, _PERSIAN * 2)
_TO_LATIN = str.maketrans(_PERSIAN + _ARABIC, _LATIN * 2)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def fa_digits(value: Any) -> str:
    """Latin and Arabic-Indic digits as Persian digits."""
    return _text(value).translate(_TO_PERSIAN)


def en_digits(value: Any) -> str:
    """Persian and Arabic-Indic digits as Latin digits."""
    return _text(value).translate(_TO_LATIN)


def jalali(value: Any, format: str = "%Y/%m/%d") -> str:
    """A date, a datetime or an ISO 8601 text (Persian digits allowed) as a Jalali date text."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = en_digits(value).strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"jalali: {value!r} is not an ISO 8601 date") from None
    if isinstance(value, datetime):
        return str(jdatetime.datetime.fromgregorian(datetime=value).strftime(format))
    if isinstance(value, date):
        return str(jdatetime.date.fromgregorian(date=value).strftime(format))
    raise ValueError(f"jalali: {value!r} is not a date")


def _finalize(value: Any) -> Any:
    return "" if value is None else value  # an empty field renders empty, never "None"


# The longest value any expression may make, and the longest a rendered part may be: a message is
# text for a person, never megabytes (a template could otherwise exhaust the server's memory).
MAX_VALUE = 100_000
MAX_RENDERED = 500_000
# Filters that pad or repeat to a width the template chooses: their width is bounded.
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate", "format", "filesizeformat")


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox (no private attributes, no unsafe calls), also kept from making huge values:
    `*` and `%` making text or a list past MAX_VALUE, `**` by a large exponent, a padding filter
    past MAX_VALUE wide are refused, and `range` is not there (nested loops over it could run for
    hours)."""

    intercepted_binops = frozenset({"*", "**", "%"})
    MAX_REPEAT = 10_000

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                sized = isinstance(sequence, (str, list, tuple)) and isinstance(count, int)
                if sized and (count > self.MAX_REPEAT or len(sequence) * count > MAX_VALUE):
                    raise SecurityError(f"a value longer than {MAX_VALUE} characters is not allowed")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 100:
            raise SecurityError("an exponent above 100 is not allowed")
        if operator == "%" and isinstance(left, str) and re.search(r"%[-+ #0]*(\d{4,}|\*)", left):
            raise SecurityError("a format width above 999 is not allowed")
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, (str, list, tuple)) and len(result) > MAX_VALUE:
            raise SecurityError(f"a value longer than {MAX_VALUE} characters is not allowed")
        return result


def _bounded(name: str, original: Any) -> Any:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        widths = [a for a in (*args[1:], *kwargs.values()) if isinstance(a, int) and not isinstance(a, bool)]
        if any(abs(w) > MAX_VALUE for w in widths):
            raise SecurityError(f"{name}: a width above {MAX_VALUE} is not allowed")
        result = original(*args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_VALUE:
            raise SecurityError(f"{name}: a value longer than {MAX_VALUE} characters is not allowed")
        return result

    for attribute in ("jinja_pass_arg",):  # keep how Jinja passes the environment or context
        if hasattr(original, attribute):
            setattr(bounded, attribute, getattr(original, attribute))
    return bounded


def _environment(*, html: bool) -> SandboxedEnvironment:
    env = _Sandbox(autoescape=html, undefined=StrictUndefined, finalize=_finalize, keep_trailing_newline=True)
    env.filters.update({"fa_digits": fa_digits, "en_digits": en_digits, "jalali": jalali})
    for name in _WIDTH_FILTERS:
        if name in env.filters:
            env.filters[name] = _bounded(name, env.filters[name])
    for name in ("range", "lipsum"):
        env.globals.pop(name, None)
    return env


_TEXT = _environment(html=False)
_HTML = _environment(html=True)

# -- validation on save ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WhatsAppTemplate:
    """The template Meta approved (`name`, `language`) and its body parameters, each a Jinja
    expression rendered to text (`"person.first_name"`, `"person.custom_fields.code | fa_digits"`)."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> WhatsAppTemplate:
        return cls(str(value["name"]), str(value["language"]), tuple(str(p) for p in value.get("parameters") or ()))


@dataclass(frozen=True, slots=True)
class Content:
    """What a template (or an inline message) says, per channel."""

    channel: ChannelType
    body_text: str
    subject: str | None = None
    body_html: str | None = None
    whatsapp_template: WhatsAppTemplate | None = None


def _parameter_source(expression: str) -> str:
    return "{{ " + expression + " }}"


def sources(content: Content) -> Iterator[tuple[str, str, bool]]:
    """(field, Jinja source, is HTML) of every part of the content that renders."""
    if content.subject is not None:
        yield "subject", content.subject, False
    yield "body_text", content.body_text, False
    if content.body_html is not None:
        yield "body_html", content.body_html, True
    if content.whatsapp_template is not None:
        for i, expression in enumerate(content.whatsapp_template.parameters):
            yield f"whatsapp_template.parameters.{i}", _parameter_source(expression), False


def check_shape(content: Content, errors: ErrorList) -> None:
    """Which parts a channel takes: an email a subject (and optionally HTML), WhatsApp the template
    Meta approved; SMS the text only."""
    email = content.channel == ChannelType.EMAIL
    if email and not content.subject:
        errors.add("subject", "an email needs a subject")
    if not email and content.subject is not None:
        errors.add("subject", "only an email has a subject")
    if not email and content.body_html is not None:
        errors.add("body_html", "only an email has an HTML body")
    whatsapp = content.channel == ChannelType.WHATSAPP
    if whatsapp and content.whatsapp_template is None:
        errors.add("whatsapp_template", "a WhatsApp message names the approved template it uses")
    if not whatsapp and content.whatsapp_template is not None:
        errors.add("whatsapp_template", "only a WhatsApp message has a WhatsApp template")
    if not content.body_text.strip():
        errors.add("body_text", "must not be empty")


def validate(content: Content) -> None:
    """Raise InvalidInput naming each field whose template does not parse or names a variable,
    attribute or filter outside the catalogue ("line 3: unknown variable person.nickname")."""
    errors = ErrorList()
    check_shape(content, errors)
    for field, source, html in sources(content):
        for message in problems(source, html=html):
            errors.add(field, message)
    errors.raise_if_any()


def problems(source: str, *, html: bool = False) -> list[str]:
    """What is wrong with one template source, each message starting with its line."""
    env = _HTML if html else _TEXT
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.message}"]
    found = list(_Checker(env).check(tree))
    if not found:
        try:
            env.compile(tree)
        except TemplateSyntaxError as exc:  # TemplateAssertionError included
            found.append(f"line {exc.lineno}: {exc.message}")
    return found


class _Checker:
    """Walks a parsed template: every name it reads is a catalogue root or one the template set
    itself ({% set %}, {% for %}, macro arguments); every attribute of `person`, `owner` and
    `workspace` is in the catalogue (`person.custom_fields.<any key>`); every filter and test exists."""

    def __init__(self, env: SandboxedEnvironment) -> None:
        self.env = env
        self.local: set[str] = {"loop", "caller", "varargs", "kwargs"}  # what Jinja defines itself

    def check(self, tree: nodes.Template) -> Iterator[str]:
        for node in tree.find_all(nodes.Name):
            if node.ctx in ("store", "param"):
                self.local.add(node.name)
        yield from self._visit(tree)

    def _visit(self, node: nodes.Node) -> Iterator[str]:
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            chain = _chain(node)
            if chain is not None:
                base, path, inner = chain
                yield from self._path(base, path)
                for child in inner:
                    yield from self._visit(child)
                return
        if (
            isinstance(node, nodes.Name)
            and node.ctx == "load"
            and node.name not in ROOTS
            and node.name not in self.local
            and node.name not in self.env.globals
        ):
            yield f"line {node.lineno}: unknown variable {node.name}"
        if isinstance(node, nodes.Filter) and node.name not in self.env.filters:
            yield f"line {node.lineno}: unknown filter {node.name}"
        if isinstance(node, nodes.Test) and node.name not in self.env.tests:
            yield f"line {node.lineno}: unknown test {node.name}"
        for child in node.iter_child_nodes():
            yield from self._visit(child)

    def _path(self, base: nodes.Name, path: list[str | None]) -> Iterator[str]:
        name = base.name
        if name in self.local:
            return
        if name not in ROOTS:
            yield f"line {base.lineno}: unknown variable {name}"
            return
        attributes = ROOTS[name]
        first = path[0]
        if first is None:  # person[some_expression]: cannot be checked, so not allowed
            yield f"line {base.lineno}: {name} is read by a fixed attribute name only"
        elif attributes is None or first not in attributes:
            yield f"line {base.lineno}: unknown variable {name}.{first}"
        elif name == "person" and first == "custom_fields" and len(path) > 1 and path[1] is None:
            yield f"line {base.lineno}: person.custom_fields is read by a fixed key only"


def _chain(node: nodes.Getattr | nodes.Getitem) -> tuple[nodes.Name, list[str | None], list[nodes.Node]] | None:
    """For `a.b["c"].d`: (Name a, ["b", "c", "d"], the nodes of non-constant subscripts); None
    when the chain does not start at a name (e.g. a call's result)."""
    path: list[str | None] = []
    inner: list[nodes.Node] = []
    current: nodes.Node = node
    while isinstance(current, (nodes.Getattr, nodes.Getitem)):
        if isinstance(current, nodes.Getattr):
            path.append(current.attr)
        elif isinstance(current.arg, nodes.Const) and isinstance(current.arg.value, str):
            path.append(current.arg.value)
        else:
            path.append(None)
            inner.append(current.arg)
        current = current.node
    if not isinstance(current, nodes.Name):
        return None
    path.reverse()
    return current, path, inner


# -- rendering -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    body_text: str
    body_html: str | None
    sms_parts: int | None  # SMS only
    whatsapp_parameters: tuple[str, ...] | None  # WhatsApp only


class RenderError(ValueError):
    """A template that passed validation failed on this person's data (e.g. a custom field the
    person lacks, a value `jalali` cannot read): `field` names the part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


RTL_LANGUAGES = frozenset({"fa", "ar", "he", "ur", "ps", "ckb"})
_HTML_TAG = re.compile(r"(<html\b)([^>]*)>", re.IGNORECASE)


def is_rtl(locale: str) -> bool:
    return locale.split("-")[0].split("_")[0].lower() in RTL_LANGUAGES


def with_direction(html: str, locale: str) -> str:
    """HTML in a right-to-left language carries `lang` and `dir="rtl"`: added to its <html> tag
    (attributes already there are kept), or a fragment wrapped in <html><body>."""
    if not is_rtl(locale):
        return html
    match = _HTML_TAG.search(html)
    if match is None:
        return f'<html lang="{locale}" dir="rtl"><body>{html}</body></html>'
    tag, attributes = match.group(1), match.group(2)
    added = ""
    if not re.search(r"\slang\s*=", attributes, re.IGNORECASE):
        added += f' lang="{locale}"'
    if not re.search(r"\sdir\s*=", attributes, re.IGNORECASE):
        added += ' dir="rtl"'
    return html[: match.start()] + f"{tag}{attributes}{added}>" + html[match.end() :]


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool) -> Template:
    """A template's source compiled once (a campaign renders one template for thousands of people)."""
    return (_HTML if html else _TEXT).from_string(source)


def _render_one(field: str, source: str, variables: Mapping[str, Any], *, html: bool) -> str:
    try:
        rendered = _compiled(source, html).render(variables)
    except TemplateError as exc:
        raise RenderError(field, f"cannot render: {exc.message or exc}") from exc
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise RenderError(field, f"cannot render: {exc}") from exc
    if len(rendered) > MAX_RENDERED:
        raise RenderError(field, f"renders to more than {MAX_RENDERED} characters")
    return rendered


def render_text(source: str, variables: Mapping[str, Any], *, field: str = "text") -> str:
    """One piece of plain text (a task's title) rendered in the sandbox; raises RenderError."""
    return _render_one(field, source, variables, html=False)


def render(content: Content, variables: Mapping[str, Any], *, locale: str) -> Rendered:
    """The content rendered for one person's variables (see `CATALOGUE`); raises RenderError."""
    subject = (
        _render_one("subject", content.subject, variables, html=False).strip() if content.subject is not None else None
    )
    body_text = _render_one("body_text", content.body_text, variables, html=False)
    body_html = None
    if content.body_html is not None:
        body_html = with_direction(_render_one("body_html", content.body_html, variables, html=True), locale)
    parameters = None
    if content.whatsapp_template is not None:
        parameters = tuple(
            _render_one(f"whatsapp_template.parameters.{i}", _parameter_source(p), variables, html=False)
            for i, p in enumerate(content.whatsapp_template.parameters)
        )
    sms_parts = sms_length(body_text).parts if content.channel == ChannelType.SMS else None
    return Rendered(subject, body_text, body_html, sms_parts, parameters)


# -- SMS length --------------------------------------------------------------------------------

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")  # each sent as ESC + the character: 2 septets


@dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: str  # "gsm7" | "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int


GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def sms_length(text: str) -> SmsLength:
    """How the network counts a text: GSM-7 when every character is in its alphabet (extension
    characters take 2 septets; 160 in one message, 153 a part when concatenated), else UCS-2 (70 in
    one message, 67 a part; a character outside the BMP is 2 units). A part never splits an
    escape pair or a surrogate pair, so a character that does not fit starts the next part."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return SmsLength("gsm7", sum(costs), _parts(costs, GSM7_SINGLE, GSM7_PART))
    costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SmsLength("ucs2", sum(costs), _parts(costs, UCS2_SINGLE, UCS2_PART))


def _parts(costs: Sequence[int], single: int, part: int) -> int:
    total = sum(costs)
    if total <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return max(parts, math.ceil(total / part))
