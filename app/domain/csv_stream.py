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
from typing import Any

DELIMITERS = (",", ";")
# Line breaks that can end a record: \r\n, \n, \r (not str.splitlines' Unicode separators, which
# are ordinary characters inside a CSV field).
_LINES = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


class CsvError(ValueError):
    """The bytes are not CSV this reader can take (not UTF-8, an unterminated quote...)."""


class CsvStream:
    def __init__(self, delimiter: str | None = None) -> None:
        if delimiter is not None and delimiter not in DELIMITERS:
            raise CsvError(f"the delimiter must be one of {' '.join(DELIMITERS)}")
        self.delimiter = delimiter
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._partial = ""  # text after the last complete record
        self._record: list[str] = []  # lines of a record whose quoted field is still open
        self._quotes = 0  # quote characters in `_record` so far
        self.records = 0  # records read (the header included)

    def feed(self, data: bytes) -> list[list[str]]:
        """The records completed by `data` (an empty list when none is yet)."""
        try:
            text = self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise CsvError(f"the file is not UTF-8 text (byte {exc.start} of a piece)") from exc
        return self._records(text, final=False)

    def close(self) -> list[list[str]]:
        """The last records, at the end of the file."""
        try:
            text = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise CsvError("the file ends inside a UTF-8 character") from exc
        rows = self._records(text, final=True)
        if self._record:
            raise CsvError("the file ends inside a quoted field (a quote is not closed)")
        return rows

    def _records(self, text: str, *, final: bool) -> list[list[str]]:
        text = self._partial + text
        lines = [line for line in _LINES.split(text) if line]
        self._partial = ""
        if lines and not final and not lines[-1].endswith(("\n", "\r")):
            self._partial = lines.pop()  # an incomplete line: wait for the rest
        elif lines and not final and lines[-1].endswith("\r"):
            self._partial = lines.pop()  # maybe "\r\n" split between pieces
        complete: list[str] = []
        for line in lines:
            self._record.append(line)
            self._quotes += line.count('"')
            if self._quotes % 2 == 0:  # every quote closed: the line break ends the record
                complete.append("".join(self._record))
                self._record, self._quotes = [], 0
        if final and self._record and self._quotes % 2 == 0:
            complete.append("".join(self._record))
            self._record, self._quotes = [], 0
        rows = []
        for record in complete:
            if not record.strip("\r\n"):
                continue  # blank line
            if self.delimiter is None:
                self.delimiter = sniff(record)
            parsed = next(csv.reader([record], delimiter=self.delimiter, strict=False), [])
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
    """CSV text of these rows (fields quoted when needed; line ends \\r\\n, as RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return buffer.getvalue()
