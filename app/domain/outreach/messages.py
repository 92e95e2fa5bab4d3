"""Messages: whether one may go at all (its basis), when it may go (the frequency cap), what an
email looks like on the wire (MIME with the one-click unsubscribe headers), and how its links are
tracked. Pure: time and the URL makers are passed in."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from html import escape

from app.domain.outreach.vocabulary import BlockReason, ConsentStatus, MessageStatus, Purpose

CAP_WINDOW = timedelta(days=7)

# Statuses a message never leaves, and those a delivery report may still move it from.
FINAL = frozenset({MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.BOUNCED, MessageStatus.BLOCKED})
# Statuses of a message that may still be sent: its rendered content is needed until it leaves them.
UNSENT = frozenset({MessageStatus.QUEUED, MessageStatus.SENDING})


def may_be_sent_again(status: str, lookup_at: datetime | None) -> bool:
    """Queued or being sent, or `unknown` at a provider the worker will still ask (`lookup_at`): a
    message whose rendered subject and bodies must stay (retention clears the others')."""
    return status in UNSENT or (status == MessageStatus.UNKNOWN and lookup_at is not None)


# A delivery report may only move a message forward: sent → delivered, never delivered → sent.
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.UNKNOWN: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.FAILED: 4,
    MessageStatus.BOUNCED: 4,
    MessageStatus.BLOCKED: 4,
}


def block_reason(
    *,
    purpose: Purpose,
    consent: ConsentStatus,
    marketing_requires_opt_in: bool,
    suppressed: bool,
    address_valid: bool,
    channel_present: bool,
) -> BlockReason | None:
    """Why a message may not go, or None. In order: no channel, no usable address, a suppressed
    address (stops every purpose), then for marketing only the person's consent: opted out, or
    no opt-in where the workspace requires one (pending confirmation is not an opt-in)."""
    if not channel_present:
        return BlockReason.CHANNEL_MISSING
    if not address_valid:
        return BlockReason.INVALID_ADDRESS
    if suppressed:
        return BlockReason.SUPPRESSED
    if purpose is Purpose.MARKETING:
        if consent is ConsentStatus.OPTED_OUT:
            return BlockReason.OPTED_OUT
        if marketing_requires_opt_in and consent is not ConsentStatus.OPTED_IN:
            return BlockReason.NO_CONSENT
    return None


def advances(current: MessageStatus, reported: MessageStatus) -> bool:
    """Whether a delivery report of `reported` moves a message now `current` (reports arrive out of
    order and twice; a final status is never undone, except that `sent` and `unknown` may end
    in any final one, and a delivered message may still bounce late)."""
    if current in (MessageStatus.BLOCKED, MessageStatus.FAILED):
        return False
    if current is MessageStatus.DELIVERED:
        return reported is MessageStatus.BOUNCED
    return _RANK[reported] > _RANK[current]


def first_free_slot(
    wanted: datetime, scheduled: Sequence[datetime], cap: int, window: timedelta = CAP_WINDOW
) -> datetime:
    """The earliest instant at or after `wanted` at which one more message keeps every window of
    `window` length holding at most `cap` messages, given the messages already `scheduled` (sent or
    due) to the same address. With fewer than `cap` of them in reach, `wanted` itself."""
    if cap <= 0:
        raise ValueError("a frequency cap allows at least one message")
    times = sorted(scheduled)
    candidates = sorted({wanted, *(t + window for t in times if t + window > wanted)})
    for candidate in candidates:
        if _fits(candidate, times, cap, window):
            return candidate
    return candidates[-1]  # unreachable: past the last window every slot is free


def _fits(candidate: datetime, times: Sequence[datetime], cap: int, window: timedelta) -> bool:
    """Whether every window containing `candidate` holds fewer than `cap` of `times`: the windows
    that matter start at `candidate - window` (exclusive) up to `candidate`."""
    near = [t for t in times if candidate - window < t < candidate + window]
    starts = [candidate, *(t for t in near if t <= candidate)]
    for start in starts:  # a window [start, start + window) that contains the candidate
        if start + window <= candidate:
            continue
        if sum(1 for t in near if start <= t < start + window) >= cap:
            return False
    return True


