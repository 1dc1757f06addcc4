"""Letters' email: written with the letter, sent after its transaction commits, once.

`LetterService.send` stores a letter as sent and, when it goes by email, writes its message
here (`queue`) in the same transaction: the whole MIME message with a `Message-ID` of its
own, its recipient and subject. Nothing is sent inside that transaction, so a rollback, or a
commit that fails, sends nothing, and trying the action again cannot email twice.

The sender (`OutboxSender`) runs beside the timer scheduler (`workflow-app scheduler`, or
inside `workflow-app serve`), in a thread of its own so that a slow mail server never holds
up a timer. Each round claims the due rows (`claim`) in one short transaction: on PostgreSQL
with `SELECT … FOR UPDATE SKIP LOCKED`, so two senders never take the same row; on SQLite
the claim is one UPDATE, and SQLite runs one writing transaction at a time. A claim marks the
row as being sent, counts the attempt and holds the row for `CLAIM_LEASE`. The sender then
sends each claimed message over SMTP (`SmtpSettings`: the `WORKFLOW_APP_SMTP_*` settings)
and commits "sent" the moment the server has accepted it. A failed try leaves the row pending
for another after 1, 2, 4 … minutes (at most `LONGEST_RETRY`); after `MAX_ATTEMPTS` tries, or
at once when the server refuses the message itself for good (a 5xx answer to the sender, the
recipient or the message), the row is "failed": the letter page says so, with the error, and
staff may try it again (`retry`).

It is woken as soon as a transaction that queued an email commits: in its own process by that
commit, and on PostgreSQL from any process by a `NOTIFY` on `CHANNEL` sent in that
transaction (so it is heard when, and only if, it commits). Otherwise it looks when the next
retry falls due, and at least every `LONGEST_SLEEP` seconds.

Exactly once, as far as SMTP allows. SMTP has no way to ask a server "did you take this one
already?", so one window remains in which a message can go twice: the server accepted it (or
received it whole and its answer was lost on the way back), and the sender stopped, or lost
its database, before committing "sent". The row then stays "sending" until its claim lapses
and is sent again, with the same `Message-ID`: mail systems that collapse duplicates by
Message-ID show it once, others twice. No email is lost without a trace: every row ends sent
or failed, where staff see it. A sender slower than its lease (each SMTP step times out after
`SMTP_TIMEOUT` seconds, far within it) marks its row sent only while its claim is still the
row's latest.
"""
from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy import Engine, event, func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from workflow_app import settings
from workflow_app.casework import audit
from workflow_app.casework.models import Complaint, Letter, OutboxEmail
from workflow_app.casework.scheduler import AFTER_FAILURE, LONGEST_SLEEP, Listener, Loop
from workflow_app.rules import clock
from workflow_app.rules.errors import Conflict
from workflow_app.rules.statuses import EmailStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
"""Tries before an email is given up as failed: the last comes about two hours after the first."""
FIRST_RETRY = timedelta(minutes=1)
"""The wait after the first failed try; it doubles after each one."""
LONGEST_RETRY = timedelta(hours=1)
"""The longest wait between two tries."""
CLAIM_LEASE = timedelta(minutes=15)
"""How long a claimed row is left to its sender before another may take it (its sender is presumed gone)."""
CLAIM = 10
"""Rows a sender claims at a time."""
SMTP_TIMEOUT = 20
"""Seconds each step of the SMTP conversation may take."""
SHORTEST_PAUSE = 1.0
"""Seconds the sender waits at least between two rounds (a due row another sender holds is not a reason to spin)."""
CHANNEL = "workflow_app_outbox"
"""The PostgreSQL notification channel on which a newly queued email is announced."""
SENDER = "outbox"
"""The actor of the audit events the sender records (an email sent, or given up)."""
WAITING = (EmailStatus.PENDING, EmailStatus.SENDING)
"""The states of a row that still has a try coming (`next_attempt_at` says when)."""

_QUEUED = "workflow_app_email_queued"
_senders: weakref.WeakSet[OutboxSender] = weakref.WeakSet()


# --- the mail server ------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    sender: str = "complaints@localhost"
    starttls: bool = False
    ssl: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SmtpSettings | None:
        """From `WORKFLOW_APP_SMTP_HOST`, `_PORT`, `_USERNAME`, `_PASSWORD`, `_FROM`, `_STARTTLS`, `_SSL`."""
        host = values.get("WORKFLOW_APP_SMTP_HOST")
        if not host:
            return None
        flag = lambda name: str(values.get(name, "")).lower() in ("1", "true", "yes")  # noqa: E731
        return cls(host=str(host), port=int(values.get("WORKFLOW_APP_SMTP_PORT") or 25),
                   username=values.get("WORKFLOW_APP_SMTP_USERNAME") or None,
                   password=values.get("WORKFLOW_APP_SMTP_PASSWORD") or None,
                   sender=values.get("WORKFLOW_APP_SMTP_FROM") or "complaints@localhost",
                   starttls=flag("WORKFLOW_APP_SMTP_STARTTLS"), ssl=flag("WORKFLOW_APP_SMTP_SSL"))

    @classmethod
    def from_environment(cls) -> SmtpSettings | None:
        return cls.from_mapping(settings.load().smtp_values())


