"""Letters to residents: the draft the diagram issued, edited by a caseworker, then sent.

The engine creates a draft `Letter` when the diagram issues one, rendered from the
landlord's template (`processes/<landlord>/letters/<template>.html`). Here a caseworker
edits it (the HTML is cleaned to a safe set of tags) and sends it: the letter is stored on
the complaint exactly as sent, with the PDF that is posted (`diagrams.printed_letters`: large
print when the complaint's reasonable adjustments ask for it), and emailed through SMTP when the
`WORKFLOW_APP_SMTP_*` settings name a server and the resident (or their representative)
has an email address; the PDF is posted either way. The email is written to the
outbox in the transaction that stores the letter as sent, and goes out after it commits
(`casework.outbox`); the letter page shows how it is going.

A letter the Code requires (acknowledgements, extensions, responses, refusals) can never be
marked "not needed", and no task of the complaint can be completed while one is unsent
(`TaskService.complete` refuses, so the browser and the API answer alike).
"""
from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import nh3
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.casework import audit, outbox
from workflow_app.casework.complaints import transaction
from workflow_app.casework.engine import Casework
from workflow_app.casework.models import Complaint, Letter, LetterPdf, OutboxEmail, SupportNeeds, User
from workflow_app.casework.outbox import SmtpSettings
from workflow_app.diagrams.letter_templates import letter_environment
from workflow_app.diagrams.printed_letters import STANDARD_PT, PrintedLetter, print_letter, print_size
from workflow_app.rules import clock
from workflow_app.rules.errors import Conflict, InvalidInput, NotFound
from workflow_app.rules.regime import HOUSING_OMBUDSMAN, Regime
from workflow_app.rules.statuses import LetterStatus

MAX_LETTER = 200_000
ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "h1", "h2", "h3", "h4",
                "table", "thead", "tbody", "tr", "th", "td", "address", "blockquote", "hr", "span", "div",
                "section", "header", "footer", "main", "dl", "dt", "dd", "a"}


def code_required(template: str, regime: Regime = HOUSING_OMBUDSMAN) -> bool:
    """True when the complaint's regime (its landlord's `regime`) requires the letter drafted from this
    template; the Housing Ombudsman's Code when no landlord is at hand."""
    return regime.requires_letter(template)


def unsent_required(session: Session, complaint_id: int, regime: Regime) -> list[Letter]:
    """The complaint's drafts of letters its regime requires, oldest first: each must be sent before more work."""
    return [letter for letter in session.scalars(_DRAFTS, {"complaint_id": complaint_id})
            if code_required(letter.template, regime)]


_DRAFTS = select(Letter).where(Letter.complaint_id == bindparam("complaint_id"),
                               Letter.status == LetterStatus.DRAFT).order_by(Letter.id)
"""A complaint's drafts, oldest first: built once (every completion on a complaint with a draft reads them)."""


def clean_html(body: str) -> str:
    """Only a letter's safe formatting survives: no scripts, styles, event handlers or images."""
    return nh3.clean(body, tags=ALLOWED_TAGS, attributes={"a": {"href"}, "td": {"colspan"}, "th": {"colspan"}},
                     url_schemes={"https", "mailto", "tel"}, link_rel="noopener noreferrer",
                     clean_content_tags={"script", "style", "title", "head"})


