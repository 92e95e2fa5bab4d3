"""CSV read in pieces of any size, and the import's mapping rules, without a database."""

from __future__ import annotations

import pytest

from app.domain.csv_stream import CsvError, CsvStream, write_rows
from app.domain.customers import imports as rules
from app.domain.errors import InvalidInput

ROWS = [
    ["نام", "email", "note"],
    ["علی", "ali@x.ir", 'said "hi"; then left'],
    ["Sara", "s@x.io", "line one\r\nline two"],
    ["", "", ""],  # a spreadsheet's empty row
    ["Last", "l@x.io", ""],
]


@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 10_000])
def test_records_come_out_whole_whatever_the_pieces(delimiter: str, size: int) -> None:
    data = ("\ufeff" + write_rows(ROWS, delimiter)).encode()
    stream = CsvStream()
    out: list[list[str]] = []
    for start in range(0, len(data), size):
        out += stream.feed(data[start : start + size])
    out += stream.close()
    assert out == [row for row in ROWS if any(row)]
    assert stream.delimiter == delimiter and stream.records == 4


def test_bad_bytes_and_open_quotes_are_errors() -> None:
    with pytest.raises(CsvError):
        CsvStream().feed("name\nSara\n".encode("utf-16"))
    stream = CsvStream()
    stream.feed(b'a,b\n"open,1\n')
    with pytest.raises(CsvError):
        stream.close()
    with pytest.raises(CsvError):
        CsvStream(delimiter="|")


def test_mapping_explicit_automatic_and_wrong() -> None:
    header = ["E-mail", "First Name", "Notes"]
    targets = ("email", "first_name", "tags")
    auto = rules.resolve_mapping(["email", "First-Name", "x"], None, targets)
    assert auto.columns == {"email": 0, "first_name": 1} and auto.ignored == ["x"]
    given = rules.resolve_mapping(header, {"email": "E-mail", "custom_fields.size": "Notes"}, targets,
                                  custom_keys=["size"])  # fmt: skip
    assert given.columns == {"email": 0, "custom_fields.size": 2} and given.ignored == ["First Name"]
    with pytest.raises(InvalidInput) as caught:
        rules.resolve_mapping(header, {"emial": "E-mail", "first_name": "Name"}, targets)
    assert [e.field for e in caught.value.errors] == ["mapping.emial", "mapping.first_name"]
    with pytest.raises(InvalidInput):
        rules.resolve_mapping(["a", "b"], None, targets)


def test_a_row_as_an_item() -> None:
    mapping = rules.resolve_mapping(["email", "tags", "size", "extra"], {"email": "email", "tags": "tags",
                                    "custom_fields.size": "size", "custom_fields": "extra"}, ("email", "tags",
                                    "custom_fields"), custom_keys=["size"])  # fmt: skip
    item = rules.item(["a@x.io ", "vip; b2b|x", "L", '{"k": 1}'], mapping, lists={"tags"},
                      json_fields={"custom_fields"}, defaults={"source": "import"})  # fmt: skip
    assert item == {"source": "import", "email": "a@x.io", "tags": ["vip", "b2b", "x"],
                    "custom_fields": {"k": 1, "size": "L"}}  # fmt: skip
    with pytest.raises(ValueError, match="custom_fields"):
        rules.item(["", "", "", "{broken"], mapping, json_fields={"custom_fields"})


def test_consecutive_rows_of_one_order_make_one_order() -> None:
    rows = [
        {"source": "s", "external_id": "1", "total": "3", "placed_at": "2026-01-01T00:00:00Z",
         "customer_email": "a@x.io", "line_sku": "A", "line_quantity": "1"},
        {"source": "s", "external_id": "1", "line_sku": "B", "line_quantity": "2"},
    ]  # fmt: skip
    order = rules.order_from_rows(rows)
    assert order["customer"] == {"email": "a@x.io"}
    assert order["line_items"] == [{"sku": "A", "quantity": "1"}, {"sku": "B", "quantity": "2"}]
    assert order["source_updated_at"] == "2026-01-01T00:00:00Z"


def _whole(text: str, delimiter: str) -> list[list[str]]:
    import csv
    import io

    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    return [row for row in rows if any(cell.strip() for cell in row)]


def test_any_split_gives_what_the_csv_module_reads_from_the_whole_file() -> None:
    import random

    rng = random.Random(20261127)
    pieces = ["a", "ب", '12" pizza', '"q,uoted"', '"multi\r\nline"', '"with ""escaped"""', "5'11\"", "", " "]
    for _ in range(400):
        delimiter = rng.choice([",", ";"])
        lines = [delimiter.join(["h1", "h2", "h3"])]
        for _ in range(rng.randrange(1, 6)):
            lines.append(delimiter.join(rng.choice(pieces) for _ in range(3)))
        text = rng.choice(["\r\n", "\n", "\r"]).join(lines) + rng.choice(["", "\r\n", "\n"])
        data = ("\ufeff" if rng.random() < 0.5 else "").encode() + text.encode()
        stream, out, at = CsvStream(), [], 0
        while at < len(data):
            step = rng.randrange(1, 12)
            out += stream.feed(data[at : at + step])
            at += step
        out += stream.close()
        assert out == _whole(text, delimiter), text


def test_a_file_without_line_breaks_is_refused_early() -> None:
    from app.domain.csv_stream import MAX_RECORD_CHARS

    stream = CsvStream(delimiter=",")
    with pytest.raises(CsvError):
        for _ in range(MAX_RECORD_CHARS // 50_000 + 2):
            stream.feed(b"x" * 50_000)


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+cmd", "-x", "@SUM(A1)", "\t=x", "'=x", "''@x", "'", "'plain", "-5.00", "+98 912 123 4567", "plain", ""],
)
def test_taking_the_formula_quote_off_gives_back_exactly_what_was_written(value: str) -> None:
    from app.domain.csv_stream import escape_formula, unescape_formula

    escaped = escape_formula(value)
    assert unescape_formula(escaped) == value
    assert not (escaped[:1] in ("=", "+", "-", "@", "\t") and escaped not in ("-5.00", "+98 912 123 4567"))


def test_written_cells_are_escaped_whatever_they_were_built_from() -> None:
    class Tag:  # any value the csv module would write through str()
        def __str__(self) -> str:
            return "=evil()"

    assert write_rows([["=a;b", Tag(), -5, 1.5, None, "-5"]]) == "'=a;b,'=evil(),-5,1.5,,-5\r\n"


def test_escaping_round_trips_any_text() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from app.domain.csv_stream import escape_formula, unescape_formula

    @given(st.text(alphabet=st.sampled_from(list("'=+-@\t\r 1.a(")), max_size=8))
    def check(value: str) -> None:
        assert unescape_formula(escape_formula(value)) == value

    check()