def connect(smtp: SmtpSettings) -> smtplib.SMTP:
    """A conversation with the mail server, secured and signed in as the settings say."""
    if smtp.ssl:
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=SMTP_TIMEOUT,
                                                context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT)
    try:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
    except BaseException:
        client.close()
        raise
    return client


def describe(error: BaseException) -> str:
    """What went wrong, for staff and the log: the server's codes, never its free text (which may quote
    the address) nor the address itself."""
    if isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 421:
        return f"the mail server is closing the connection ({_codes(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values())
        code, answer = answers[0] if answers else (None, b"")
        return f"the mail server refused the recipient ({_codes(code, answer)})"
    if isinstance(error, smtplib.SMTPSenderRefused):
        return f"the mail server refused the sender address ({_codes(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPDataError):
        return f"the mail server refused the message ({_codes(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return f"the mail server refused the username and password ({_codes(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"the mail server answered {_codes(error.smtp_code, error.smtp_error)}"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "the mail server closed the connection"
    if isinstance(error, TimeoutError):
        return "the mail server did not answer in time"
    if isinstance(error, ConnectionRefusedError):
        return "the mail server refused the connection"
    if isinstance(error, ssl.SSLError):
        return "the secure connection to the mail server failed"
    if isinstance(error, OSError):
        return f"the mail server could not be reached ({type(error).__name__})"
    return f"sending failed ({type(error).__name__})"


def _codes(code: int | None, answer: bytes | str | None) -> str:
    """`550 5.1.1`: the reply code and, when the server gave one, the enhanced status code (RFC 3463)."""
    if isinstance(answer, bytes):
        answer = answer.decode("ascii", "replace")
    enhanced = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})\b", answer or "")
    return " ".join(str(part) for part in (code, enhanced and enhanced.group(1)) if part)


def refused_for_good(error: BaseException) -> bool:
    """The server refused this message itself with a permanent (5xx) answer: trying it again would not help.
    A refusal of the connection or of the sign-in is the setup's, not the message's, and is tried again."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return error.smtp_code >= 500
    return False


def _connection_lost(error: BaseException) -> bool:
    return isinstance(error, (OSError, smtplib.SMTPServerDisconnected)) or (
        isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 421)


# --- queuing --------------------------------------------------------------------------------

def queue(session: Session, complaint: Complaint, letter: Letter, message: EmailMessage,
          recipient: str) -> OutboxEmail:
    """Write `message` to `recipient` to be sent once this transaction commits, with a Message-ID of its own;
    nothing is sent before."""
    domain = parseaddr(str(message["From"] or ""))[1].rpartition("@")[2] or "localhost"
    del message["Message-ID"]
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{domain}>"     # short: the header is never folded
    now = clock.now()
    email = OutboxEmail(letter_id=letter.id, complaint_id=complaint.id, message_id=message["Message-ID"],
                        recipient=recipient, subject=str(message["Subject"] or "")[:300],
                        message=message.as_bytes(policy=policy.SMTP).decode("utf-8"),
                        status=EmailStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now)
    session.add(email)
    _announce(session)
    return email


def queue_notice(session: Session, message: EmailMessage, recipient: str) -> OutboxEmail:
    """A notification to a member of staff (`casework.notifications`), queued as a letter's email is: sent once
    this transaction commits. It belongs to no letter or complaint, so its outcome is recorded on the row only."""
    domain = parseaddr(str(message["From"] or ""))[1].rpartition("@")[2] or "localhost"
    del message["Message-ID"]
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{domain}>"
    now = clock.now()
    email = OutboxEmail(letter_id=None, complaint_id=None, message_id=message["Message-ID"], recipient=recipient,
                        subject=str(message["Subject"] or "")[:300],
                        message=message.as_bytes(policy=policy.SMTP).decode("utf-8"),
                        status=EmailStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now)
    session.add(email)
    _announce(session)
    return email


def retry(session: Session, complaint: Complaint, email: OutboxEmail, actor: str) -> None:
    """Staff ask for a failed email to be tried again: a new series of tries starts now."""
    if email.status != EmailStatus.FAILED:
        raise Conflict("only an email that failed can be tried again")
    email.status, email.attempts, email.next_attempt_at = EmailStatus.PENDING, 0, clock.now()
    email.claimed_at = None
    audit.record(session, complaint, "letter_email_retried", actor, letter_id=email.letter_id,
                 error=email.last_error)
    _announce(session)


def _announce(session: Session) -> None:
    """Wake the senders when this transaction commits: here by its commit, elsewhere by PostgreSQL's NOTIFY
    (delivered only if it commits)."""
    session.info[_QUEUED] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


@event.listens_for(Session, "after_commit")
def _queued_and_committed(session: Session) -> None:
    if session.info.pop(_QUEUED, False):
        wake_senders()


@event.listens_for(Session, "after_rollback")
def _queued_and_rolled_back(session: Session) -> None:
    session.info.pop(_QUEUED, None)


def wake_senders() -> None:
    """Wake every sender running in this process."""
    for sender in list(_senders):
        sender.wake()


# --- sending --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    """A row a sender has claimed: what it sends, and the claim it must still hold to record the outcome."""

    id: int
    attempts: int
    claimed_at: datetime
    recipient: str
    message: str


@dataclass(frozen=True)
class Round:
    claimed: int = 0
    sent: int = 0

    def __add__(self, other: Round) -> Round:
        return Round(self.claimed + other.claimed, self.sent + other.sent)


def retry_after(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 1, 2, 4 … minutes, at most `LONGEST_RETRY`."""
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 30), LONGEST_RETRY)


