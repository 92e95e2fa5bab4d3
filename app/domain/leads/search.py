"""Text search that finds Persian and Arabic spellings and any digits alike: text is normalised
once on write (the stored search text) and the query the same way on read."""

from __future__ import annotations

import unicodedata

_FOLD = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ئ": "ی",  # Arabic yeh / alef maksura -> Persian yeh
        "ك": "ک",  # Arabic kaf -> Persian keheh
        "ة": "ه",
        "ۀ": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "\u200c": " ",  # zero-width non-joiner (nim-fasele) -> space
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    }
)
_DIACRITICS = {"Mn"}  # harakat, tanwin, shadda...


def normalize(text: str) -> str:
    """Casefolded, letter variants folded, digits Latin, diacritics and tatweel removed, spaces squeezed."""
    if not text.isascii():  # ASCII has nothing to fold (and most submissions are ASCII)
        text = unicodedata.normalize("NFKC", text).translate(_FOLD).replace("ـ", "")
        text = "".join(ch for ch in text if unicodedata.category(ch) not in _DIACRITICS)
    return " ".join(text.casefold().split())


def digits(text: str) -> str:
    return "".join(ch for ch in normalize(text) if ch.isdigit())


def search_text(*parts: str | None) -> str:
    """What a lead is found by: its words, and its phone's digits (so 0912… matches +98912…)."""
    words = [normalize(p) for p in parts if p]
    return " | ".join(w for w in words if w)


def query(text: str) -> str:
    """A search query, normalised like the stored text; a phone-like query keeps only its digits,
    so `+98 912 111`, `0912-111` and `۰۹۱۲۱۱۱` all match the number however it was typed."""
    normalized = normalize(text)
    if normalized and all(ch.isdigit() or ch in " +-()." for ch in normalized):
        return "".join(ch for ch in normalized if ch.isdigit())
    return normalized
