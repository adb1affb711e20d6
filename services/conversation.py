"""Documents and comments: what is attached to an item and said around it, beside its lifecycle.

Who may add them, when, and who reads them is ruled by `states.conversation`; the item's own
visibility (`Workflow.find`) comes first, so a document or comment of an item the caller may not
see is "not found", whatever its id. Every upload and every comment is a history event, in the
same transaction as the row it adds; a comment is nothing but that event (action `comment`).

A document's bytes are received first (`receive`: streamed into the storage, hashed, its type
found from its content, flushed to disk), then its row is committed (`attach`): a committed row
never points at a missing file. A file whose transaction failed is removed by `sweep_storage`.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import filetype
import sqlalchemy as sa
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.engine import items
from services.engine.errors import ActionNotAvailable, InvalidInput, NotFound, TooLarge, UnsupportedType
from services.engine.events import DomainEvent, EventName
from services.engine.models import Document, HistoryEvent, User
from services.engine.people import actor_of, is_staff
from services.engine.schemas import Strict
from services.engine.workflow import Workflow
from services.infra import storage as store
from services.infra.uow import Services
from states.common import ActionRefused
from states.conversation import DocumentKind, Visibility, check_attach, check_comment, may_use

COMMENT = "comment"
ATTACH = "attach_document"
MAX_COMMENT = 5000

# What may be uploaded: the type found from the content, its name in words, its extensions.
ACCEPTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "application/pdf": ("PDF", (".pdf",)),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("DOCX", (".docx",)),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("XLSX", (".xlsx",)),
    "application/vnd.oasis.opendocument.text": ("ODT", (".odt",)),
    "image/png": ("PNG", (".png",)),
    "image/jpeg": ("JPEG", (".jpg", ".jpeg")),
}
_EXTENSIONS = {ext: mime for mime, (_, exts) in ACCEPTED.items() for ext in exts}
ACCEPTED_WORDS = ", ".join(words for words, _ in ACCEPTED.values())


class DocumentPublic(BaseModel):
    id: int
    kind: str
    name: str
    version: int
    latest: bool  # the newest version of this kind and name
    size: int
    content_type: str
    sha256: str
    visibility: str
    uploaded_by: str
    uploaded_at: datetime


class CommentIn(Strict):
    body: str = Field(description="plain text, up to 5,000 characters")
    visibility: Visibility = Visibility.SHARED

    @field_validator("body")
    @classmethod
    def _body(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        if len(v) > MAX_COMMENT:
            raise ValueError(f"must be at most {MAX_COMMENT:,} characters (it has {len(v):,})")
        return v


class CommentPublic(BaseModel):
    id: int
    at: datetime
    author: str
    author_role: str
    body: str
    visibility: str


# --- receiving a file ----------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    sha256: str
    size: int
    content_type: str


def safe_name(raw: str | None) -> str:
    """The file name as uploaded, made safe to store and to send back: no folders, no control
    characters, none of the characters file systems refuse, at most 200 characters (the
    extension kept)."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if unicodedata.category(c)[0] == "C" else c for c in name)
    name = re.sub(r'[<>:"|?*]', "_", name).strip(" .")
    return _fit(name or "document")


def _fit(name: str, limit: int = 200) -> str:
    """At most `limit` characters, the extension kept."""
    if len(name) <= limit:
        return name
    stem, ext = Path(name).stem, Path(name).suffix[:20]
    return stem[:limit - len(ext)] + ext


def content_type_of(head: bytes, name: str) -> str:
    """The type found from the content (`filetype`), if accepted; UnsupportedType otherwise,
    and also when the name claims another accepted type than the content is (a file renamed
    `.pdf` that is not a PDF)."""
    found = filetype.guess(head) if head else None
    mime = found.mime if found else None
    if mime not in ACCEPTED:
        what = f"its content is {found.extension.upper()}" if found else "its content is of no type accepted"
        raise UnsupportedType(f"{what}: only {ACCEPTED_WORDS} files are accepted")
    claimed = _EXTENSIONS.get(Path(name).suffix.lower())
    if claimed is not None and claimed != mime:
        raise UnsupportedType(f"the file is named {Path(name).suffix} but its content is {ACCEPTED[mime][0]}: "
                              "rename it or upload the right file")
    return mime


def with_extension(name: str, mime: str) -> str:
    """A name without its type's extension gets one, so the download opens with the right program."""
    exts = ACCEPTED[mime][1]
    return name if Path(name).suffix.lower() in exts else _fit(name + exts[0])


class Receiving:
    """One file arriving: `write` its chunks, then `finish` (UnsupportedType, and nothing kept,
    when its content is not accepted), or `abort`."""

    def __init__(self, svc: Services, name: str | None):
        self.name = safe_name(name)
        self.limit = svc.upload_limit
        self.upload = svc.storage.begin(svc.upload_limit)

    async def write(self, data: bytes) -> None:
        try:
            await self.upload.write(data)
        except store.TooLarge:
            raise TooLarge(self.limit) from None

    async def finish(self) -> Received:
        head = self.upload.head
        if not head:
            await self.upload.abort()
            raise InvalidInput.one("file", "is empty")
        try:
            mime = content_type_of(bytes(head), self.name)
        except UnsupportedType:
            await self.upload.abort()
            raise
        stored = await self.upload.finish()
        self.name = with_extension(self.name, mime)
        return Received(stored.sha256, stored.size, mime)

    async def abort(self) -> None:
        await self.upload.abort()


