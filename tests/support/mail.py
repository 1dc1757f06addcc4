"""A mail server on this machine for the tests (aiosmtpd): what it received, and stopping it on cue."""
from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller

from workflow_app.casework.outbox import SmtpSettings

SENDER = "complaints@testshire.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """Keeps every message the server accepted; may refuse recipients, be slow, or shut the server down."""

    def __init__(self) -> None:
        self.messages = []
        self.refuse: str | None = None
        """An answer to every RCPT TO instead of accepting it (`550 5.1.1 ...`)."""
        self.delay = 0.0
        self.shut_down_after: int | None = None
        self.on_shut_down = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.shut_down_after is not None and len(self.messages) >= self.shut_down_after:
            self.shut_down_after = None
            self.on_shut_down()
            return "421 4.3.2 Service shutting down"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(envelope)
        return "250 OK"

    def parsed(self):
        return [message_from_bytes(envelope.content, policy=policy.default) for envelope in self.messages]

    def message_ids(self) -> Counter[str]:
        return Counter(str(message["Message-ID"]) for message in self.parsed())

    def recipients(self) -> Counter[str]:
        return Counter(address for envelope in self.messages for address in envelope.rcpt_tos)


class MailServer:
    """An SMTP server on a port of its own, which can be stopped and started again on that port."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller: Controller | None = None
        self._stopping: threading.Thread | None = None

    @property
    def settings(self) -> SmtpSettings:
        return SmtpSettings(host="127.0.0.1", port=self.port, sender=SENDER)

    def start(self) -> MailServer:
        self.wait_stopped()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.wait_stopped()
        self._halt()

    def _halt(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def shut_down_after(self, count: int) -> None:
        """Stop the server when the next message after the `count`th begins (its sender is told 421 as it goes)."""
        def shut_down() -> None:
            self._stopping = threading.Thread(target=self._halt)
            self._stopping.start()
        self.inbox.shut_down_after, self.inbox.on_shut_down = count, shut_down

    def wait_stopped(self) -> None:
        stopping, self._stopping = self._stopping, None
        if stopping is not None:
            stopping.join(10)
