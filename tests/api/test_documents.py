"""Documents and comments on items, through the API, on both databases: real files (a PDF made
by fpdf2, a DOCX made by python-docx), the type found from the content, the limits, the
versions, who may attach and comment when, and who reads what."""
from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from rso.app import create_app
from services.conversation import safe_name, sweep_storage
from services.wiring import build_services
from tests.conftest import ROSTER, Api
from tests.test_emails import deliver_pass, mail_api, parts  # noqa: F401 - mail_api: a fixture

PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def make_pdf(text: str = "Concept note: regional workshop on victim identification") -> bytes:
    from fpdf import FPDF
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(w=0, text=text)
    return bytes(pdf.output())


def make_docx(text: str = "Curriculum vitae of the nominee") -> bytes:
    import docx
    document = docx.Document()
    document.add_heading("CV", level=1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def upload(api: Api, who: str, ref: str, name: str, content: bytes, kind: str = "concept_note",
           visibility: str | None = None, path: str = "proposals"):
    data = {"kind": kind} | ({"visibility": visibility} if visibility else {})
    return api.client.post(f"/api/v1/{path}/{ref}/documents", data=data, files={"file": (name, content)},
                           headers=api.headers(who))


def stored_files(settings) -> list[Path]:
    root = Path(settings.storage_dir)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def submitted(api: Api) -> str:
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    return ref


def test_a_member_state_attaches_a_pdf_to_its_draft_and_downloads_it_as_it_was(api, settings):
    ref = api.create()["reference"]
    pdf = make_pdf()
    r = upload(api, "tha", ref, "Concept note.pdf", pdf)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (doc["name"], doc["kind"], doc["version"], doc["size"], doc["content_type"], doc["visibility"]) == (
        "Concept note.pdf", "concept_note", 1, len(pdf), PDF_TYPE, "shared")
    assert doc["sha256"] == hashlib.sha256(pdf).hexdigest() and doc["uploaded_by"] == "Thai official"

    got = api.get("tha", f"/proposals/{ref}/documents/{doc['id']}")
    assert got.status_code == 200 and got.content == pdf
    assert got.headers["content-type"] == PDF_TYPE
    assert got.headers["x-content-type-options"] == "nosniff"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;") and 'filename="Concept note.pdf"' in disposition

    # the history tells of it, in the timeline with the lifecycle's events
    history = api.get("tha", f"/proposals/{ref}/history").json()
    assert [e["action"] for e in history] == ["create", "attach_document"]
    assert history[1]["arguments"]["name"] == "Concept note.pdf"
    # the file is on disk under its content's name, nowhere else (the upload's temporary file is gone)
    assert [p.name for p in stored_files(settings)] == [doc["sha256"]]


def test_a_docx_is_recognised_and_a_second_upload_of_the_same_name_is_the_next_version(api):
    ref = api.create()["reference"]
    first = upload(api, "tha", ref, "Budget.docx", make_docx("Budget, first draft"), kind="budget").json()
    second = upload(api, "tha", ref, "Budget.docx", make_docx("Budget, with partner costs"), kind="budget").json()
    other = upload(api, "tha", ref, "Concept.pdf", make_pdf()).json()
    assert first["content_type"] == DOCX_TYPE and (first["version"], second["version"]) == (1, 2)
    listed = api.get("tha", f"/proposals/{ref}/documents").json()
    assert [(d["name"], d["version"], d["latest"]) for d in listed] == [
        ("Budget.docx", 2, True), ("Budget.docx", 1, False), ("Concept.pdf", 1, True)]
    assert api.get("tha", f"/proposals/{ref}/documents/{first['id']}").content != \
        api.get("tha", f"/proposals/{ref}/documents/{second['id']}").content
    assert other["id"] not in (first["id"], second["id"])


@pytest.mark.parametrize("name,content,reason", [
    ("notes.pdf", b"These are plain notes, not a PDF at all.\n" * 20, "no type accepted"),
    ("cv.pdf", None, "named .pdf but its content is DOCX"),
    ("tool.pdf", b"MZ\x90\x00\x03" + b"\x00" * 400, "only PDF, DOCX, XLSX, ODT, PNG, JPEG"),
    ("archive.zip", b"PK\x03\x04" + b"\x00" * 400, "only PDF"),
])
def test_a_file_whose_content_is_not_accepted_is_refused_and_nothing_is_kept(api, settings, name, content, reason):
    ref = api.create()["reference"]
    r = upload(api, "tha", ref, name, content if content is not None else make_docx())
    assert r.status_code == 415, r.text
    assert reason in r.json()["detail"]
    assert api.get("tha", f"/proposals/{ref}/documents").json() == []
    assert stored_files(settings) == []
    assert [e["action"] for e in api.get("tha", f"/proposals/{ref}/history").json()] == ["create"]


def test_a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept(settings, clock):
    settings = settings.model_copy(update={"max_upload_mb": 1})
    with TestClient(create_app(settings, clock=clock)) as client:
        api = Api(client, clock)
        ref = api.create()["reference"]
        big = make_pdf() + b"%" + os.urandom(1024 * 1024)  # a PDF's head, past 1 MB
        r = upload(api, "tha", ref, "big.pdf", big)
        assert r.status_code == 413, r.text
        assert "1 MB" in r.json()["detail"]
        assert stored_files(settings) == []
        assert upload(api, "tha", ref, "small.pdf", make_pdf()).status_code == 201  # under it: fine


def test_the_stored_name_is_made_safe_and_sent_back_per_rfc_6266(api):
    ref = api.create()["reference"]
    doc = upload(api, "tha", ref, "../../etc/Note d'étude: ‹v2›?.pdf", make_pdf()).json()
    assert doc["name"] == "Note d'étude_ ‹v2›_.pdf"
    assert safe_name("C:\\Users\\x\\a\x00b\x1fc.pdf") == "a_b_c.pdf"  # (httpx would percent-encode these)
    assert safe_name(" ..") == "document" and len(safe_name("n" * 300 + ".docx")) == 200
    noext = upload(api, "tha", ref, "letter", make_pdf(), kind="letter").json()
    assert noext["name"] == "letter.pdf"  # the type's extension, so the download opens
    disposition = api.get("tha", f"/proposals/{ref}/documents/{doc['id']}").headers["content-disposition"]
    star = disposition.split("filename*=UTF-8''")[1]
    assert unquote(star) == "Note d'étude_ ‹v2›_.pdf"
    assert 'filename="Note d\'etude_ v2_.pdf"' in disposition  # the ASCII fallback


def test_bad_fields_are_422_with_the_field_and_a_missing_file_too(api, settings):
    ref = api.create()["reference"]
    r = upload(api, "tha", ref, "a.pdf", make_pdf(), kind="passport", visibility="secret")
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"kind", "visibility"}
    r = upload(api, "tha", ref, "a.pdf", make_pdf(), visibility="internal")
    assert r.status_code == 422 and "only RSO staff" in r.json()["errors"][0]["message"]
    r = api.client.post(f"/api/v1/proposals/{ref}/documents", data={"kind": "other"}, headers=api.headers("tha"))
    assert r.status_code == 422
    r = api.client.post(f"/api/v1/proposals/{ref}/documents", json={"kind": "other"}, headers=api.headers("tha"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    assert stored_files(settings) == []


def test_who_may_attach_and_when(api):
    ref = api.create()["reference"]
    assert upload(api, "phl", ref, "a.pdf", make_pdf()).status_code == 404  # not theirs: not found
    assert upload(api, "cm_aus", ref, "a.pdf", make_pdf()).status_code == 404  # a draft: the RSO sees nothing
    api.act("tha", ref, "submit")
    r = upload(api, "tha", ref, "late.pdf", make_pdf())
    assert r.status_code == 409 and "draft, revision_requested" in r.json()["detail"]
    assert upload(api, "tha2", ref, "late.pdf", make_pdf()).status_code == 409  # any official of THA
    assert upload(api, "cm_aus", ref, "review-notes.pdf", make_pdf(), kind="other",
                  visibility="internal").status_code == 201  # staff: any time
    api.act("cm_aus", ref, "review", recommendation="revise", comment="Add a budget.")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    assert api.get("tha", f"/proposals/{ref}").json()["state"] == "revision_requested"
    assert upload(api, "tha", ref, "budget.pdf", make_pdf(), kind="budget").status_code == 201
    api.act("cm_idn", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"]], expect=409)


def _consulted(api: Api) -> str:
    ref = api.create()["reference"]
    assert upload(api, "tha", ref, "concept.pdf", make_pdf()).status_code == 201
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"]])
    return ref


def test_who_reads_what_documents_and_comments_for_every_role(api):
    ref = _consulted(api)
    internal = upload(api, "cm_aus", ref, "assessment.pdf", make_pdf("internal"), kind="other",
                      visibility="internal").json()
    shared = api.get("cm_aus", f"/proposals/{ref}/documents").json()
    shared_id = next(d["id"] for d in shared if d["name"] == "concept.pdf")
    assert api.post("cm_aus", f"/proposals/{ref}/comments", {"body": "Shared question"}).status_code == 201
    assert api.post("cm_idn", f"/proposals/{ref}/comments",
                    {"body": "Between us", "visibility": "internal"}).status_code == 201
    assert api.post("tha", f"/proposals/{ref}/comments", {"body": "Our answer"}).status_code == 201

    everything = {"docs": {"concept.pdf", "assessment.pdf"},
                  "comments": ["Shared question", "Between us", "Our answer"]}
    outside = {"docs": {"concept.pdf"}, "comments": ["Shared question", "Our answer"]}
    expected = {"cm_aus": everything, "cm_idn": everything, "chair_aus": everything, "admin": everything,
                "tha": outside, "tha2": outside, "iom": outside, "phl": None, "tip": None}
    for who, sees in expected.items():
        docs = api.get(who, f"/proposals/{ref}/documents")
        comments = api.get(who, f"/proposals/{ref}/comments")
        internal_file = api.get(who, f"/proposals/{ref}/documents/{internal['id']}")
        shared_file = api.get(who, f"/proposals/{ref}/documents/{shared_id}")
        if sees is None:  # may not see the item: nothing of it exists for them
            assert {docs.status_code, comments.status_code, internal_file.status_code,
                    shared_file.status_code} == {404}, who
            continue
        assert {d["name"] for d in docs.json()} == sees["docs"], who
        assert [c["body"] for c in comments.json()] == sees["comments"], who
        assert shared_file.status_code == 200, who
        assert internal_file.status_code == (200 if "assessment.pdf" in sees["docs"] else 404), who
        timeline = [e for e in api.get(who, f"/proposals/{ref}/history").json() if e["action"] == "comment"]
        assert [e["comment"] for e in timeline] == sees["comments"], who
    # a document id asked for under another item is not found either
    other = api.create(who="phl")["reference"]
    assert api.get("phl", f"/proposals/{other}/documents/{shared_id}").status_code == 404
    # a stakeholder reads, and neither comments nor attaches
    assert api.post("iom", f"/proposals/{ref}/comments", {"body": "May I?"}).status_code == 403
    assert upload(api, "iom", ref, "advice.pdf", make_pdf()).status_code == 403


def test_comments_are_plain_text_in_order_with_the_lifecycle_and_refused_when_bad(api):
    ref = api.create()["reference"]
    r = api.post("tha", f"/proposals/{ref}/comments", {"body": "Anyone there?"})
    assert r.status_code == 409 and "submit the item first" in r.json()["detail"]
    api.act("tha", ref, "submit")
    body = "<script>alert(1)</script> see https://example.org/x?a=1&b=2"
    c = api.post("cm_aus", f"/proposals/{ref}/comments", {"body": f"  {body}  "})
    assert c.status_code == 201 and c.json()["body"] == body  # kept as written, trimmed
    assert api.post("cm_aus", f"/proposals/{ref}/comments", {"body": "   "}).status_code == 422
    long = api.post("cm_aus", f"/proposals/{ref}/comments", {"body": "x" * 5001})
    assert long.status_code == 422 and "5,000" in long.json()["errors"][0]["message"]
    assert api.post("cm_aus", f"/proposals/{ref}/comments", {"body": "hi", "extra": 1}).status_code == 422
    api.act("cm_aus", ref, "review", recommendation="endorse")
    assert [e["action"] for e in api.get("tha", f"/proposals/{ref}/history").json()] == [
        "create", "submit", "comment", "review"]
    assert api.get("tha", f"/proposals/{ref}").json()["state"] == "co_manager_review"  # no state change


def test_comments_email_the_other_side_through_the_outbox(mail_api, smtp_inbox):
    api, settings = mail_api
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    deliver_pass(settings)
    smtp_inbox.messages.clear()

    api.post("cm_aus", f"/proposals/{ref}/comments", {"body": "Which provinces will take part?"})
    deliver_pass(settings)
    assert [m["To"].addresses[0].addr_spec for m in smtp_inbox.messages] == [ROSTER["tha"]["email"]]  # the submitter
    text, html = parts(smtp_inbox.messages[0])
    assert "Which provinces will take part?" in text and "Co-Manager AUS" in text
    assert "Which provinces will take part?" in html and ref in smtp_inbox.messages[0]["Subject"]

    smtp_inbox.messages.clear()
    api.post("tha", f"/proposals/{ref}/comments", {"body": "Songkhla & <Satun>"})
    deliver_pass(settings)
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_inbox.messages) == sorted([ROSTER["cm_aus"]["email"],
                                                                   ROSTER["cm_idn"]["email"]])
    assert "Songkhla &amp; &lt;Satun&gt;" in parts(smtp_inbox.messages[0])[1]  # escaped in the HTML part

    smtp_inbox.messages.clear()
    api.post("cm_aus", f"/proposals/{ref}/comments", {"body": "Note to self", "visibility": "internal"})
    deliver_pass(settings)
    assert [m["To"].addresses[0].addr_spec for m in smtp_inbox.messages] == [ROSTER["cm_idn"]["email"]]  # staff


def test_secondments_take_documents_and_comments_the_same_way(api):
    ref = api.nominate()["reference"]
    cv = upload(api, "tha", ref, "CV Somchai.docx", make_docx(), kind="cv", path="secondments")
    assert cv.status_code == 201 and cv.json()["content_type"] == DOCX_TYPE
    api.s_act("tha", ref, "submit")
    assert api.post("cm_idn", f"/secondments/{ref}/comments", {"body": "Is the nominee available in March?"}
                    ).status_code == 201
    assert [c["body"] for c in api.get("tha", f"/secondments/{ref}/comments").json()] == [
        "Is the nominee available in March?"]
    assert api.get("phl", f"/secondments/{ref}/documents").status_code == 404


def test_a_file_left_by_a_failed_transaction_is_swept_up_and_a_referenced_one_is_kept(api, settings):
    ref = api.create()["reference"]
    kept = upload(api, "tha", ref, "kept.pdf", make_pdf("kept")).json()

    async def run():
        svc = build_services(settings)
        try:
            # a file written and flushed whose transaction then failed: no row points at it
            upload_ = svc.storage.begin(svc.upload_limit)
            await upload_.write(make_pdf("orphan"))
            orphan = (await upload_.finish()).sha256
            assert await sweep_storage(svc, older_than=3600) == []  # too recent: may be in flight
            old = time.time() - 7200  # wall clock ok: file times are the file system's
            for p in stored_files(settings):
                os.utime(p, (old, old))
            return orphan, await sweep_storage(svc, older_than=3600)
        finally:
            await svc.dispose()

    orphan, removed = asyncio.run(run())
    assert removed == [orphan]
    assert [p.name for p in stored_files(settings)] == [kept["sha256"]]
    assert api.get("tha", f"/proposals/{ref}/documents/{kept['id']}").status_code == 200


def test_odd_uploads_get_a_clear_answer_and_leave_nothing(api, settings):
    ref = api.create()["reference"]
    long = upload(api, "tha", ref, "x" * 250, make_pdf())  # no extension: one is added, within 200
    assert long.status_code == 201 and len(long.json()["name"]) == 200 and long.json()["name"].endswith(".pdf")
    kept = len(stored_files(settings))
    headers = {**api.headers("tha"), "Content-Type": "multipart/form-data; boundary=XyZ"}
    cut = (b'--XyZ\r\nContent-Disposition: form-data; name="kind"\r\n\r\nconcept_note\r\n'
           b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n' + make_pdf()[:300])
    r = api.client.post(f"/api/v1/proposals/{ref}/documents", content=cut, headers=headers)
    assert r.status_code == 422 and "closing boundary" in r.text  # a cut-off body is no document
    r = upload(api, "tha", ref, "", b"")  # a browser's form with no file chosen
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = upload(api, "tha", ref, "empty.pdf", b"")
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "file", "message": "is empty"}]
    assert len(stored_files(settings)) == kept and len(api.get("tha", f"/proposals/{ref}/documents").json()) == 1
    # only the real upload routes take big bodies
    r = api.client.post(f"/api/v1/proposals/{ref}/actions/documents", content=b"x" * (300 * 1024),
                        headers=api.headers("tha"))
    assert r.status_code == 413
    assert api.get("tha", f"/proposals/{ref}/documents/{2**40}").status_code in (404, 422)


def test_the_sweep_leaves_a_file_an_upload_put_back_while_it_ran(tmp_path):
    from services.infra.storage import LocalStorage
    store = LocalStorage(tmp_path)

    async def run():
        up = store.begin(10 * 1024 * 1024)
        await up.write(make_pdf("same content"))
        sha = (await up.finish()).sha256
        old = time.time() - 7200  # wall clock ok: file times are the file system's
        os.utime(store.path(sha), (old, old))
        calls = []

        async def referenced(names):
            calls.append(list(names))
            if len(calls) == 2:  # meanwhile an upload of the same content finished: its own new file
                again = store.begin(10 * 1024 * 1024)
                await again.write(make_pdf("same content"))
                await again.finish()
            return set()
        removed = await store.sweep(referenced, older_than=3600)
        return sha, removed, calls
    sha, removed, calls = asyncio.run(run())
    assert len(calls) == 2 and removed == [] and store.path(sha).exists()
    assert list((tmp_path / "quarantine").iterdir()) == []