def receive(svc: Services, name: str | None) -> Receiving:
    return Receiving(svc, name)


# --- documents -----------------------------------------------------------------------------

def _owner(user: User, item) -> bool:
    return user.role == "member_state" and item.member_state == user.member_state


async def may_attach(svc: Services, wf: Workflow, *, user: User, id_or_ref: str) -> None:
    """Refuse before any byte is received: the item not visible (404), or not the caller's to
    attach to now (403, 409)."""
    async with svc.uow(write=False) as uow:
        item = await wf.find(uow, user, id_or_ref)
    check_attach(actor_of(user), owner=_owner(user, item), state=item.state,
                 owner_states=wf.lifecycle.owner_attaches)


def _parse_kind(kind: str | None) -> str:
    try:
        return DocumentKind((kind or "").strip()).value
    except ValueError:
        raise InvalidInput.one("kind", "must be one of " + ", ".join(k.value for k in DocumentKind)) from None


def _parse_visibility(user: User, visibility: str | None) -> str:
    try:
        v = Visibility((visibility or Visibility.SHARED).strip())
    except ValueError:
        raise InvalidInput.one("visibility", "must be shared or internal") from None
    if not may_use(actor_of(user), v):
        raise InvalidInput.one("visibility", "only RSO staff may add internal documents and comments")
    return v.value


def check_fields(user: User, kind: str | None, visibility: str | None) -> tuple[str, str]:
    """The upload's form fields, or InvalidInput naming each bad one."""
    problems, out = [], []
    for parse_one, value in ((_parse_kind, kind), (lambda v: _parse_visibility(user, v), visibility)):
        try:
            out.append(parse_one(value))
        except InvalidInput as exc:
            problems += exc.errors
    if problems:
        raise InvalidInput(problems)
    kind_value, visibility_value = out
    return kind_value, visibility_value


async def attach(svc: Services, wf: Workflow, *, user: User, id_or_ref: str, kind: str, visibility: str,
                 name: str, received: Received) -> DocumentPublic:
    """Record a received file as a document of the item, with its history event, in one
    transaction; the next version if the item has one of this kind and name already."""
    async with svc.uow() as uow:
        item = await wf.find(uow, user, id_or_ref)
        check_attach(actor_of(user), owner=_owner(user, item), state=item.state,
                     owner_states=wf.lifecycle.owner_attaches)
        d = Document.__table__.c
        last = (await uow.session.exec(select(sa.func.max(d.version)).where(
            d.item_kind == wf.kind, d.item_id == item.id, d.kind == kind, d.name == name))).one_or_none()
        doc = Document(item_kind=wf.kind, item_id=item.id, kind=kind, name=name, version=(last or 0) + 1,
                       size=received.size, content_type=received.content_type, sha256=received.sha256,
                       visibility=visibility, uploaded_by_id=user.id, uploaded_by_name=user.name,
                       uploaded_at=uow.now)
        uow.session.add(doc)
        try:
            await uow.session.flush()
        except IntegrityError:  # the same kind and name uploaded at the same moment
            raise ActionNotAvailable("attach a document", item.state, [], reason=(
                "another version of this document was uploaded at the same moment: try again")) from None
        items.record(uow, item_kind=wf.kind, item_id=item.id, actor=user, action=ATTACH, from_state=item.state,
                     to_state=item.state, arguments={"document_id": doc.id, "kind": kind, "name": name,
                                                     "version": doc.version, "visibility": visibility,
                                                     "size": doc.size})
        view = _document_view(doc, latest=True)
        await uow.commit()
    return view


def _document_view(doc: Document, *, latest: bool) -> DocumentPublic:
    return DocumentPublic(id=doc.id, kind=doc.kind, name=doc.name, version=doc.version, latest=latest,
                          size=doc.size, content_type=doc.content_type, sha256=doc.sha256,
                          visibility=doc.visibility, uploaded_by=doc.uploaded_by_name, uploaded_at=doc.uploaded_at)


async def documents(svc: Services, wf: Workflow, *, user: User, id_or_ref: str) -> list[DocumentPublic]:
    """The documents of an item the caller may read, every version: by kind and name, newest
    version first."""
    async with svc.uow(write=False) as uow:
        item = await wf.find(uow, user, id_or_ref)
        return await documents_of(uow, wf, user, item)


