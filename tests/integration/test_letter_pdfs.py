"""A sent letter kept as the PDF that is posted: made in the sending transaction, opening and rendering, in
large print when the complaint's reasonable adjustments ask for it, downloadable, exported, and gone when
the complaint is anonymised."""
from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import pypdfium2
import pypdfium2.raw as pdfium
import pytest
from sqlalchemy import select

from tests.conftest import make_user
from tests.integration.test_caseworker import app, log, open_task, post, sign_in, web  # noqa: F401
from workflow_app.casework import letters as letters_module
from workflow_app.casework import retention
from workflow_app.casework.case_record import CaseRecord
from workflow_app.casework.letters import LetterService
from workflow_app.casework.models import AuditEvent, Complaint, Letter, LetterPdf
from workflow_app.diagrams.printed_letters import LARGE_PRINT_PT, STANDARD_PT

A4 = (595, 842)
"""A4 in PDF points (210 mm × 297 mm), rounded."""


def acknowledged(client, runtime, **changes) -> tuple[str, int]:
    """A complaint logged through the web whose acknowledgement letter is a draft."""
    reference = log(client, **changes)
    task = open_task(runtime, reference)
    assert post(client, f"/tasks/{task.id}", {"data": json.dumps({"complaint_definition": "Leak"})}).status_code == 302
    with runtime.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        letter = session.scalars(select(Letter).where(Letter.complaint_id == complaint.id,
                                                      Letter.template == "acknowledgement")).one()
        return reference, letter.id


def sent(client, runtime, user, **changes) -> tuple[str, int]:
    reference, letter_id = acknowledged(client, runtime, **changes)
    LetterService(runtime.sessions, runtime.casework, None).send(letter_id, user)
    return reference, letter_id


def stored(runtime, letter_id: int) -> LetterPdf | None:
    with runtime.sessions() as session:
        row = session.scalars(select(LetterPdf).where(LetterPdf.letter_id == letter_id)).first()
        session.expunge_all()
        return row


@contextmanager
def opened(content: bytes) -> Iterator[pypdfium2.PdfDocument]:
    pdf = pypdfium2.PdfDocument(content)
    try:
        yield pdf
    finally:
        pdf.close()


def font_size_at(pdf: pypdfium2.PdfDocument, words: str) -> float:
    """The font size of the first character of `words` on the first page, as the PDF sets it (in its text
    space: WeasyPrint scales CSS pixels to points with the text matrix, so compare sizes, not points)."""
    text = pdf[0].get_textpage()
    found = text.search(words).get_next()
    assert found is not None, f"{words!r} is not on the first page"
    return pdfium.FPDFText_GetFontSize(text.raw, found[0])


def glyph_height(pdf: pypdfium2.PdfDocument, words: str) -> float:
    """The height in points (on paper) of the first character of `words` on the first page."""
    text = pdf[0].get_textpage()
    found = text.search(words).get_next()
    assert found is not None, f"{words!r} is not on the first page"
    _, bottom, _, top = text.get_charbox(found[0])
    return top - bottom


def test_a_sent_letter_is_kept_as_a_pdf_that_opens_and_renders(web, deployed, caseworker):
    reference, letter_id = sent(web, deployed, caseworker)
    row = stored(deployed, letter_id)
    assert row is not None and row.content.startswith(b"%PDF-") and row.size == len(row.content)
    assert row.print_size_pt == STANDARD_PT

    with opened(row.content) as pdf:
        assert len(pdf) == row.pages >= 1
        page = pdf[0]
        assert tuple(round(side) for side in page.get_size()) == A4
        text = page.get_textpage().get_text_range()
        assert reference in text and "Dear Ada Resident" in text and "Housing Ombudsman Service" in text
        image = page.render(scale=1).to_pil().convert("L")
        assert abs(image.width - A4[0]) <= 1 and abs(image.height - A4[1]) <= 1
        darkest, lightest = image.getextrema()
        assert lightest == 255 and darkest < 64                     # white paper with dark text on it
        inked = image.histogram()[:128]
        assert 0.001 < sum(inked) / (image.width * image.height) < 0.2
        # a capital of a sans-serif font stands about 0.7 of its size high: "D" in 12 pt, about 8.6 pt
        assert 0.6 * STANDARD_PT < glyph_height(pdf, "Dear Ada") < 0.8 * STANDARD_PT

    with deployed.sessions() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.type == "letter_pdf_made")).all()
        assert event.details["letter_id"] == letter_id and event.details["sha256"] == row.sha256
        assert event.details["print_size_pt"] == STANDARD_PT and event.details["pages"] == row.pages


