"""The leads context's retention classes, a page at a time (the nightly `retention.enforce` job
drives them: app/services/workspace/retention.py): form submissions lose their raw fields, IP and
user agent; archived leads that never converted are anonymised."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.domain.leads import retention as rules
from app.domain.workspace.retention import Swept, Window, cursor, earliest, position, timestamp
from app.services.audit import audit
from app.services.context import Context
from app.services.events import events

# An anonymised lead's events are redacted this many at a time (a lead has tens).
REDACT_PAGE = 500


async def clear_submissions(ctx: Context, window: Window, after: list[Any] | None, limit: int) -> Swept:
    """One page of submissions created in the window: their raw `fields` emptied and the IP and user
    agent taken out of `meta` (the submission, its lead, form, time, spam flag and the consent texts
    stay). Read form by form, spam and not, along the index the forms' lists use (workspace_id,
    form_id, spam, created_at, id), so the hot insert of a submission carries no index for this.
    `after`: [form id, spam, time, id] of the page before, or a form's start."""
    start = _segment(after)
    for form_id in await ctx.forms.every_id():
        for spam in (False, True):
            if start is not None and (form_id, spam) < start[:2]:
                continue
            from_row = start[2] if start is not None and (form_id, spam) == start[:2] else None
            rows = await ctx.submissions.aging(
                form_id, spam, start=window.start, end=window.end, after=from_row, limit=limit
            )
            if not rows:
                continue
            changes = []
            for row in rows:
                cleared = rules.cleared_submission(row["fields"], row["meta"])
                if cleared is not None:
                    changes.append({"id": row["id"], "fields": cleared[0], "meta": cleared[1]})
            await ctx.submissions.rewrite(changes)
            last = rows[-1]
            return Swept(len(changes), [str(form_id), spam, timestamp(last["created_at"]), str(last["id"])])
    return Swept(0, None)


def _segment(after: Any) -> tuple[UUID, bool, Any] | None:
    """The (form id, spam, (time, id) | None) a page of submissions starts after."""
    if not isinstance(after, list) or len(after) != 4 or not isinstance(after[1], bool):
        return None
    try:
        form_id = UUID(after[0])
    except (TypeError, ValueError):
        return None
    return form_id, after[1], position(after[2:])


async def anonymise_leads(ctx: Context, window: Window, after: list[Any] | None, limit: int) -> Swept:
    """One page of leads archived in the window: each that never converted (never qualified, no
    contact, account or opportunity) and still holds personal data is anonymised (`rules.ANONYMISED`:
    a new version, no event: an event would carry the data it removes), the automatic merges that
    name it are deleted (their documents hold its fields: they can no longer be undone), the
    events about it redacted and the personal values of the audit log's entries about it erased.
    A lead merged away while its merge can still be undone is left for a later night (it holds the
    pass's mark back). The lead row stays, so every report counts it as before."""
    rows = await ctx.leads.archived_aging(start=window.start, end=window.end, after=position(after), limit=limit)
    if not rows:
        return Swept(0, None)
    held = None
    due = []
    for lead in rows:
        if not rules.never_converted(lead) or not rules.identified(lead):
            continue
        if rules.merge_undoable(lead, window.as_of):
            held = earliest(held, lead["archived_at"])
            continue
        due.append(lead["id"])
    values = {**rules.ANONYMISED, "updated_at": ctx.now, "updated_by": str(ctx.actor)}
    anonymised = await ctx.leads.anonymise(due, window.end, values)
    await ctx.lead_merges.forget(anonymised)
    for lead_id in anonymised:
        while await events.redact(ctx, str(lead_id), REDACT_PAGE) == REDACT_PAGE:
            pass
    # The audit log's entries about them keep their chained diffs (masked) but lose the values.
    await audit.erase_personal_of(ctx, "leads", anonymised)
    last = rows[-1]
    return Swept(len(anonymised), cursor(last["archived_at"], last["id"]), held)
