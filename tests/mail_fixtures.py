"""A real SMTP server in-process (aiosmtpd) for mail tests, and delivery helpers.

The `smtp_server` fixture (tests/conftest.py) starts a `SmtpServer`: call
`smtp_server.configure(app)` to point the app at it, deliver with `deliver_all(app)`
and assert on `smtp_server.messages`.
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class _Handler:
    """Collects accepted messages; can refuse recipients, fail DATA, or hold a message."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.refuse: dict[str, str] = {}      # recipient -> reply, e.g. "550 5.1.1 unknown"
        self.data_reply: str | None = None    # e.g. "451 4.3.0 try again later" for every DATA
        self.data_calls = 0
        self.hold_at: int | None = None       # hold the n-th DATA until released
        self.holding = threading.Event()      # set when the held message has arrived
        self.release_event = threading.Event()
        self.accept_held = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_calls += 1
            number = self.data_calls
        if self.hold_at is not None and number == self.hold_at:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release_event.wait)
            if not self.accept_held:
                return "451 4.3.0 held message dropped"
        if self.data_reply:
            return self.data_reply
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed))
        return "250 OK: queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """The test SMTP server: start/stop it to simulate an outage, inspect what arrived."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        if self.controller is None:
            self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def configure(self, app) -> None:
        """Point the app's mail settings at this server."""
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=self.port, MAIL_USE_TLS=False,
                          MAIL_USE_SSL=False, MAIL_USERNAME=None, MAIL_PASSWORD=None,
                          MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=10)

    # What arrived --------------------------------------------------------------------
    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def message_ids(self) -> list[str]:
        return [m.message_id for m in self.messages]

    # Failure modes -------------------------------------------------------------------
    def refuse(self, address: str, reply: str = "550 5.1.1 mailbox unavailable") -> None:
        self.handler.refuse[address] = reply

    def fail_data(self, reply: str | None = "451 4.3.0 try again later") -> None:
        self.handler.data_reply = reply

    def hold(self, number: int) -> None:
        """Hold the `number`-th DATA (counted from now on) until `release()`."""
        self.handler.hold_at = self.handler.data_calls + number

    def wait_until_holding(self, timeout: float = 30) -> bool:
        return self.handler.holding.wait(timeout)

    def release(self, accept: bool = False) -> None:
        self.handler.accept_held = accept
        self.handler.release_event.set()


def deliver_all(app, now: datetime | None = None, **kwargs):
    """Run the delivery until nothing is due (one worker, in-process); returns the report."""
    from engagement.extensions import db
    from engagement.mail.delivery import deliver_all as _deliver_all

    with app.app_context():
        try:
            return _deliver_all(db.session, now=now, **kwargs)
        finally:
            db.session.remove()


def cli_app():
    """App factory for `flask --app "tests.mail_fixtures:cli_app()"` in worker subprocesses."""
    from engagement import create_app

    return create_app()