def test_large_print_when_the_adjustments_ask_for_it(web, deployed, caseworker):
    _, standard = sent(web, deployed, caseworker)
    _, large = sent(web, deployed, caseworker, adjustments="Large print letters, please",
                    review_on="2027-03-01", confirmed="1")      # the same resident's second complaint
    normal, bigger = stored(deployed, standard), stored(deployed, large)
    assert (normal.print_size_pt, bigger.print_size_pt) == (STANDARD_PT, LARGE_PRINT_PT)
    with opened(normal.content) as normal_pdf, opened(bigger.content) as bigger_pdf:
        assert font_size_at(bigger_pdf, "Dear Ada") / font_size_at(normal_pdf, "Dear Ada") == \
            pytest.approx(LARGE_PRINT_PT / STANDARD_PT, rel=0.001)
        assert glyph_height(bigger_pdf, "Dear Ada") / glyph_height(normal_pdf, "Dear Ada") == \
            pytest.approx(LARGE_PRINT_PT / STANDARD_PT, rel=0.05)
        assert 0.6 * LARGE_PRINT_PT < glyph_height(bigger_pdf, "Dear Ada") < 0.8 * LARGE_PRINT_PT
    assert "large print 16 pt" in web.get(f"/letters/{large}").get_data(as_text=True)


def test_the_size_an_adjustment_records_and_a_later_review_count(web, deployed, caseworker):
    reference, letter_id = acknowledged(web, deployed, adjustments="Large print letters", review_on="2027-03-01")
    CaseRecord(deployed.sessions, deployed.casework).record_support_needs(
        reference, "Letters in 20 point Arial", None, _today_or_later(), caseworker)
    assert "will be in large print (20 pt)" in web.get(f"/letters/{letter_id}").get_data(as_text=True)
    LetterService(deployed.sessions, deployed.casework, None).send(letter_id, caseworker)
    row = stored(deployed, letter_id)
    assert row.print_size_pt == 20
    with opened(row.content) as pdf:
        assert 0.6 * 20 < glyph_height(pdf, "Dear Ada") < 0.8 * 20


def test_the_pdf_is_made_in_the_sending_transaction_or_not_at_all(web, deployed, caseworker, monkeypatch):
    """A failure while sending (here the printing itself) leaves the letter a draft, with no PDF and no event:
    what a crash before the commit leaves too."""
    _, letter_id = acknowledged(web, deployed)

    def broken(*_args, **_kwargs):
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(letters_module, "print_letter", broken)
    with pytest.raises(RuntimeError):
        LetterService(deployed.sessions, deployed.casework, None).send(letter_id, caseworker)
    with deployed.sessions() as session:
        assert session.get(Letter, letter_id).status == "draft"
        assert session.scalar(select(LetterPdf.id)) is None
        assert session.scalars(select(AuditEvent.type).where(AuditEvent.type.in_(
            ("letter_sent", "letter_pdf_made")))).all() == []


def test_caseworkers_and_managers_download_it_and_other_landlords_cannot(app, web, deployed, caseworker):
    reference, letter_id = sent(web, deployed, caseworker)
    row = stored(deployed, letter_id)
    response = web.get(f"/letters/{letter_id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == row.content
    assert f"{reference}-{letter_id:04d}-acknowledgement.pdf" in response.headers["Content-Disposition"]
    assert f"/letters/{letter_id}/pdf" in web.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert f"/letters/{letter_id}/pdf" in web.get(f"/complaints/{reference}").get_data(as_text=True)

    make_user(deployed, "mona", ["manager"])
    manager = app.test_client()
    assert sign_in(manager, "mona").status_code == 302
    assert manager.get(f"/letters/{letter_id}/pdf").data == row.content

    make_user(deployed, "gary", ["caseworker"], ["great_places"])
    outsider = app.test_client()
    sign_in(outsider, "gary")
    assert outsider.get(f"/letters/{letter_id}/pdf").status_code == 404


def test_a_draft_has_no_pdf(web, deployed):
    _, letter_id = acknowledged(web, deployed)
    assert web.get(f"/letters/{letter_id}/pdf").status_code == 404


def test_the_export_holds_the_pdf_and_anonymising_removes_it(web, deployed, caseworker):
    reference, letter_id = sent(web, deployed, caseworker)
    row = stored(deployed, letter_id)
    name = f"letters/{letter_id:04d}-acknowledgement.pdf"
    records = CaseRecord(deployed.sessions, deployed.casework)
    with zipfile.ZipFile(io.BytesIO(records.export(reference, caseworker))) as archive:
        assert archive.read(name) == row.content
        [entry] = [e for e in json.loads(archive.read("record.json"))["letters"] if e["id"] == letter_id]
        assert entry["pdf"] == name

    with deployed.sessions.begin() as session:
        retention.anonymise(session, deployed.casework, reference, "tester")
    assert stored(deployed, letter_id) is None
    with zipfile.ZipFile(io.BytesIO(records.export(reference, caseworker))) as archive:
        assert name not in archive.namelist()
        assert all(e["pdf"] is None for e in json.loads(archive.read("record.json"))["letters"])
    assert web.get(f"/letters/{letter_id}/pdf").status_code == 404


def _today_or_later():
    from workflow_app.rules import clock
    from workflow_app.rules.calendar import london_date
    return london_date(clock.now())