def claim(sessions: sessionmaker[Session], limit: int = CLAIM) -> list[Claimed]:
    """Mark up to `limit` due rows as being sent by this sender, counting the try, in one committed transaction.

    The claim is a single UPDATE: on PostgreSQL of the due rows no other transaction holds (`FOR UPDATE SKIP
    LOCKED`), on SQLite under its one writer's lock, taken as the statement begins."""
    now = clock.now()
    with sessions.begin() as session:
        due = select(OutboxEmail.id).where(OutboxEmail.next_attempt_at <= now, OutboxEmail.status.in_(WAITING)) \
            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        rows = session.execute(
            update(OutboxEmail).where(OutboxEmail.id.in_(due.scalar_subquery()))
            .values(status=EmailStatus.SENDING, attempts=OutboxEmail.attempts + 1, claimed_at=now,
                    next_attempt_at=now + CLAIM_LEASE)
            .returning(OutboxEmail.id, OutboxEmail.attempts, OutboxEmail.recipient, OutboxEmail.message),
            execution_options={"synchronize_session": False}).all()
    return sorted((Claimed(row.id, row.attempts, now, row.recipient, row.message) for row in rows),
                  key=lambda claimed: claimed.id)


def send_due(sessions: sessionmaker[Session], smtp: SmtpSettings, limit: int = CLAIM) -> Round:
    """One round: claim the due rows, send each over one SMTP conversation, and record each outcome at once."""
    claimed = claim(sessions, limit)
    if not claimed:
        return Round()
    try:
        client = connect(smtp)
    except (OSError, smtplib.SMTPException) as error:
        for row in claimed:
            _record_failure(sessions, row, error)
        return Round(len(claimed))
    sent, lost = 0, None
    try:
        for row in claimed:
            if lost is not None:
                _record_failure(sessions, row, lost)
                continue
            try:
                client.sendmail(smtp.sender, [row.recipient], row.message.encode("utf-8"))
            except (OSError, smtplib.SMTPException) as error:
                _record_failure(sessions, row, error)
                if _connection_lost(error):
                    lost = error   # the rest of the round waits for the next try
                continue
            sent += _record_sent(sessions, row)
    finally:
        _hang_up(client)
    return Round(len(claimed), sent)


def drain(sessions: sessionmaker[Session], smtp: SmtpSettings, limit: int = CLAIM,
          stopping: threading.Event | None = None) -> Round:
    """Rounds until no row is due (rows waiting for a later retry stay for then)."""
    total = Round()
    while True:
        done = send_due(sessions, smtp, limit)
        total += done
        if done.claimed < limit or (stopping is not None and stopping.is_set()):
            return total


