"""A launched campaign, pure: who is held out, who is in the pilot and which variant each recipient
gets (all from one recorded seed), when each recipient's message is due, when a pilot pauses the
campaign, and how its links are tagged.

Assignment (`assign`). Every recipient gets three numbers in [0, 1) from BLAKE2b of the seed and
their id (one per draw: holdout, variant, pilot). The audience is then ordered by each number in
turn and cut into exact shares, so a 10% holdout of 1,000 recipients is 100 people, and variants
get their weights' shares by the largest remainder. The same seed and the same audience give the
same assignment, whatever order the audience was read in; another seed gives an independent one.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID
from zoneinfo import ZoneInfo

HOLDOUT = "holdout"
MAX_SEED = 2**62


@dataclass(frozen=True, slots=True)
class Assignment:
    person_id: UUID
    arm: str  # a variant's name, or HOLDOUT
    pilot: bool


def draw(seed: int, person_id: UUID, purpose: str) -> float:
    """A uniform number in [0, 1) for this person, seed and purpose."""
    digest = hashlib.blake2b(f"{seed}:{purpose}:".encode() + person_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def shares(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split by `weights` into whole numbers that add up to it (largest remainder; ties to
    the earlier weight)."""
    whole = sum(weights)
    if total <= 0 or whole <= 0:
        return [0] * len(weights)
    exact = [total * w / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def assign(
    seed: int,
    people: Sequence[UUID],
    *,
    holdout_percent: int,
    variants: Sequence[tuple[str, float]],
    pilot: Mapping[str, object] | None,
) -> list[Assignment]:
    """Each person's arm and pilot flag (see the module). The holdout is `holdout_percent` of the
    audience (rounded to the nearest person, half up); the pilot is `pilot.percent` of the others (rounded
    up, at least one when the percent is above 0) or `pilot.count` of them, taken across variants
    alike. Holdout recipients are never in the pilot."""
    unique = sorted(set(people))
    by_holdout = sorted(unique, key=lambda p: (draw(seed, p, "holdout"), p))
    held = (len(unique) * holdout_percent * 2 + 100) // 200  # rounded half up
    holdout, rest = by_holdout[:held], by_holdout[held:]
    by_variant = sorted(rest, key=lambda p: (draw(seed, p, "variant"), p))
    arms: dict[UUID, str] = {p: HOLDOUT for p in holdout}
    start = 0
    for (name, _), count in zip(variants, shares(len(by_variant), [w for _, w in variants]), strict=True):
        for person in by_variant[start : start + count]:
            arms[person] = name
        start += count
    in_pilot: set[UUID] = set()
    size = pilot_size(len(rest), pilot)
    if size:
        in_pilot = set(sorted(rest, key=lambda p: (draw(seed, p, "pilot"), p))[:size])
    return [Assignment(p, arms[p], p in in_pilot) for p in unique]


def pilot_size(senders: int, pilot: Mapping[str, object] | None) -> int:
    if not pilot:
        return 0
    if pilot.get("count") is not None:
        return min(senders, int(str(pilot["count"])))
    percent = float(str(pilot.get("percent") or 0))
    return min(senders, math.ceil(senders * percent / 100)) if percent > 0 else 0


def starts_at(send_at: Mapping[str, str] | None, launched: datetime) -> datetime:
    """When sending begins: the instant asked for, the earliest time zone's local time on the date
    (UTC+14), or at launch. Never before launch."""
    if not send_at:
        return launched
    if send_at.get("at"):
        return max(datetime.fromisoformat(send_at["at"]), launched)
    earliest = local_send_at(send_at, "Pacific/Kiritimati")  # the first time zone to reach a date
    return max(earliest, launched)


def local_send_at(send_at: Mapping[str, str], zone: str) -> datetime:
    """`{"date", "local_time"}` in this time zone, as an instant (a wall time skipped by a clock
    change moves forward with it)."""
    day = date.fromisoformat(send_at["date"])
    hour, minute = (int(x) for x in send_at["local_time"].split(":"))
    local = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))
    return local.astimezone(ZoneInfo("UTC"))


def recipient_send_at(send_at: Mapping[str, str] | None, zone: str | None, start: datetime, now: datetime) -> datetime:
    """One recipient's due time: their own local time (the workspace's zone, else UTC, when they
    have none), else the campaign's start; never in the past."""
    if send_at and send_at.get("date"):
        return max(local_send_at(send_at, zone or "UTC"), now)
    return max(start, now)


@dataclass(frozen=True, slots=True)
class PilotFigures:
    sent: int  # pilot messages that went (sent, delivered, bounced...)
    unsubscribed: int
    complained: int

    @property
    def unsubscribe_rate(self) -> float:
        return self.unsubscribed / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complained / self.sent if self.sent else 0.0


def pause_reason(figures: PilotFigures, auto_pause: Mapping[str, float] | None) -> dict[str, object] | None:
    """Why the pilot pauses the campaign (None: it goes on): an unsubscribe or complaint rate past
    its limit (strictly above), with the figures."""
    if not auto_pause or not figures.sent:
        return None
    crossed = []
    limit = auto_pause.get("max_unsubscribe_rate")
    if limit is not None and figures.unsubscribe_rate > float(limit):
        crossed.append("unsubscribe_rate")
    limit = auto_pause.get("max_complaint_rate")
    if limit is not None and figures.complaint_rate > float(limit):
        crossed.append("complaint_rate")
    if not crossed:
        return None
    return {
        "reason": "pilot_" + "_and_".join(crossed),
        "crossed": crossed,
        "pilot_sent": figures.sent,
        "unsubscribed": figures.unsubscribed,
        "complained": figures.complained,
        "unsubscribe_rate": round(figures.unsubscribe_rate, 6),
        "complaint_rate": round(figures.complaint_rate, 6),
        "limits": {k: auto_pause.get(k) for k in ("max_unsubscribe_rate", "max_complaint_rate")},
    }


def rest_due(pilot_started: datetime, wait_hours: float) -> datetime:
    return pilot_started + timedelta(hours=wait_hours)


def utm_campaign(name: str) -> str:
    """The campaign's name as `utm_campaign`: lower case, words joined by hyphens."""
    words = "".join(ch if ch.isalnum() else " " for ch in name.casefold()).split()
    return "-".join(words)[:100] or "campaign"


def tag_url(url: str, *, campaign: str, content: str, medium: str) -> str:
    """A web link with `utm_source=crm`, `utm_medium`, `utm_campaign` and `utm_content` added; tags
    the link already carries are kept (a link tagged by hand says what it means)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    wanted = {"utm_source": "crm", "utm_medium": medium, "utm_campaign": campaign, "utm_content": content}
    query += [(k, v) for k, v in wanted.items() if k not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


_HREF = re.compile(r"""(href\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_URL = re.compile(r"""https?://[^\s<>"']+""")
_TRAILING = ".,;:!?)]}"


def tag_html(body: str, tag: Callable[[str], str]) -> str:
    """Every link target of an HTML body passed through `tag` (HTML-escaped as it was)."""

    def replace(match: re.Match[str]) -> str:
        url = html.unescape(match.group(3))
        tagged = tag(url)
        if tagged == url:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{html.escape(tagged, quote=True)}{match.group(2)}"

    return _HREF.sub(replace, body)


def tag_text(body: str, tag: Callable[[str], str]) -> str:
    """Every web address of a plain-text body passed through `tag` (a sentence's closing
    punctuation after it left out of it)."""

    def replace(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = ""
        while url and url[-1] in _TRAILING:
            url, trail = url[:-1], url[-1] + trail
        return tag(url) + trail

    return _URL.sub(replace, body)
