"""CSV read as it arrives, in pieces of any size: complete records come out as soon as their last
byte is in, the rest waits for the next piece, so neither the upload nor the import job ever holds
the whole file. UTF-8 with or without a BOM; comma or semicolon separated (sniffed from the header
when not given); quoted fields may hold separators, quotes ("") and line breaks.

And the other way: rows written as CSV text, for exports."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

DELIMITERS = (",", ";")
# Line breaks end records: \r\n, \n, \r (never str.splitlines' Unicode separators, which are
# ordinary characters inside a CSV field).
_LINE_END = re.compile(r"[\r\n]")
_SPECIAL = re.compile(r'["\r\n]')


class CsvError(ValueError):
    """The bytes are not CSV this reader can take (not UTF-8, an unterminated quote...)."""


MAX_RECORD_CHARS = 1_000_000  # one row; a file without line breaks is not a CSV of rows
_OUT, _QUOTED, _QUOTE = range(3)  # outside quotes, inside a quoted field, just after a quote in one


class CsvStream:
    """Finds record boundaries as Python's csv module reads them (a quote opens a quoted field only
    as a field's first character; `""` inside one is a quote; elsewhere a quote is a character), so
    any split of the bytes gives the records the whole file gives; each record is then parsed by
    the csv module."""

    def __init__(self, delimiter: str | None = None) -> None:
        if delimiter is not None and delimiter not in DELIMITERS:
            raise CsvError(f"the delimiter must be one of {' '.join(DELIMITERS)}")
        self.delimiter = delimiter
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._buffer = ""  # text from the start of the record being read
        self._pos = 0  # how far into `_buffer` the scan has come
        self._state = _OUT
        self.records = 0  # records read (the header included)

    def feed(self, data: bytes) -> list[list[str]]:
        """The records completed by `data` (an empty list when none is yet)."""
        try:
            text = self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise CsvError(f"the file is not UTF-8 text (byte {exc.start} of a piece)") from exc
        return self._take(text, final=False)

    def close(self) -> list[list[str]]:
        """The last records, at the end of the file."""
        try:
            text = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise CsvError("the file ends inside a UTF-8 character") from exc
        rows = self._take(text, final=True)
        if self._state == _QUOTED:
            raise CsvError("the file ends inside a quoted field (a quote is not closed)")
        if self._buffer:
            rows += self._parse([self._buffer])
            self._buffer, self._pos, self._state = "", 0, _OUT
        return rows

    def _take(self, text: str, *, final: bool) -> list[list[str]]:
        self._buffer += text
        if self.delimiter is None:
            first = _LINE_END.search(self._buffer)
            if first is None and not final:
                self._check_length()
                return []
            self.delimiter = sniff(self._buffer[: first.start()] if first else self._buffer)
        records = self._scan(final)
        self._check_length()
        return self._parse(records)

    def _scan(self, final: bool) -> list[str]:
        """Complete records found from `_pos` on; `_buffer` keeps the unfinished one. Outside
        quotes only quotes and line breaks matter: a quote opens a quoted field when it is the
        field's first character (at the record's start or right after a delimiter)."""
        assert self.delimiter is not None
        buffer, pos, state, start = self._buffer, self._pos, self._state, 0
        records: list[str] = []
        end = len(buffer)
        while pos < end:
            if state == _QUOTED:
                quote = buffer.find('"', pos)
                if quote < 0:
                    pos = end
                    break
                state, pos = _QUOTE, quote + 1
                continue
            if state == _QUOTE:
                char = buffer[pos]
                if char == '"':
                    state, pos = _QUOTED, pos + 1  # an escaped quote
                    continue
                state = _OUT
                if char not in "\r\n":
                    pos += 1
                    continue
                at = pos
            else:
                match = _SPECIAL.search(buffer, pos)
                if match is None:
                    pos = end
                    break
                at = match.start()
                if buffer[at] == '"':
                    opens = at == start or buffer[at - 1] == self.delimiter
                    state, pos = (_QUOTED if opens else _OUT), at + 1
                    continue
            # a line break outside quotes at `at`: the record ends
            if buffer[at] == "\r" and at + 1 == end and not final:
                pos = at  # "\r\n" may be split between pieces: wait for the next one
                break
            after = at + 2 if buffer.startswith("\r\n", at) else at + 1
            records.append(buffer[start:at])
            start, pos, state = after, after, _OUT
        self._buffer, self._pos, self._state = buffer[start:], pos - start, state
        return records

    def _check_length(self) -> None:
        if len(self._buffer) > MAX_RECORD_CHARS:
            raise CsvError(f"a row longer than {MAX_RECORD_CHARS:,} characters (is the file CSV with line breaks?)")

    def _parse(self, records: list[str]) -> list[list[str]]:
        rows = []
        for record in records:
            if not record:
                continue  # a blank line
            try:
                parsed = next(csv.reader([record], delimiter=self.delimiter or ",", strict=False), [])
            except csv.Error as exc:
                raise CsvError(f"not CSV this reader understands: {exc}") from exc
            if any(cell.strip() for cell in parsed):  # a row of empty cells (spreadsheets' trailing rows)
                rows.append(parsed)
        self.records += len(rows)
        return rows


def sniff(header: str) -> str:
    """The separator of a header line: the more frequent of ; and , outside quotes."""
    outside = "".join(part for index, part in enumerate(header.split('"')) if index % 2 == 0)
    return ";" if outside.count(";") > outside.count(",") else ","


def normalise_header(name: str) -> str:
    """A column name compared with field names: trimmed, lower-cased, spaces and dashes as _."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def write_rows(rows: Iterable[Sequence[Any]], delimiter: str = ",") -> str:
    """CSV text of these rows (fields quoted when needed; line ends \\r\\n, as RFC 4180). Every
    cell is escaped against formulas here, on its final text, whatever the caller built it from
    (a joined list, JSON, a header a client uploaded): the one place CSV leaves the API."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([_cell_text(value) for value in row] for row in rows)
    return buffer.getvalue()


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value  # written as its digits: never a formula
    return escape_formula(value if isinstance(value, str) else str(value))


# Spreadsheets run a cell that starts with = + - @ as a formula (CSV injection: a name typed into a
# web form as =HYPERLINK(...) would run in whoever opens the export). Such cells are written with a
# leading ' (what spreadsheets show as text); a number or phone (+98 912 …, -5.00) is left alone.
# Imports take the ' off again, so an export imports back unchanged. A text that itself starts with
# ' before such a start gets one more, so taking one off always gives back exactly what was written.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"[+-]?[\d\s().\-]*\d[\d\s().\-]*")


def _needs_quote(value: str) -> bool:
    text = value.lstrip("'")
    return text.startswith(_FORMULA_START) and not _NUMBER_LIKE.fullmatch(text)


def escape_formula(value: str) -> str:
    return "'" + value if _needs_quote(value) else value


def unescape_formula(value: str) -> str:
    if value.startswith("'") and _needs_quote(value[1:]):
        return value[1:]
    return value
