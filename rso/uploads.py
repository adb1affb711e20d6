"""A multipart upload read as it arrives: the file part goes straight into the storage
(`services.conversation.receive`), a chunk at a time, so memory stays flat however big the file;
the other parts are small form fields. Used by the API and the pages alike.

python-multipart's push parser (the one Starlette uses) does the parsing; Starlette's own
`request.form()` would first spool the whole file to a temporary file, and only then let the
service see its size and type.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from urllib.parse import quote

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from services import conversation
from services.engine.errors import InvalidInput, TooLarge
from services.infra.uow import Services

MAX_FIELD = 4096  # bytes of one form field (kind, visibility, a CSRF token)
UPLOAD_PATH = re.compile(r"^(/api/v1)?/(proposals|secondments)/[^/]+/documents$")
OVERHEAD = 1024 * 1024  # what a multipart body may hold besides its file: the parts' headers, small fields


def is_upload(scope) -> bool:
    """A request whose body is a document's file (the body-size limit leaves it to `read_upload`,
    which stops at the upload limit and a little more)."""
    return scope.get("method") == "POST" and bool(UPLOAD_PATH.match(scope.get("path", "")))


async def read_upload(request: Request, svc: Services, *, file_field: str = "file"
                      ) -> tuple[dict[str, str], conversation.Receiving | None]:
    """(the form fields, the file received so far) of a multipart/form-data request. The caller
    finishes or aborts the file; on any error here, nothing of it is kept."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise InvalidInput.one("body", "must be multipart/form-data, with the document as the part `file`")

    fields: dict[str, str] = {}
    part: dict = {}
    header: dict = {"field": b"", "value": b""}
    pending: list[bytes] = []
    receiving: conversation.Receiving | None = None
    problems: list[dict] = []

    def on_part_begin():
        part.clear()
        part.update(headers={}, data=bytearray(), name=None, filename=None)

    def on_header_field(data, start, end):
        header["field"] += data[start:end]

    def on_header_value(data, start, end):
        header["value"] += data[start:end]

    def on_header_end():
        part["headers"][header["field"].decode("latin-1").strip().lower()] = header["value"]
        header["field"], header["value"] = b"", b""

    def on_headers_finished():
        nonlocal receiving
        _, disposition = parse_options_header(part["headers"].get("content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        part["name"] = name
        filename = disposition.get(b"filename")
        if name == file_field and filename:  # a browser sends filename="" when no file was chosen
            if receiving is not None:
                problems.append({"field": file_field, "message": "one file at a time"})
                return
            receiving = conversation.receive(svc, filename.decode("utf-8", "replace"))
            part["file"] = True

    def on_part_data(data, start, end):
        if part.get("file"):
            pending.append(bytes(data[start:end]))
        elif len(part["data"]) + end - start <= MAX_FIELD:
            part["data"] += data[start:end]
        else:
            problems.append({"field": part["name"] or "body", "message": f"must be at most {MAX_FIELD} bytes"})

    def on_part_end():
        if not part.get("file") and part.get("name"):
            fields[part["name"]] = part["data"].decode("utf-8", "replace")

    ended = []

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end, "on_end": lambda: ended.append(True)})
    size, limit = 0, svc.upload_limit + OVERHEAD
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:  # whatever it holds: a file over the limit, or endless fields
                raise TooLarge(svc.upload_limit)
            parser.write(chunk)
            if problems:
                raise InvalidInput(problems[:5])
            for data in pending:
                await receiving.write(data)
            pending.clear()
        parser.finalize()
        if not ended:  # the closing boundary never came: a cut-off body is no document
            raise InvalidInput.one("body", "the multipart body ended before its closing boundary")
    except BaseException as exc:  # a refusal, a malformed body, a client gone: nothing of the file kept
        if receiving is not None:
            await receiving.abort()
        if type(exc).__module__.startswith("python_multipart"):
            raise InvalidInput.one("body", f"malformed multipart body: {exc}") from None
        raise
    return fields, receiving


class NoFile(InvalidInput):
    """An upload without its file (a form posted with none chosen)."""

    def __init__(self):
        super().__init__([{"field": "file", "message": "required: the document, as a file part named `file`"}])


async def attach_upload(request: Request, svc: Services, wf, user, id_or_ref: str,
                        check_form: Callable[[dict[str, str]], None] | None = None) -> conversation.DocumentPublic:
    """An upload request, from the first byte to the document's row: refused before any byte is
    read if the caller may not attach now; the file received; the form checked (`check_form`:
    a page's CSRF token) and its fields validated; then attached. Whatever fails before the
    row is written leaves no file behind."""
    await conversation.may_attach(svc, wf, user=user, id_or_ref=id_or_ref)
    fields, receiving = await read_upload(request, svc)
    if receiving is None:
        raise NoFile()
    try:
        if check_form is not None:
            check_form(fields)
        kind, visibility = conversation.check_fields(user, fields.get("kind"), fields.get("visibility"))
        received = await receiving.finish()
    except BaseException:
        await receiving.abort()
        raise
    return await conversation.attach(svc, wf, user=user, id_or_ref=id_or_ref, kind=kind, visibility=visibility,
                                     name=receiving.name, received=received)


def document_response(found: conversation.Download) -> Response:
    """A document as an attachment: from its local file, or streamed from the store."""
    headers = {"Content-Disposition": content_disposition(found.name)}
    if found.path is not None:
        return FileResponse(found.path, media_type=found.content_type, headers=headers)
    return StreamingResponse(found.chunks, media_type=found.content_type,
                             headers={**headers, "Content-Length": str(found.size)})


def content_disposition(name: str) -> str:
    """`attachment` with the name as RFC 6266 has it: an ASCII `filename` for old clients and
    the exact name, UTF-8 and percent-encoded, as `filename*`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'["\\\x00-\x1f\x7f]', "_", ascii_name).strip() or "document"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