async def documents_of(uow, wf: Workflow, user: User, item) -> list[DocumentPublic]:
    """`documents`, of an item row read already in this unit of work (a page's one read)."""
    rows = await _documents_of(uow, wf.kind, item.id)
    actor, newest = actor_of(user), {}
    for doc in rows:
        newest[(doc.kind, doc.name)] = max(newest.get((doc.kind, doc.name), 0), doc.version)
    shown = [d for d in rows if may_use(actor, d.visibility)]
    shown.sort(key=lambda d: (d.kind, d.name.lower(), -d.version))
    return [_document_view(d, latest=d.version == newest[(d.kind, d.name)]) for d in shown]


async def _documents_of(uow, item_kind: str, item_id: int) -> list[Document]:
    q = select(Document).where(Document.item_kind == item_kind, Document.item_id == item_id).order_by(Document.id)
    return list((await uow.session.exec(q)).all())


@dataclass(frozen=True)
class Download:
    name: str
    content_type: str
    size: int
    path: Path | None  # a local file to send, or
    chunks: AsyncIterator[bytes] | None  # its bytes to stream


async def download(svc: Services, wf: Workflow, *, user: User, id_or_ref: str, document_id: int) -> Download:
    """One document of an item the caller may read: NotFound for anything else (another item's
    document, an internal one for someone outside the staff, an item they may not see)."""
    async with svc.uow(write=False) as uow:
        item = await wf.find(uow, user, id_or_ref)
        doc = await uow.session.get(Document, document_id)
    if doc is None or doc.item_kind != wf.kind or doc.item_id != item.id or not may_use(actor_of(user), doc.visibility):
        raise NotFound(f"document {document_id} of {item.reference}")
    path = svc.storage.path(doc.sha256)
    return Download(doc.name, doc.content_type, doc.size, path, None if path else svc.storage.open(doc.sha256))


async def sweep_storage(svc: Services, *, older_than: float = 3600.0) -> list[str]:
    """Remove the stored files no document points at (their transaction failed) and uploads
    abandoned half-way, once untouched for `older_than` seconds."""
    async def referenced(names: list[str]) -> set[str]:
        found: set[str] = set()
        async with svc.uow(write=False) as uow:
            for i in range(0, len(names), 500):  # a bounded IN list, however many files there are
                q = select(Document.sha256).where(Document.sha256.in_(names[i:i + 500])).distinct()
                found.update((await uow.session.exec(q)).all())
        return found
    return await svc.storage.sweep(referenced, older_than=older_than)


# --- comments ------------------------------------------------------------------------------

async def comment(svc: Services, wf: Workflow, *, user: User, id_or_ref: str, data) -> CommentPublic:
    """Add a comment to an item: a history event, and the emails it causes (`services.mail`)."""
    body = items.parse(CommentIn, data)
    visibility = _parse_visibility(user, body.visibility)
    async with svc.uow() as uow:
        item = await wf.find(uow, user, id_or_ref)
        check_comment(actor_of(user), owner=_owner(user, item), submitted=item.submitted_at is not None,
                      state=item.state)
        event = items.record(uow, item_kind=wf.kind, item_id=item.id, actor=user, action=COMMENT,
                             from_state=item.state, to_state=item.state, comment=body.body,
                             arguments={"visibility": visibility})
        uow.emit(DomainEvent(EventName.COMMENTED, wf.kind, item.id, item.reference, data={
            "item": item, "body": body.body, "visibility": visibility, "author_id": user.id,
            "author_name": user.name, "from_staff": is_staff(user)}))
        await uow.session.flush()
        view = _comment_view(event)
        await uow.commit()
    return view


def _comment_view(e: HistoryEvent) -> CommentPublic:
    return CommentPublic(id=e.id, at=e.at, author=e.actor_name, author_role=e.actor_role, body=e.comment or "",
                         visibility=e.arguments.get("visibility", Visibility.SHARED))


async def comments(svc: Services, wf: Workflow, *, user: User, id_or_ref: str) -> list[CommentPublic]:
    """The comments of an item the caller may read, oldest first."""
    async with svc.uow(write=False) as uow:
        item = await wf.find(uow, user, id_or_ref)
        q = (select(HistoryEvent).where(HistoryEvent.item_kind == wf.kind, HistoryEvent.item_id == item.id,
                                        HistoryEvent.action == COMMENT).order_by(HistoryEvent.id))
        events = list((await uow.session.exec(q)).all())
    actor = actor_of(user)
    return [_comment_view(e) for e in events if may_use(actor, e.arguments.get("visibility", Visibility.SHARED))]


def may(wf: Workflow, user: User, item) -> dict[str, bool]:
    """What the caller may add to this item now (for a page to offer): `attach`, `comment`,
    and `internal` (whether they may choose internal visibility)."""
    actor, owner = actor_of(user), _owner(user, item)
    out = {"internal": may_use(actor, Visibility.INTERNAL)}
    for name, check in (("attach", lambda: check_attach(actor, owner=owner, state=item.state,
                                                       owner_states=wf.lifecycle.owner_attaches)),
                        ("comment", lambda: check_comment(actor, owner=owner, submitted=item.submitted_at is not None,
                                                          state=item.state))):
        try:
            check()
            out[name] = True
        except ActionRefused:
            out[name] = False
    return out