def plain_text(body: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</(p|h[1-6]|li|tr|div|address|section)>", "\n", body)
    text = nh3.clean(text, tags=set())
    text = re.sub(r"&nbsp;", " ", text).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip() + "\n"


class LetterService:
    """Editing, sending and (only for letters the Code does not require) setting aside letters."""

    def __init__(self, sessions: sessionmaker[Session], casework: Casework, smtp: SmtpSettings | None,
                 printing: bool = True) -> None:
        self.sessions = sessions
        self.casework = casework
        self.smtp = smtp
        self.printing = printing
        """Make each sent letter's PDF: off only for runs whose database is thrown away (Try it, the simulator)."""
        self._defaults = letter_environment(None)

    def _letter(self, session: Session, letter_id: int, user: User) -> tuple[Letter, Complaint]:
        letter = session.get(Letter, letter_id)
        complaint = session.get(Complaint, letter.complaint_id) if letter is not None else None
        if letter is None or not user.may_see(complaint.landlord):
            raise NotFound(f"no letter {letter_id}")
        return letter, complaint

    def view(self, letter_id: int, user: User) -> dict[str, Any]:
        """The letter, its complaint and landlord, and its body (a starting draft when the template had none)."""
        with self.sessions() as session:
            letter, complaint = self._letter(session, letter_id, user)
            email = self._email_of(session, letter.id)
            pdf = session.execute(select(LetterPdf.size, LetterPdf.pages, LetterPdf.print_size_pt)
                                  .where(LetterPdf.letter_id == letter.id)).first()
            size_pt = pdf.print_size_pt if pdf is not None else \
                print_size(*adjustments(session, self.casework, complaint))
            session.expunge_all()
        landlord = self.casework.landlord(complaint.landlord)
        return {"letter": letter, "complaint": complaint, "landlord": landlord,
                "body": letter.body_html if letter.body_html is not None else self.starting_draft(letter, complaint),
                "required": code_required(letter.template, landlord.regime), "recipient": recipient(complaint),
                "emailed": self.smtp is not None, "email": email, "max_attempts": outbox.MAX_ATTEMPTS,
                "pdf": pdf, "print_size_pt": size_pt, "large_print": size_pt > STANDARD_PT}

    def starting_draft(self, letter: Letter, complaint: Complaint) -> str:
        """The landlord has no template of this name: a plain letter with the facts the Code asks for."""
        landlord = self.casework.landlord(complaint.landlord)
        return self._defaults.get_template("default.html").render(
            letter=letter, complaint=complaint, landlord=landlord, title=letter.template.replace("_", " "),
            today=clock.now())

    def save_draft(self, letter_id: int, body_html: str, user: User) -> None:
        body = _checked_body(body_html)
        with transaction(self.sessions) as session:
            letter, complaint = self._letter(session, letter_id, user)
            if letter.status != LetterStatus.DRAFT:
                raise Conflict("this letter has been sent; it can no longer be changed")
            letter.body_html, letter.edited_at, letter.edited_by = body, clock.now(), user.username
            audit.record(session, complaint, "letter_edited", user.username, letter_id=letter.id,
                         template=letter.template)

    def send(self, letter_id: int, user: User, body_html: str | None = None) -> dict[str, Any]:
        """Store the letter as sent, with the PDF that is posted (`printed_letters`), and, when SMTP is set up
        and there is an address, queue its email in the same transaction: it goes out after the commit
        (`casework.outbox`), and never if the commit fails. The letter, its PDF and their audit events are one
        commit, so a crash leaves either all of them or none."""
        with transaction(self.sessions) as session:
            letter, complaint = self._letter(session, letter_id, user)
            if letter.status != LetterStatus.DRAFT:
                raise Conflict("this letter has already been sent")
            body = _checked_body(body_html) if body_html is not None else \
                letter.body_html if letter.body_html is not None else self.starting_draft(letter, complaint)
            now = clock.now()
            # printed before this transaction writes anything: SQLite's one writer is not held while it prints
            printed = self._printed(session, letter, complaint, body, now) if self.printing else None
            if body_html is not None:
                letter.edited_at, letter.edited_by = now, user.username
            letter.body_html = body
            name, email = recipient(complaint)
            letter.status, letter.sent_at, letter.sent_by = LetterStatus.SENT, now, user.username
            emailed = False
            if email and self.smtp is not None:
                outbox.queue(session, complaint, letter, self._message(complaint, letter, name, email), email)
                letter.sent_to, emailed = email, True
            else:
                letter.sent_to = "post: " + (complaint.resident.get("address") or name or "address not recorded")
            audit.record(session, complaint, "letter_sent", user.username, letter_id=letter.id,
                         template=letter.template, emailed=emailed, sent_to=letter.sent_to)
            if printed is not None:
                session.add(LetterPdf(letter_id=letter.id, complaint_id=complaint.id, content=printed.content,
                                      size=len(printed.content), pages=printed.pages,
                                      print_size_pt=printed.size_pt, sha256=printed.sha256, created_at=now))
                audit.record(session, complaint, "letter_pdf_made", user.username, letter_id=letter.id,
                             template=letter.template, pages=printed.pages, print_size_pt=printed.size_pt,
                             bytes=len(printed.content), sha256=printed.sha256)
            return {"letter": letter.id, "emailed": emailed, "sent_to": letter.sent_to,
                    "reference": complaint.reference}

    def _printed(self, session: Session, letter: Letter, complaint: Complaint, body: str,
                 now: datetime) -> PrintedLetter:
        """The letter as posted: its cleaned HTML on A4, in large print when the adjustments ask for it."""
        landlord = self.casework.landlord(complaint.landlord)
        return print_letter(clean_html(body), title=f"{letter.template.replace('_', ' ').capitalize()} letter: "
                            f"{complaint.reference}", reference=complaint.reference,
                            landlord=landlord.display_name, sent_at=now,
                            size_pt=print_size(*adjustments(session, self.casework, complaint)),
                            folder=Path(landlord.folder) / "letters")

    def pdf(self, letter_id: int, user: User) -> tuple[str, bytes]:
        """A sent letter's PDF and a file name for it (`<reference>-<id>-<template>.pdf`)."""
        with self.sessions() as session:
            letter, complaint = self._letter(session, letter_id, user)
            content = session.scalar(select(LetterPdf.content).where(LetterPdf.letter_id == letter.id))
            if content is None:
                raise NotFound(f"letter {letter_id} has no PDF")
            return pdf_name(complaint.reference, letter), content

    def send_required(self, reference: str, user: User) -> list[int]:
        """Send, as drafted, every letter of the complaint the Code requires that is still a draft: what
        a caseworker in the simulator, Try it or the demo history does before going on."""
        with self.sessions() as session:
            complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).first()
            if complaint is None or not user.may_see(complaint.landlord):
                raise NotFound(f"no complaint {reference}")
            waiting = [letter.id for letter in unsent_required(session, complaint.id, self._regime(complaint))]
        for letter_id in waiting:
            self.send(letter_id, user)
        return waiting

    def set_aside(self, letter_id: int, reason: str, user: User) -> None:
        """Mark a letter the Code does not require as not needed, with the reason."""
        reason = (reason or "").strip()
        with transaction(self.sessions) as session:
            letter, complaint = self._letter(session, letter_id, user)
            if code_required(letter.template, self._regime(complaint)):
                raise Conflict("the Complaint Handling Code requires this letter: it must be sent")
            if letter.status != LetterStatus.DRAFT:
                raise Conflict("this letter is no longer a draft")
            if not reason:
                raise InvalidInput({"reason": "Say why this letter is not needed"})
            letter.status = LetterStatus.NOT_NEEDED
            audit.record(session, complaint, "letter_set_aside", user.username, letter_id=letter.id,
                         template=letter.template, reason=reason[:2000])

    def unsent_required(self, session: Session, complaint_id: int) -> list[Letter]:
        return unsent_required(session, complaint_id, self._regime(session.get(Complaint, complaint_id)))

    def _regime(self, complaint: Complaint) -> Regime:
        return self.casework.landlord(complaint.landlord).regime

    def retry_email(self, letter_id: int, user: User) -> None:
        """Try a letter's failed email again (after the mail server or the address was put right)."""
        with transaction(self.sessions) as session:
            letter, complaint = self._letter(session, letter_id, user)
            email = self._email_of(session, letter.id)
            if email is None:
                raise Conflict("this letter was not emailed")
            outbox.retry(session, complaint, email, user.username)

    @staticmethod
    def _email_of(session: Session, letter_id: int) -> OutboxEmail | None:
        return session.scalars(select(OutboxEmail).where(OutboxEmail.letter_id == letter_id)).first()

    def _message(self, complaint: Complaint, letter: Letter, name: str, email: str) -> EmailMessage:
        """The letter as an email: its text and HTML versions, from the landlord to the resident."""
        landlord = self.casework.landlord(complaint.landlord)
        message = EmailMessage()
        message["Subject"] = f"{landlord.display_name}: your complaint {complaint.reference}"
        message["From"] = self.smtp.sender
        message["To"] = f"{name} <{email}>" if name else email
        message.set_content(plain_text(letter.body_html or ""))
        message.add_alternative(f"<!doctype html><html lang=\"en-GB\"><body>{letter.body_html}</body></html>",
                                subtype="html")
        return message


