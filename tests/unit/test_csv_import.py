"""CSV read in pieces of any size, and the import's mapping rules, without a database."""

from __future__ import annotations

import pytest

from app.domain import imports as rules
from app.domain.csv_stream import CsvError, CsvStream, write_rows
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