def _hang_up(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _still_claimed(row: Claimed):
    return (OutboxEmail.id == row.id, OutboxEmail.status == EmailStatus.SENDING,
            OutboxEmail.attempts == row.attempts, OutboxEmail.claimed_at == row.claimed_at)


RECORD_TRIES = 5
"""Times the sender tries to record what happened to a message when someone else's change to the same complaint
commits at the same moment (the audit trail's head moved under it): giving up there would send the email again."""


def _recorded(record):
    """Run `record` (one transaction) again while it meets a concurrent change to the complaint's audit trail."""
    def again(*args):
        for attempt in range(1, RECORD_TRIES + 1):
            try:
                return record(*args)
            except (StaleDataError, OperationalError) as error:
                if attempt == RECORD_TRIES or (isinstance(error, OperationalError) and not _busy(error)):
                    raise
                time.sleep(0.05 * attempt)
    return again


def _busy(error: OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


@_recorded
def _record_sent(sessions: sessionmaker[Session], row: Claimed) -> int:
    """The server accepted the message: the row is sent and the letter emailed, committed straight away."""
    now = clock.now()
    with sessions.begin() as session:
        done = session.execute(
            update(OutboxEmail).where(*_still_claimed(row))
            .values(status=EmailStatus.SENT, sent_at=now, next_attempt_at=None, last_error=None)
            .returning(OutboxEmail.letter_id, OutboxEmail.complaint_id),
            execution_options={"synchronize_session": False}).first()
        if done is None:
            log.warning("outbox email %s was accepted by the mail server after another sender had taken it "
                        "over: it may arrive twice", row.id)
            return 0
        if done.letter_id is not None:      # a staff notification has no letter to mark
            letter = session.get(Letter, done.letter_id)
            letter.emailed_at = now
            audit.record(session, session.get(Complaint, done.complaint_id), "letter_emailed", SENDER,
                         letter_id=letter.id, template=letter.template, attempts=row.attempts)
    log.info("outbox email %s sent (attempt %d)", row.id, row.attempts)
    return 1


@_recorded
def _record_failure(sessions: sessionmaker[Session], row: Claimed, error: BaseException) -> None:
    """The try failed: another after the back-off, or the row failed for good (recorded on the complaint)."""
    reason = describe(error)
    give_up = refused_for_good(error) or row.attempts >= MAX_ATTEMPTS
    now = clock.now()
    if give_up:
        values: dict[str, Any] = {"status": EmailStatus.FAILED, "next_attempt_at": None}
    else:
        values = {"status": EmailStatus.PENDING, "next_attempt_at": now + retry_after(row.attempts)}
    with sessions.begin() as session:
        done = session.execute(
            update(OutboxEmail).where(*_still_claimed(row)).values(last_error=reason, **values)
            .returning(OutboxEmail.letter_id, OutboxEmail.complaint_id),
            execution_options={"synchronize_session": False}).first()
        if done is not None and give_up and done.letter_id is not None:
            audit.record(session, session.get(Complaint, done.complaint_id), "letter_email_failed", SENDER,
                         letter_id=done.letter_id, attempts=row.attempts, error=reason)
    log.warning("outbox email %s: attempt %d failed (%s)%s", row.id, row.attempts, reason,
                "; given up" if give_up else f"; next try in {retry_after(row.attempts)}")


def next_attempt(sessions: sessionmaker[Session]) -> datetime | None:
    """When the earliest waiting row is next due (a claimed one when its claim lapses)."""
    with sessions() as session:
        return session.scalar(select(func.min(OutboxEmail.next_attempt_at))
                              .where(OutboxEmail.next_attempt_at.is_not(None)))


def pause_until(next_due: datetime | None, now: datetime, longest: float = LONGEST_SLEEP) -> float:
    """Seconds to wait: until the next try falls due, at least `SHORTEST_PAUSE` and at most `longest`."""
    if next_due is None:
        return longest
    return min(max((next_due - now).total_seconds(), SHORTEST_PAUSE), longest)


class OutboxSender(Loop):
    """Sends the outbox's due email in a thread of its own (a companion of the scheduler), and sleeps until
    the next retry, a newly queued email or `longest` seconds, whichever comes first."""

    thread_name = "outbox-sender"

    def __init__(self, sessions: sessionmaker[Session], smtp: SmtpSettings, run_clock: clock.Clock = clock.SYSTEM,
                 longest: float = LONGEST_SLEEP) -> None:
        super().__init__()
        self.sessions = sessions
        self.smtp = smtp
        self.clock = run_clock
        self.longest = longest

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        """Send and sleep until stopped (in this thread)."""
        with clock.using(self.clock):
            _senders.add(self)
            engine = _engine(self.sessions)
            if engine.dialect.name == "postgresql":
                self.listener = Listener(engine, self._wake.set, self._stopping, CHANNEL, "outbox-listener",
                                         "newly queued email")
                self.listener.start()
            try:
                while True:
                    self._wake.clear()
                    if self._stopping.is_set():
                        break
                    try:
                        drain(self.sessions, self.smtp, stopping=self._stopping)
                        pause = pause_until(next_attempt(self.sessions), clock.now(), self.longest)
                    except Exception:
                        log.exception("sending the outbox's email failed; trying again in %s s", AFTER_FAILURE)
                        pause = AFTER_FAILURE
                    self._wake.wait(pause)
            finally:
                _senders.discard(self)
                self._stopping.set()


def waiting(sessions: sessionmaker[Session]) -> int:
    """How many emails wait to be sent (pending, or being sent)."""
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxEmail)
                              .where(OutboxEmail.next_attempt_at.is_not(None))) or 0


def _engine(sessions: sessionmaker[Session]) -> Engine:
    with sessions() as session:
        return session.get_bind()
