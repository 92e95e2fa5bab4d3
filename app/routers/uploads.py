"""A file upload read as it streams: `multipart/form-data` (a `file` part and small text fields)
or a bare `text/csv` body. The file's bytes are handed on piece by piece as they arrive, never
gathered in memory or spooled to disk (what `request.form()` would do)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import Request

from app.domain.errors import InvalidInput
from app.routers.problems import PayloadTooLarge, UnsupportedMediaType

MAX_FIELD_BYTES = 64 * 1024
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")


class Upload:
    """The upload of one request. Iterate `chunks()` for the file; `fields` fills in as the parts
    arrive (complete once `chunks()` is exhausted)."""

    def __init__(self, request: Request, *, max_bytes: int, file_field: str = "file") -> None:
        self.request = request
        self.max_bytes = max_bytes
        self.file_field = file_field
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.saw_file = False
        media, params = parse_options_header(request.headers.get("content-type", ""))
        self.media = media.decode("latin-1").lower()
        self.boundary = params.get(b"boundary")
        if self.media == "multipart/form-data":
            if not self.boundary:
                raise InvalidInput.field("body", "multipart/form-data without a boundary")
        elif self.media not in CSV_TYPES:
            raise UnsupportedMediaType("send multipart/form-data with a `file` part, or the CSV itself as text/csv")

    async def chunks(self) -> AsyncIterator[bytes]:
        size = 0
        if self.media != "multipart/form-data":
            self.saw_file = True
            async for data in self.request.stream():
                size += len(data)
                self._check(size)
                if data:
                    yield data
            return
        out: list[bytes] = []
        part: dict[str, object] = {}
        header_field: list[bytes] = []
        header_value: list[bytes] = []

        def on_part_begin() -> None:
            part.clear()
            part["headers"] = {}

        def on_header_field(data: bytes, start: int, end: int) -> None:
            header_field.append(data[start:end])

        def on_header_value(data: bytes, start: int, end: int) -> None:
            header_value.append(data[start:end])

        def on_header_end() -> None:
            headers = part["headers"]
            assert isinstance(headers, dict)
            headers[b"".join(header_field).decode("latin-1").lower()] = b"".join(header_value)
            header_field.clear()
            header_value.clear()

        def on_headers_finished() -> None:
            headers = part["headers"]
            assert isinstance(headers, dict)
            _, options = parse_options_header(headers.get("content-disposition", b""))
            name = options.get(b"name", b"").decode("utf-8", "replace")
            part["name"] = name
            part["value"] = []
            if name == self.file_field:
                self.saw_file = True
                filename = options.get(b"filename")
                self.filename = filename.decode("utf-8", "replace")[:255] if filename else None

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if part.get("name") == self.file_field:
                out.append(data[start:end])
            else:
                value = part["value"]
                assert isinstance(value, list)
                value.append(data[start:end])
                if sum(len(v) for v in value) > MAX_FIELD_BYTES:
                    raise InvalidInput.field(str(part.get("name")), "a form field longer than 64 KiB")

        def on_part_end() -> None:
            name = part.get("name")
            if name and name != self.file_field:
                value = part["value"]
                assert isinstance(value, list)
                self.fields[str(name)] = b"".join(value).decode("utf-8", "replace")

        assert self.boundary is not None
        parser = MultipartParser(self.boundary, {
            "on_part_begin": on_part_begin, "on_header_field": on_header_field,
            "on_header_value": on_header_value, "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end,
        })  # type: ignore[arg-type]  # fmt: skip
        async for data in self.request.stream():
            size += len(data)
            self._check(size)
            try:
                parser.write(data)
            except InvalidInput:
                raise
            except Exception as exc:
                raise InvalidInput.field("body", f"malformed multipart body ({exc})") from exc
            if out:
                piece = b"".join(out)
                out.clear()
                yield piece
        parser.finalize()
        if out:
            yield b"".join(out)
        if parser.state not in (MultipartState.END, MultipartState.BOUNDARY_PADDING):
            raise InvalidInput.field("body", "the multipart body ends before its closing boundary (cut off?)")
        if not self.saw_file:
            raise InvalidInput.field(self.file_field, "send the CSV as a `file` part")

    def _check(self, size: int) -> None:
        if size > self.max_bytes:
            raise PayloadTooLarge(f"the upload is larger than the {self.max_bytes} bytes an import accepts")