def adjustments(session: Session, casework: Casework, complaint: Complaint) -> list[str]:
    """The complaint's reasonable adjustments as recorded: the latest review of its support needs (else what
    was given when it was logged), and the answer on the acknowledgement form (`reasonable_adjustments`)."""
    latest = session.execute(select(SupportNeeds.adjustments).where(SupportNeeds.complaint_id == complaint.id)
                             .order_by(SupportNeeds.id.desc()).limit(1)).first()
    recorded = [latest.adjustments if latest is not None else complaint.reasonable_adjustments]
    answer = casework.instance_of(complaint).data().get("reasonable_adjustments")
    return [text for text in (*recorded, answer) if isinstance(text, str) and text.strip()]


def pdf_name(reference: str, letter: Letter) -> str:
    return f"{reference}-{letter.id:04d}-{letter.template}.pdf"


def recipient(complaint: Complaint) -> tuple[str, str | None]:
    """Who a letter goes to: the representative when there is one (they act for the resident)."""
    representative = complaint.representative or {}
    person = representative if representative.get("email") else (complaint.resident or {})
    return person.get("name") or "", person.get("email") or None


def _checked_body(body_html: str | None) -> str:
    if not isinstance(body_html, str) or not body_html.strip():
        raise InvalidInput({"body_html": "The letter is empty"})
    if len(body_html) > MAX_LETTER:
        raise InvalidInput({"body_html": f"The letter is longer than {MAX_LETTER:,} characters"})
    return clean_html(body_html)
