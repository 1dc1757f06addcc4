"""Letters as posted: the print size an adjustment asks for, and a PDF made from the letter alone (nothing
fetched from the network or the server's files), the same each time."""
from __future__ import annotations

import http.server
import threading
from datetime import UTC, datetime
from typing import ClassVar

import pypdfium2
import pytest

from workflow_app.diagrams.printed_letters import LARGE_PRINT_PT, STANDARD_PT, print_letter, print_size

SENT = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)
LETTER = ("<header><p><strong>Testshire Homes</strong><br>1 High Street<br>Testshire</p>"
          "<p>Ada Resident<br>2 Low Road</p><p>Our reference: TH-2027-000001</p></header>"
          "<p>Dear Ada Resident,</p><p>We have logged your complaint.</p>")


@pytest.mark.parametrize(("adjustments", "size"), [
    ((None,), STANDARD_PT),
    (("Calls only after 2pm", ""), STANDARD_PT),
    (("Large print letters",), LARGE_PRINT_PT),
    (("needs LARGER FONT on everything",), LARGE_PRINT_PT),
    (("large-print please",), LARGE_PRINT_PT),
    (("Large print, 18 point",), 18),
    (("letters in 20pt Arial",), 20),
    (("No large print needed",), STANDARD_PT),
    (("does not need large print; an interpreter",), STANDARD_PT),
    (("Call on 0161 555 0000 between 10 and 11",), STANDARD_PT),   # numbers that are not sizes
    (("page 2 of 10 point form",), STANDARD_PT),                   # 10 point: smaller than the standard
    (("Letters in 120pt",), STANDARD_PT),                          # not a print size
    (("Large print", "24 point font"), 24),                       # of several records, the largest
])
def test_the_print_size_an_adjustment_asks_for(adjustments, size):
    assert print_size(*adjustments) == size


def printed(body: str = LETTER, **options):
    return print_letter(body, title="Acknowledgement letter: TH-2027-000001", reference="TH-2027-000001",
                        landlord="Testshire Homes", sent_at=SENT, **options)


def test_the_same_letter_prints_the_same_pdf_each_time():
    first, second = printed(), printed()
    assert first.content == second.content and first.sha256 == second.sha256
    assert (first.pages, first.size_pt) == (1, STANDARD_PT)
    assert printed(size_pt=LARGE_PRINT_PT).content != first.content


def test_the_page_names_the_reference_and_counts_the_pages():
    pdf = pypdfium2.PdfDocument(printed(LETTER + "<p>More.</p>" * 120).content)
    try:
        assert len(pdf) >= 2
        last = pdf[len(pdf) - 1].get_textpage().get_text_range()
        assert "TH-2027-000001" in last and f"Page {len(pdf)} of {len(pdf)}" in last
    finally:
        pdf.close()


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self):
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *_):
        pass


def test_printing_fetches_nothing_from_the_network_or_the_servers_files(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        secret = tmp_path / "secret.css"
        secret.write_text("p { color: red }")
        body = (f'<link rel="stylesheet" href="{url}/style.css"><style>@import url("{url}/import.css"); '
                f'@font-face {{ font-family: Remote; src: url("{url}/font.woff2") }} '
                f'p {{ font-family: Remote; background: url("{url}/background.png") }}</style>'
                f'<img src="{url}/logo.png"><img src="file://{secret}">' + LETTER)
        letter = printed(body)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert _Counting.hits == []
    assert letter.content.startswith(b"%PDF-") and letter.pages == 1


def test_a_landlords_own_print_stylesheet_replaces_the_shared_one(tmp_path):
    (tmp_path / "print.css").write_text("@page { size: A5; margin: 10mm }")
    pdf = pypdfium2.PdfDocument(printed(folder=tmp_path).content)
    try:
        assert tuple(round(side) for side in pdf[0].get_size()) == (420, 595)     # A5 in points
    finally:
        pdf.close()
