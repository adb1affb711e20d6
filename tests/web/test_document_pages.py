"""Documents and comments on the item page, through the cookie-keeping client: the upload
control, the list with its download links, the comment box, the timeline."""
from __future__ import annotations

import re

from tests.api.test_documents import make_docx, make_pdf


def _upload(b, ref, name, content, kind="concept_note", **fields):
    token = b.csrf(f"/proposals/{ref}")
    return b.client.post(f"/proposals/{ref}/documents", data={"csrf": token, "kind": kind, **fields},
                         files={"file": (name, content)}, follow_redirects=True)


def _draft(b) -> str:
    r = b.post("/proposals/new", {"title": "Maritime search and rescue coordination", "intent": "draft"},
               csrf_from="/proposals/new")
    return re.search(r"(RSO-P-\d{4}-\d{4})", r.url.path).group(1)


def test_attach_on_the_page_download_and_converse_in_the_timeline(web):
    tha, cm = web(), web()
    tha.sign_in("tha")
    ref = _draft(tha)
    page = tha.get(f"/proposals/{ref}").text
    assert 'enctype="multipart/form-data"' in page and "No documents yet." in page
    pdf = make_pdf()
    r = _upload(tha, ref, "Concept note.pdf", pdf)
    assert r.status_code == 200 and "Done: Document attached." in r.text
    link = re.search(rf'href="(/proposals/{ref}/documents/\d+)" download>Concept note.pdf<', r.text).group(1)
    assert re.search(r"<td>Concept note</td>", r.text) and "Thai official" in r.text
    got = tha.get(link)
    assert got.content == pdf and got.headers["content-disposition"].startswith("attachment;")

    r = _upload(tha, ref, "CV.pdf", make_docx(), kind="cv")  # a DOCX named .pdf
    assert r.status_code == 415 and "named .pdf but its content is DOCX" in r.text
    r = tha.client.post(f"/proposals/{ref}/documents", data={"kind": "other"},
                        files={"file": ("x.pdf", pdf)})  # no CSRF token: nothing kept
    assert r.status_code == 403
    assert len(re.findall(r'download>', tha.get(f"/proposals/{ref}").text)) == 1

    # a draft: no comment box yet; submitted, the member state loses the upload control
    assert 'name="body"' not in tha.get(f"/proposals/{ref}").text
    version = re.search(r'name="version" value="(\d+)"', tha.get(f"/proposals/{ref}/edit").text).group(1)
    fields = {"title": "Maritime search and rescue coordination", "summary": "Two workshops.",
              "engagement_type": "new_project", "scope": "regional", "thematic_areas": ["irregular_migration"],
              "intent": "submit", "version": version}
    assert "Submitted." in tha.post(f"/proposals/{ref}/edit", fields).text
    page = tha.get(f"/proposals/{ref}").text
    assert 'enctype="multipart/form-data"' not in page and 'name="body"' in page
    assert 'value="internal"' not in page  # a member state writes shared comments only

    cm.sign_in("cm_aus")
    r = cm.post(f"/proposals/{ref}/comments", {"body": "See https://example.org/guide and <b>this</b>."},
                csrf_from=f"/proposals/{ref}")
    assert r.status_code == 200 and "Done: Comment." in r.text
    assert '<a href="https://example.org/guide" rel="nofollow noopener noreferrer">https://example.org/guide</a>' in r.text
    assert "&lt;b&gt;this&lt;/b&gt;" in r.text
    r = cm.post(f"/proposals/{ref}/comments", {"body": "javascript:alert(1) between us", "visibility": "internal"},
                csrf_from=f"/proposals/{ref}")
    assert "between us" in r.text and 'href="javascript' not in r.text
    assert cm.get(link).content == pdf  # staff download the member state's file

    page = tha.get(f"/proposals/{ref}").text
    assert "https://example.org/guide" in page and "between us" not in page
    r = tha.post(f"/proposals/{ref}/comments", {"body": "   "}, csrf_from=f"/proposals/{ref}")
    assert r.status_code == 422 and "must not be empty" in r.text
    stake = web()
    stake.sign_in("iom")
    assert stake.get(link).status_code == 404


def test_the_draft_form_has_the_upload_control_and_the_new_form_says_how(web):
    b = web()
    b.sign_in("tha")
    assert "save as a draft: the upload is on the draft" in b.get("/proposals/new").text
    ref = _draft(b)
    form = b.get(f"/proposals/{ref}/edit").text
    assert f'action="/proposals/{ref}/documents?back=edit"' in form and 'type="file"' in form
    token = b.csrf(f"/proposals/{ref}/edit")
    r = b.client.post(f"/proposals/{ref}/documents?back=edit", data={"csrf": token, "kind": "budget"},
                      files={"file": ("Budget.pdf", make_pdf("budget"))}, follow_redirects=True)
    assert r.status_code == 200 and r.url.path == f"/proposals/{ref}/edit"
    assert "Done: Document attached." in r.text and ">Budget.pdf<" in r.text


def test_a_document_id_out_of_range_on_a_page_is_not_an_error_of_ours(web):
    b = web()
    b.sign_in("tha")
    ref = _draft(b)
    assert b.get(f"/proposals/{ref}/documents/{2**40}").status_code in (404, 422)
    assert b.get(f"/proposals/{ref}/documents/99").status_code == 404
