"""A digest email: a short summary of one report for the members a schedule names, in the
workspace's language (Persian, right to left, for a `fa` workspace), with the report's chart
inline. Pure: the figures' lines and the chart's bytes are passed in.

The chart is written into the HTML as a `data:image/png;base64,` image; the email on the wire
carries it as a related part (`multipart/related`) that the HTML references by `cid:`, which
mail clients show where they block data URLs (app/domain/outreach/messages.py: build_email)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from app.domain.outreach.templates import with_direction

_WORDS = {
    "en": {"range": "{first} to {last}", "footer": "A scheduled digest of the workspace {workspace}.",
           "chart": "Chart"},
    "fa": {"range": "{first} تا {last}", "footer": "گزارش زمان‌بندی‌شدهٔ فضای کاری {workspace}.", "chart": "نمودار"},
}  # fmt: skip


@dataclass(frozen=True)
class DigestContent:
    subject: str
    body_text: str
    body_html: str


def compose(
    *,
    name: str,
    title: str,
    workspace: str,
    first: str,
    last: str,
    lines: Sequence[tuple[str, str]],
    chart: bytes | None,
    locale: str,
) -> DigestContent:
    """The digest of one occurrence. `name` is the schedule's, `title` the report's in the
    locale, `first` and `last` the covered days as people read them, `lines` the figures as
    (label, value), `chart` a PNG. One day (`first` == `last`) is named alone."""
    words = _WORDS.get(locale, _WORDS["en"])
    covered = first if first == last else words["range"].format(first=first, last=last)
    subject = " ".join(f"{name} · {title} · {covered}".split())
    text = "\n".join(
        [name, f"{title}: {covered}", "", *(f"{label}: {value}" for label, value in lines), "",
         words["footer"].format(workspace=workspace)]
    )  # fmt: skip
    rows = "".join(
        f'<tr><td style="padding:4px 12px">{escape(label)}</td>'
        f'<td style="padding:4px 12px;font-weight:bold">{escape(value)}</td></tr>'
        for label, value in lines
    )
    image = ""
    if chart is not None:
        data = base64.b64encode(chart).decode("ascii")
        image = f'<p><img src="data:image/png;base64,{data}" alt="{escape(words["chart"])}" width="640"></p>'
    html = (
        '<html><body style="font-family:Tahoma,Arial,sans-serif">'
        f"<h2>{escape(name)}</h2><p>{escape(title)}: {escape(covered)}</p>"
        f"<table>{rows}</table>{image}"
        f'<p style="font-size:12px;color:#666">{escape(words["footer"].format(workspace=workspace))}</p>'
        "</body></html>"
    )
    return DigestContent(subject=subject, body_text=text + "\n", body_html=with_direction(html, locale))
