"""The messaging policy: what a workspace allows before anything is sent (consent for marketing,
quiet hours in the recipient's zone, a frequency cap), the opt-out keywords a reply may be, and
how two people's consents merge. Pure: time is passed in."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.outreach.vocabulary import ConsentStatus


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times of day between which no marketing message goes out: [start, end), in the
    recipient's zone; a window whose start is after its end spans midnight (21:00 -> 09:00)."""

    start: time
    end: time


FrequencyCapAction = Literal["wait", "skip"]


@dataclass(frozen=True, slots=True)
class MessagingPolicy:
    marketing_requires_opt_in: bool = True
    quiet_hours: QuietHours | None = QuietHours(time(21, 0), time(9, 0))
    marketing_per_7_days: int | None = 3
    frequency_cap_action: FrequencyCapAction = "wait"
    tracking: bool = True
    double_opt_in: bool = True
    opt_out_keywords: tuple[str, ...] = ()


# -- quiet hours -----------------------------------------------------------------------------------


def _inside(local: time, quiet: QuietHours) -> bool:
    if quiet.start == quiet.end:
        return False  # an empty window: never quiet
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """The local wall-clock reading of an instant, without its zone."""
    return instant.astimezone(tz).replace(tzinfo=None)


def first_instant_at(wall: datetime, tz: ZoneInfo, not_before: datetime) -> datetime:
    """The first UTC instant, not before `not_before`, at which the local clock in `tz` reads
    `wall` or later (the wall time is naive).

    A wall time that exists once is that instant. One the clock skips (spring forward, e.g. 02:30
    in America/New_York on the second Sunday of March) is never read: the answer is the transition
    itself, the first instant after it (03:00 EDT). One the clock reads twice (fall back) is its
    first reading (fold 0, the earlier offset), unless that was before `not_before`: then the
    second (fold 1)."""
    earlier = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    later = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if _wall(earlier, tz) == wall and _wall(later, tz) == wall:  # exists (once or twice)
        for candidate in sorted({earlier, later}):
            if candidate >= not_before:
                return candidate
        return max(earlier, later)
    # In a gap: fold 0 reads the time with the offset before the jump (an instant after the jump),
    # fold 1 with the offset after it (an instant before). The jump lies between: find it to the second.
    low, high = min(earlier, later), max(earlier, later)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if _wall(middle, tz) >= wall:
            high = middle
        else:
            low = middle
    return max(high, not_before)


def quiet_until(now_utc: datetime, tz: ZoneInfo, quiet: QuietHours) -> datetime | None:
    """When `now_utc` falls inside the quiet window in the recipient's zone `tz`, the UTC instant
    the window ends (the first instant the local clock reads `quiet.end`, see `first_instant_at`
    for days the clock skips or repeats that time); else None. The window is [start, end): at
    exactly `start` it is quiet, at exactly `end` it is not. A window whose start equals its end
    is empty."""
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must carry its offset")
    local = _wall(now_utc, tz)
    if not _inside(local.time(), quiet):
        return None
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)  # the window spans midnight: it ends tomorrow
    end = datetime.combine(day, quiet.end)
    return first_instant_at(end, tz, now_utc.astimezone(UTC))


# -- opt-out keywords ------------------------------------------------------------------------------

# Twilio's standard opt-out keywords (its Messaging default list), and Persian "cancel".
STANDARD_OPT_OUT_KEYWORDS: tuple[str, ...] = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "لغو",
)

# Arabic letters Persian text is often typed with, as their Persian forms.
_LETTERS = str.maketrans(
    {
        "\u064a": "\u06cc",  # Arabic yeh -> Farsi yeh
        "\u0649": "\u06cc",  # alef maksura -> Farsi yeh
        "\u0643": "\u06a9",  # Arabic kaf -> keheh
        "\u0629": "\u0647",  # teh marbuta -> heh
    }
)
# Joiners, marks and the tatweel that change how a word looks, not which word it is.
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
_SPACES = re.compile(r"\s+")


def normalise_keyword(text: str) -> str:
    """A message as keywords are compared: NFKC, Arabic yeh/kaf as Persian, joiners (ZWNJ) and
    diacritics dropped, punctuation trimmed from both ends, every space dropped (`STOP ALL` is
    `STOPALL`; a ZWNJ or a space between Persian words is the same word), case folded."""
    folded = unicodedata.normalize("NFKC", text).translate(_LETTERS)
    folded = _INVISIBLE.sub("", folded)
    folded = _EDGE.sub("", folded.strip())
    return _SPACES.sub("", folded).casefold()


def is_opt_out_keyword(text: str, extra: Sequence[str] = ()) -> bool:
    """Whether the whole message (trimmed) is an opt-out keyword: the standard list or the
    workspace's own `extra` ones, compared after `normalise_keyword`."""
    said = normalise_keyword(text)
    if not said:
        return False
    return any(said == normalise_keyword(keyword) for keyword in (*STANDARD_OPT_OUT_KEYWORDS, *extra))


# -- merging ---------------------------------------------------------------------------------------

_PRECEDENCE = (
    ConsentStatus.OPTED_OUT,
    ConsentStatus.OPTED_IN,
    ConsentStatus.PENDING_CONFIRMATION,
    ConsentStatus.UNKNOWN,
)


def merge_consent(statuses: Iterable[ConsentStatus | str]) -> ConsentStatus:
    """The consent of people merged into one: an opt-out wins over anything, then an opt-in, then
    a pending confirmation; nothing known is `unknown`."""
    present = {ConsentStatus(s) for s in statuses}
    for status in _PRECEDENCE:
        if status in present:
            return status
    return ConsentStatus.UNKNOWN