# -- tracking -------------------------------------------------------------------------------------

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'\s]+)\2""", re.IGNORECASE)


def track_links(
    html: str, tracked_url: Callable[[int], str], *, untracked: Callable[[str], bool] = lambda _: False
) -> tuple[str, list[str]]:
    """The HTML with every http(s) link of an anchor sent through `tracked_url(position)`, and the
    original targets by position. Other links (mailto: and the like) and those `untracked` says
    (the service's own: unsubscribe) stay as they are."""
    links: list[str] = []

    def swap(match: re.Match[str]) -> str:
        target = _unescape_attribute(match.group(3))
        if untracked(target):
            return match.group(0)
        links.append(target)
        return f"{match.group(1)}{match.group(2)}{escape(tracked_url(len(links) - 1))}{match.group(2)}"

    return _HREF.sub(swap, html), links


# A link in plain text: up to whitespace or an angle bracket, without trailing punctuation.
_TEXT_URL = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}»،؛"


def _text_urls(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _TEXT_URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        found.append((match.start(), match.start() + len(url), url))
    return found


def html_from_text(text: str) -> str:
    """The HTML alternative of an email written as text only: escaped, paragraphs at blank lines,
    line breaks kept, links made anchors (so they can be tracked and clicked in either part)."""
    pieces, last = [], 0
    for start, end, url in _text_urls(text):
        pieces.append(escape(text[last:start]))
        pieces.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        last = end
    pieces.append(escape(text[last:]))
    body = "".join(pieces).strip()
    paragraphs = [p.strip().replace("\n", "<br>\n") for p in re.split(r"\n\s*\n", body) if p.strip()]
    return "<html><body>" + "".join(f"<p>{p}</p>\n" for p in paragraphs) + "</body></html>"


def track_text_links(
    text: str,
    tracked_url: Callable[[int], str],
    links: list[str],
    *,
    untracked: Callable[[str], bool] = lambda _: False,
) -> str:
    """The text with every http(s) link sent through `tracked_url(position)`: the position of the
    same target in `links` (the HTML part's, so a link counts as one whichever part was read), a
    new one appended to `links` otherwise. Links `untracked` says (the service's own) stay."""
    pieces, last = [], 0
    for start, end, url in _text_urls(text):
        if untracked(url):
            continue
        if url not in links:
            links.append(url)
        pieces.append(text[last:start])
        pieces.append(tracked_url(links.index(url)))
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _unescape_attribute(value: str) -> str:
    return value.replace("&amp;", "&")


def with_open_pixel(html: str, pixel_url: str) -> str:
    """The HTML with a one-pixel image at `pixel_url` at the end of its body."""
    pixel = f'<img src="{escape(pixel_url)}" width="1" height="1" alt="" style="display:none">'
    closing = re.search(r"</body\s*>", html, re.IGNORECASE)
    if closing is None:
        return html + pixel
    return html[: closing.start()] + pixel + html[closing.start() :]


def unsubscribe_footer(text: str, url: str, locale: str) -> str:
    """The visible unsubscribe line a marketing text carries (when its template has none)."""
    line = f"لغو اشتراک: {url}" if locale == "fa" else f"Unsubscribe: {url}"
    return f"{text.rstrip()}\n\n{line}\n"


def unsubscribe_html(html: str, url: str, locale: str) -> str:
    label = "لغو اشتراک" if locale == "fa" else "Unsubscribe"
    link = f'<p style="font-size:12px"><a href="{escape(url)}">{label}</a></p>'
    closing = re.search(r"</body\s*>", html, re.IGNORECASE)
    if closing is None:
        return html + link
    return html[: closing.start()] + link + html[closing.start() :]


# -- email on the wire ----------------------------------------------------------------------------


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, each header's class made once. The standard one makes a new
    class for every header it creates (`type(...)` in `HeaderRegistry.__getitem__`), some thirty
    per email. A class is a reference cycle, freed only by the cyclic garbage collector, which the
    worker runs rarely (app/__main__.py `_tune_gc`): a worker sending thousands of emails held tens
    of thousands of dead classes, about 70 MB a thousand emails. Keyed by the header's kind (its
    specialised class), not its name: any header names make at most one class per kind."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[tuple[type, type], type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        kind = self.registry.get(name.lower(), self.default_class)
        made = self._made.get((kind, self.base_class))
        if made is None:
            made = self._made[(kind, self.base_class)] = super().__getitem__(name)
        return made


