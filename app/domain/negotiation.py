"""Content negotiation: which of the media types an answer offers an Accept header prefers
(RFC 9110 §12.5.1), pure.

Each offered type takes the quality (`q`, 0 to 1, default 1) of the most specific media range that
matches it (`text/csv` over `text/*` over `*/*`; parameters other than `q` are not compared); a
type that no range matches, or whose range says `q=0`, is not acceptable. The highest quality wins;
among equals, the one matched more specifically (so `text/csv, */*` prefers CSV), then the one
offered first. An empty or missing header, or one without a single well-formed range (`json`,
`text/csv;q=high`), accepts anything: the first offered. Ill-formed ranges beside well-formed ones
are ignored."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_QVALUE = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9a-z-]+$")


@dataclass(frozen=True, slots=True)
class MediaRange:
    type: str  # lower case; "*" for any
    subtype: str
    quality: float

    @property
    def specificity(self) -> int:
        """2 for type/subtype, 1 for type/*, 0 for */*."""
        return 0 if self.type == "*" else 1 if self.subtype == "*" else 2

    def matches(self, media_type: str) -> bool:
        kind, _, sub = media_type.lower().partition("/")
        return self.type == "*" or (self.type == kind and self.subtype in ("*", sub))


def media_ranges(header: str) -> list[MediaRange]:
    """The header's well-formed media ranges, in order."""
    found: list[MediaRange] = []
    for element in header.split(","):
        name, *parameters = (part.strip() for part in element.split(";"))
        kind, slash, sub = name.lower().partition("/")
        if not slash or not _TOKEN.match(kind) or not _TOKEN.match(sub) or (kind == "*" and sub != "*"):
            continue
        quality: float | None = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                quality = float(value.strip()) if _QVALUE.match(value.strip()) else None
                break  # what follows q are accept-extensions
        if quality is not None:
            found.append(MediaRange(kind, sub, quality))
    return found


def quality(ranges: Sequence[MediaRange], media_type: str) -> tuple[float, int] | None:
    """The quality the ranges give `media_type` and how specifically (see `MediaRange.specificity`):
    the most specific matching range's; None when none matches."""
    matching = [r for r in ranges if r.matches(media_type)]
    if not matching:
        return None
    best = max(matching, key=lambda r: r.specificity)  # the first of the most specific ones
    return best.quality, best.specificity


def preferred(header: str | None, offered: Sequence[str]) -> str | None:
    """The offered media type the Accept header prefers (see the module's docstring); None when
    it accepts none of them."""
    if not offered:
        return None
    ranges = media_ranges(header or "")
    if not ranges:
        return offered[0]
    scored = []
    for index, media_type in enumerate(offered):
        found = quality(ranges, media_type)
        if found is not None and found[0] > 0:
            scored.append((-found[0], -found[1], index))
    return offered[min(scored)[2]] if scored else None
