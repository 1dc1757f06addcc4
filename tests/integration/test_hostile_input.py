"""Hostile input through the browser: scripts in free text, attachment names and types, sizes."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from tests.integration.test_caseworker import COMPLAINT_FORM, app, csrf, log, open_task, post, web  # noqa: F401  (fixtures)
from workflow_app.casework.case_record import MAX_ATTACHMENT_BYTES
from workflow_app.casework.models import Attachment, Complaint

SCRIPT = "<script>alert('pwned')</script>"


def attach(web, reference, name, content=b"%PDF-1.4 evidence"):
    return web.post(f"/complaints/{reference}/attachments",
                    data={"attachment": (io.BytesIO(content), name),
                          "csrf_token": csrf(web, f"/complaints/{reference}")},
                    content_type="multipart/form-data")


def stored(deployed) -> list[tuple[str, str]]:
    with deployed.sessions() as session:
        return [(a.filename, a.content_type) for a in session.scalars(select(Attachment).order_by(Attachment.id))]


def test_script_in_free_text_is_escaped_on_every_page(web, deployed):
    reference = log(web, summary=SCRIPT, resident_name=f"Ann {SCRIPT}", outcomes_sought=SCRIPT)
    for path in (f"/complaints/{reference}", "/inbox?view=all", f"/complaints?q={reference}"):
        page = web.get(path).get_data(as_text=True)
        assert SCRIPT not in page, path
    assert "&lt;script&gt;" in web.get(f"/complaints/{reference}").get_data(as_text=True)


@pytest.mark.parametrize("name, ending", [
    ("../../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
    ("/absolute/path/photo.jpg", "photo.jpg"),
    ("report\x00.pdf", ".pdf"),
])
def test_attachment_names_cannot_climb_out(web, deployed, name, ending):
    reference = log(web)
    attach(web, reference, name)
    [(kept, _)] = stored(deployed)
    assert kept.endswith(ending)
    assert not {"/", "\\", "\x00"} & set(kept) and ".." not in kept


@pytest.mark.parametrize("name", ["page.html", "script.js", "image.svg", "setup.exe", "macro.docm", "noextension"])
def test_disallowed_attachment_types_are_refused(web, deployed, name):
    reference = log(web)
    response = attach(web, reference, name)
    assert response.status_code == 302
    assert stored(deployed) == []
    assert "cannot be attached" in web.get(response.headers["Location"]).get_data(as_text=True)


def test_the_stored_type_comes_from_the_allow_list_not_the_upload(web, deployed):
    reference = log(web)
    web.post(f"/complaints/{reference}/attachments",
             data={"attachment": (io.BytesIO(b"<html>"), "letter.pdf", "text/html"),
                   "csrf_token": csrf(web, f"/complaints/{reference}")}, content_type="multipart/form-data")
    assert stored(deployed) == [("letter.pdf", "application/pdf")]
    [link] = re.findall(r'href="(/complaints/[^"]+/attachments/\d+)"', web.get(f"/complaints/{reference}")
                        .get_data(as_text=True))
    download = web.get(link)
    assert download.headers["Content-Type"].split(";")[0] in ("application/pdf", "application/octet-stream")
    assert download.data == b"<html>"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_oversized_attachments_are_refused(app, web, deployed):
    app.config["MAX_CONTENT_LENGTH"] = MAX_ATTACHMENT_BYTES * 2
    reference = log(web)
    response = attach(web, reference, "huge.pdf", b"x" * (MAX_ATTACHMENT_BYTES + 1))
    assert response.status_code in (302, 413)
    assert stored(deployed) == []


@pytest.mark.parametrize("field, value", [("summary", "Leak\x00ing"), ("resident_name", "Ann\x00"),
                                          ("outcomes_sought", "\x00")])
def test_a_nul_in_the_log_form_is_refused_on_every_database(web, deployed, field, value):
    """PostgreSQL cannot store a NUL and SQLite would: both refuse it before a view reads the form."""
    response = post(web, "/complaints/new", {**COMPLAINT_FORM, field: value}, "/complaints/new")
    assert response.status_code == 400
    assert "cannot be stored" in response.get_data(as_text=True)
    with deployed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0


def test_a_nul_in_a_search_is_refused_not_an_error(web, deployed):
    response = web.get("/complaints?q=TH%00")
    assert response.status_code == 400


@pytest.mark.parametrize("data", ["[" * 5000 + "]" * 5000, '{"a": "\\u0000"}', '{"\\ud800": 1}'])
def test_a_task_form_no_database_can_store_is_refused_and_the_task_stays_open(web, deployed, data):
    reference = log(web)
    task = open_task(deployed, reference)
    response = post(web, f"/tasks/{task.id}", {"data": data}, f"/tasks/{task.id}")
    assert response.status_code in (400, 422)
    assert "could not be read" in response.get_data(as_text=True) or "cannot" in response.get_data(as_text=True)
    assert open_task(deployed, reference).id == task.id
