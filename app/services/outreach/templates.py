"""Message templates: create, change (each change of content kept as a version), archive, list;
render one for a person (`render_for`, `render_inline`) with the variables of the catalogue
(`variables_of`), and preview it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.concurrency import check_if_match
from app.domain.errors import Conflict, ErrorList, Forbidden, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.outreach import templates as domain
from app.domain.outreach.templates import Content, Rendered, RenderError, WhatsAppTemplate
from app.domain.outreach.vocabulary import ChannelType, PersonRef
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.outreach.templates import PreviewRead, TemplateRead
from app.services.context import Context, changed_fields, write_changes
from app.services.events import events
from app.services.leads import sensitive
from app.services.outreach.reads import Reads
from app.services.workspace import workspaces

CONTENT_FIELDS = ("locale", "subject", "body_text", "body_html", "whatsapp_template")
# What a preview renders for `unsubscribe_url`: a placeholder (`.invalid` never resolves).
PREVIEW_UNSUBSCRIBE_URL = "https://unsubscribe.invalid/preview"


def shown(row: Mapping[str, Any], channel: str | None = None) -> Row:
    """A template (or one of its versions) as the API shows it: with `sms_parts`, the parts an
    SMS template's raw text takes."""
    is_sms = (channel or row.get("channel")) == ChannelType.SMS
    return {**row, "sms_parts": domain.sms_length(row["body_text"]).parts if is_sms else None}


def _read(row: Mapping[str, Any]) -> TemplateRead:
    return TemplateRead.model_validate(shown(row))


def content_of(channel: str, row: Mapping[str, Any]) -> Content:
    """The content of a template or version row (or of values about to be written)."""
    whatsapp = row.get("whatsapp_template")
    return Content(
        channel=ChannelType(channel),
        body_text=row["body_text"],
        subject=row.get("subject"),
        body_html=row.get("body_html"),
        whatsapp_template=WhatsAppTemplate.of(whatsapp) if whatsapp is not None else None,
    )


async def default_locale(ctx: Context) -> str:
    """`fa` for a workspace whose default region is Iran, else `en`."""
    return "fa" if (await workspaces.get(ctx)).get("default_region") == "IR" else "en"