# SMTP's policy (CRLF line endings, the standard headers), with each header's class made once.
WIRE_POLICY = SMTP.clone(header_factory=_HeaderClasses())


@dataclass(frozen=True, slots=True)
class EmailParts:
    from_email: str
    from_name: str | None
    to: str
    subject: str
    body_text: str
    body_html: str | None
    reply_to: str | None = None
    unsubscribe_url: str | None = None  # marketing: List-Unsubscribe with One-Click (RFC 8058)
    unsubscribe_mailto: str | None = None


def build_email(parts: EmailParts, *, now: datetime, message_id: str | None = None) -> tuple[bytes, str]:
    """The email as bytes (text and HTML alternatives, UTF-8) and its Message-ID."""
    email = EmailMessage(policy=WIRE_POLICY)
    email["From"] = formataddr((parts.from_name or "", parts.from_email)) if parts.from_name else parts.from_email
    email["To"] = parts.to
    email["Subject"] = parts.subject
    email["Date"] = format_datetime(now)
    domain = parts.from_email.rpartition("@")[2] or None
    message_id = message_id or make_msgid(domain=domain)
    email["Message-ID"] = message_id
    if parts.reply_to:
        email["Reply-To"] = parts.reply_to
    if parts.unsubscribe_url:
        targets = [f"<{parts.unsubscribe_url}>"]
        if parts.unsubscribe_mailto:
            targets.append(f"<mailto:{parts.unsubscribe_mailto}?subject=unsubscribe>")
        email["List-Unsubscribe"] = ", ".join(targets)
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(parts.body_text, charset="utf-8")
    if parts.body_html:
        html, images = inline_images(parts.body_html, domain or "localhost")
        email.add_alternative(html, subtype="html", charset="utf-8")
        if images:
            html_part = email.get_body(("html",))
            assert isinstance(html_part, EmailMessage)
            for image in images:  # the HTML part becomes multipart/related: the HTML, then its images
                html_part.add_related(image.data, maintype="image", subtype=image.subtype, cid=f"<{image.cid}>",
                                      disposition="inline", filename=image.filename)  # fmt: skip
    return email.as_bytes(), message_id


@dataclass(frozen=True, slots=True)
class InlineImage:
    cid: str  # without the angle brackets: the HTML says `cid:<this>`
    subtype: str  # png | jpeg | gif
    data: bytes

    @property
    def filename(self) -> str:
        return f"{self.cid.partition('@')[0]}.{'jpg' if self.subtype == 'jpeg' else self.subtype}"


# An <img> whose source is a base64 data URL of a PNG, JPEG or GIF image.
_DATA_IMAGE = re.compile(
    r"""(<img\b[^>]*?\bsrc\s*=\s*)(["'])data:image/(png|jpeg|gif);base64,([A-Za-z0-9+/=\s]+)\2""", re.IGNORECASE
)


def inline_images(html: str, domain: str) -> tuple[str, list[InlineImage]]:
    """The HTML with each `<img src="data:image/…;base64,…">` pointing at `cid:` instead, and the
    images to attach as related parts (mail clients show those; many block data URLs). A
    Content-ID is the image's digest at the sender's domain, the same on every attempt; an image
    used twice is attached once. A data URL that is not valid base64 is left as it is."""
    images: dict[str, InlineImage] = {}

    def swap(match: re.Match[str]) -> str:
        try:
            data = base64.b64decode("".join(match.group(4).split()), validate=True)
        except (binascii.Error, ValueError):
            return match.group(0)
        cid = f"img-{hashlib.sha256(data).hexdigest()[:20]}@{domain}"
        images.setdefault(cid, InlineImage(cid, match.group(3).lower(), data))
        return f"{match.group(1)}{match.group(2)}cid:{cid}{match.group(2)}"

    return _DATA_IMAGE.sub(swap, html), list(images.values())