async def _prepare(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    """The columns to write, after the merged content passed validation (422s naming the field
    and the line)."""
    prepared = dict(values)
    if current is None:
        if prepared.get("locale") is None:
            prepared["locale"] = await default_locale(ctx)
        channel = prepared["channel"] = str(ChannelType(prepared["channel"]))
    else:
        channel = current["channel"]
    merged = {**(current or {}), **prepared}
    domain.validate(content_of(channel, merged))
    return prepared


async def get(ctx: Context, template_id: UUID) -> Row:
    row = await ctx.templates.get(template_id)
    if row is None:
        raise NotFound("no template with this id")
    return row


async def get_shown(ctx: Context, template_id: UUID) -> Row:
    return shown(await get(ctx, template_id))


async def create(ctx: Context, values: dict[str, Any]) -> Row:
    prepared = await _prepare(ctx, values, None)
    row = await ctx.templates.create({"id": new_id(), **prepared, **ctx.audit_new()})
    await ctx.templates.add_version(row)
    await events.record(ctx, types.TEMPLATE_CREATED, _read(row))
    return shown(row)


async def update(ctx: Context, template_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> Row:
    """Every real change is a new version (the ETag); each version's content is kept."""
    row = await get(ctx, template_id)
    check_if_match(if_match, row["version"])
    if row["archived_at"] is not None:
        raise Conflict("the template is archived")
    values = changed_fields(row, await _prepare(ctx, changes, row))
    if not values:
        return shown(row)
    updated: Row = await write_changes(ctx, row, values, _updater(ctx, template_id), if_match=if_match)
    await ctx.templates.add_version(updated)
    await events.record(ctx, types.TEMPLATE_UPDATED, _read(updated), previous=_read(row))
    return shown(updated)


def _updater(ctx: Context, template_id: UUID) -> Any:
    async def update(version: int, values: dict[str, Any]) -> Row | None:
        return await ctx.templates.update(template_id, version, values)

    return update


async def archive(ctx: Context, template_id: UUID, *, if_match: str | None) -> Row:
    """Archived: hidden from lists, no longer renders for new messages; its versions stay."""
    row = await get(ctx, template_id)
    check_if_match(if_match, row["version"])
    if row["archived_at"] is not None:
        return shown(row)
    updated: Row = await write_changes(
        ctx, row, {"archived_at": ctx.now}, _updater(ctx, template_id), if_match=if_match
    )
    await ctx.templates.add_version(updated)
    await events.record(ctx, types.TEMPLATE_ARCHIVED, _read(updated), previous=_read(row))
    return shown(updated)


async def list_templates(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, archived: bool = False, channel: str | None = None
) -> Page[Row]:
    page = await ctx.templates.list(sort=sort, cursor=cursor, limit=limit, archived=archived, channel=channel)
    return Page([shown(row) for row in page.rows], page.next_cursor)


async def version(ctx: Context, template_id: UUID, number: int) -> Row:
    template = await get(ctx, template_id)
    row = await ctx.templates.version(template_id, number)
    if row is None:
        raise NotFound(f"the template has no version {number}")
    return {**shown(row, template["channel"]), "updated_at": row["created_at"]}


# -- rendering -------------------------------------------------------------------------------------


async def variables_of(
    ctx: Context, person: PersonRef, unsubscribe_url: str, *, reads: Reads | None = None
) -> dict[str, Any]:
    """The variables a template renders with (`domain.CATALOGUE`) for one lead or contact of this
    workspace (404 for any other). `reads`: what this request has read already (a batch's people,
    its workspace and owners)."""
    reads = reads if reads is not None else Reads(ctx)
    row = await reads.person(person)
    if person.kind == "lead":
        company = row.get("company")
        # A sensitive value never goes into a message (stored, listed, sent through a provider).
        custom_fields = await sensitive.without(ctx, row.get("custom_fields") or {})
    else:
        company = await reads.account_name(row["account_id"]) if row.get("account_id") is not None else None
        custom_fields = {}
    first, last = row.get("first_name"), row.get("last_name")
    fields = {name: row.get(name) for name in domain.PERSON_FIELDS}
    fields.update(
        full_name=" ".join(part for part in (first, last) if part),
        company=company,
        custom_fields=dict(custom_fields),
        recommendations=await reads.recommendations(person),
    )
    owner = {"name": "", "email": ""}
    member = await reads.member(row["owner_id"]) if row.get("owner_id") is not None else None
    if member is not None:
        owner = {"name": member["name"], "email": member["email"]}
    workspace = await reads.workspace()
    return {
        "person": fields,
        "owner": owner,
        "workspace": {"name": workspace["name"]},
        "unsubscribe_url": unsubscribe_url,
    }


def _render(content: Content, variables: Mapping[str, Any], locale: str) -> Rendered:
    try:
        return domain.render(content, variables, locale=locale)
    except RenderError as exc:
        raise InvalidInput.field(exc.field, exc.message) from exc


async def _render_template(
    ctx: Context,
    template: Row,
    person: PersonRef,
    *,
    unsubscribe_url: str,
    version: int | None,
    version_field: str,
    reads: Reads | None = None,
) -> tuple[Rendered, int]:
    source: Mapping[str, Any] = template
    if version is not None and version != template["version"]:
        found = await ctx.templates.version(template["id"], version)
        if found is None:
            raise InvalidInput.field(version_field, f"the template has no version {version}")
        source = found
    variables = await variables_of(ctx, person, unsubscribe_url, reads=reads)
    rendered = _render(content_of(template["channel"], source), variables, source["locale"])
    return rendered, version if version is not None else int(template["version"])


async def render_for(
    ctx: Context,
    template_id: UUID,
    person: PersonRef,
    *,
    unsubscribe_url: str,
    version: int | None = None,
    template: Row | None = None,
    reads: Reads | None = None,
) -> tuple[Rendered, int]:
    """A live template (its current version, or `version`) rendered for a person: the content
    and the version used. 404 for an unknown template or person; 422 naming `template_id` for an
    archived template, `template_version` for a version it never had, the part's field when the
    person's data cannot render (e.g. a custom field the person lacks)."""
    if template is None:  # the caller may have read it already
        template = await get(ctx, template_id)
    if template["archived_at"] is not None:
        raise InvalidInput.field("template_id", "the template is archived")
    return await _render_template(
        ctx, template, person, unsubscribe_url=unsubscribe_url, version=version, version_field="template_version",
        reads=reads,
    )  # fmt: skip


async def render_inline(
    ctx: Context,
    channel: ChannelType,
    person: PersonRef,
    *,
    subject: str | None,
    body_text: str,
    body_html: str | None,
    unsubscribe_url: str,
    reads: Reads | None = None,
) -> Rendered:
    """Content written for one message, checked as a template save is (422s naming `subject`,
    `body_text`, `body_html` and the line), rendered for a person in the workspace's default locale."""
    content = Content(ChannelType(channel), body_text, subject=subject, body_html=body_html)
    errors = ErrorList()
    for field, source, html in domain.sources(content):
        for message in domain.problems(source, html=html):
            errors.add(field, message)
    if content.channel == ChannelType.EMAIL and not subject:
        errors.add("subject", "an email needs a subject")
    if content.channel != ChannelType.EMAIL and body_html is not None:
        errors.add("body_html", "only an email has an HTML body")
    errors.raise_if_any()
    reads = reads if reads is not None else Reads(ctx)
    variables = await variables_of(ctx, person, unsubscribe_url, reads=reads)
    locale = "fa" if (await reads.workspace()).get("default_region") == "IR" else "en"
    return _render(content, variables, locale)


async def preview(
    ctx: Context, template_id: UUID, *, lead_id: UUID | None, contact_id: UUID | None, version: int | None = None
) -> PreviewRead:
    """The template (archived ones too; its current version or `version`) rendered for one lead or
    contact, with a placeholder unsubscribe link; needs the person's read scope as well (403)."""
    if (lead_id is None) == (contact_id is None):
        raise InvalidInput.field("lead_id", "give exactly one of lead_id and contact_id")
    if lead_id is not None:
        person = PersonRef("lead", lead_id)
    else:
        assert contact_id is not None
        person = PersonRef("contact", contact_id)
    if not ctx.allows(f"{person.kind}s:read"):
        raise Forbidden(f"previewing for a {person.kind} needs the {person.kind}s:read scope")
    template = await get(ctx, template_id)
    rendered, _ = await _render_template(
        ctx, template, person, unsubscribe_url=PREVIEW_UNSUBSCRIBE_URL, version=version, version_field="version"
    )
    length = domain.sms_length(rendered.body_text) if template["channel"] == ChannelType.SMS else None
    return PreviewRead(
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        sms_parts=rendered.sms_parts,
        encoding=length.encoding if length is not None else None,
        whatsapp_parameters=list(rendered.whatsapp_parameters) if rendered.whatsapp_parameters is not None else None,
    )
