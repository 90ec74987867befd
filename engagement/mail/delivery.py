"""Deliver the outbox: claim due rows, send them over one connection, commit each result.

Why each mail goes out once:
- Claiming is one atomic UPDATE per batch. On PostgreSQL its candidate rows come from
  `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint rows without
  waiting on each other; the UPDATE repeats the claim condition, which PostgreSQL
  re-checks on the newest row version. On SQLite the single UPDATE statement runs under
  the database's one write lock, so two workers can never both see a row as free.
- A claim is a lease (`locked_by`, `locked_until`), committed before anything is sent.
  A worker that dies leaves its rows "sending"; when the lease runs out another worker
  takes them again, so nothing is lost. A live worker renews its lease while it works and
  checks ownership with every status change (`WHERE locked_by = <its claim token>`).
- Each message is marked sent in its own commit right after the server accepted it.

The one unavoidable window: the server has accepted a message (250 after DATA) and the
worker dies before that commit. The message is then sent again after the lease expires.
No protocol without the receiver's cooperation closes this window (SMTP has no two-phase
commit); we keep it to one row and a few milliseconds, and the retry is byte-for-byte the
same message with the same Message-ID, which receivers use to discard duplicates.
"""
from __future__ import annotations

import logging
import os
import smtplib
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import NamedTuple, Protocol

import flask_mail
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..extensions import mailer
from ..timeutil import utcnow
from . import render
from .compose import SMTP_POLICY, InvalidMessage
from .models import OutboxMessage, OutboxStatus
from .rules import Outcome, RetryPolicy, classify_smtp_code

log = logging.getLogger(__name__)

INTERRUPTED = "delivery was interrupted (worker stopped) too often"


class Item(NamedTuple):
    """What a worker needs to send one row, read once (no ORM reloads per message)."""

    id: int
    from_addr: str
    to_addr: str
    raw: bytes
    attempts: int
    created_at: datetime


class ConnectionFailure(Exception):
    """The server (or the mail folder) cannot take mail now; the whole batch waits."""


class MessageRefused(Exception):
    """The server refused this one message with an SMTP reply code."""

    def __init__(self, code: int, text: str):
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


class Backend(Protocol):
    def __enter__(self) -> Backend: ...
    def __exit__(self, *exc) -> None: ...
    def send(self, item: Item) -> None: ...


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _TimeoutConnection(flask_mail.Connection):
    """Flask-Mail's connection with a socket timeout.

    Flask-Mail opens `smtplib.SMTP` without one; a server that stops answering would then
    hold the worker (and its lease) forever.
    """

    def __init__(self, state, timeout: float):
        super().__init__(state)
        self.timeout = timeout

    def configure_host(self):
        state = self.mail
        cls = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
        host = cls(state.server, state.port, timeout=self.timeout)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


class SmtpBackend:
    """Sends the stored bytes through Flask-Mail's configured connection.

    Flask-Mail's `Connection.send` only takes its own `Message` objects and would build a
    new MIME message (new Message-ID and Date) on every try; the outbox must send the
    exact bytes it stored, so we use Flask-Mail's connection (host, port, SSL/STARTTLS,
    login from the MAIL_* settings) and hand the bytes to its `sendmail`.
    """

    def __init__(self, config, timeout: float = 30.0):
        # Built from the current settings (not the state frozen at start-up) and without
        # Flask-Mail's "suppress while TESTING": tests send to a real SMTP server.
        self.state = mailer.init_mail(config)
        self.timeout = timeout
        self.connection: _TimeoutConnection | None = None

    def __enter__(self) -> SmtpBackend:
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> None:
        conn, self.connection = self.connection, None
        if conn is None or conn.host is None:
            return
        try:
            conn.host.quit()
        except (smtplib.SMTPException, OSError):
            conn.host.close()

    def _open(self) -> _TimeoutConnection:
        if self.connection is None:
            conn = _TimeoutConnection(self.state, self.timeout)
            try:
                conn.__enter__()
            except (smtplib.SMTPException, OSError) as exc:
                raise ConnectionFailure(f"cannot connect to {self.state.server}:"
                                        f"{self.state.port}: {_describe(exc)}") from exc
            self.connection = conn
        return self.connection

    def send(self, item: Item) -> None:
        host = self._open().host
        try:
            host.sendmail(item.from_addr, [item.to_addr], item.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise MessageRefused(code, _text(text)) from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the connection: all of it waits
                self._close()
                raise ConnectionFailure(_describe(exc)) from exc
            raise MessageRefused(exc.smtp_code, _text(exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._close()
            raise ConnectionFailure(f"connection to {self.state.server} lost: "
                                    f"{_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def eml_name(item_id: int, created_at: datetime) -> str:
    """File name of a message in the mail folder: sortable by creation time."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{item_id:010d}.eml"


class FileBackend:
    """Without MAIL_SERVER: each message becomes `<folder>/<created>-<id>.eml`."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __enter__(self) -> FileBackend:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def send(self, item: Item) -> None:
        name = eml_name(item.id, item.created_at)
        tmp = self.folder / f".{name}.{os.getpid()}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # Temp file + rename: a reader (or a re-delivery after a crash) never sees
            # half a message, and writing the same name again replaces, not duplicates.
            with open(tmp, "wb") as fh:
                fh.write(item.raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ConnectionFailure(f"cannot write to {self.folder}: {exc}") from exc


def mail_folder(app=None) -> Path:
    """Where messages are written when no SMTP server is configured."""
    app = app or current_app
    return Path(app.config["MAIL_FILE_DIR"])


def uses_smtp(config) -> bool:
    """True when mail goes out over SMTP (MAIL_SERVER set and sending not suppressed)."""
    return bool(config["MAIL_SERVER"]) and not config["MAIL_SUPPRESS_SEND"]


def default_backend() -> Backend:
    """SMTP when MAIL_SERVER is set, else the .eml folder."""
    config = current_app.config
    if uses_smtp(config):
        return SmtpBackend(config, timeout=float(config["MAIL_TIMEOUT"]))
    return FileBackend(mail_folder())


def retry_policy(config=None) -> RetryPolicy:
    """The retry policy from the MAIL_MAX_ATTEMPTS / MAIL_RETRY_*_SECONDS settings."""
    config = config or current_app.config
    return RetryPolicy(
        max_attempts=int(config["MAIL_MAX_ATTEMPTS"]),
        base=timedelta(seconds=float(config["MAIL_RETRY_BASE_SECONDS"])),
        cap=timedelta(seconds=float(config["MAIL_RETRY_MAX_SECONDS"])),
    )


def worker_name() -> str:
    """Host and process id: shown as `locked_by`, so a stuck lease names its worker."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0  # rows whose lease another worker took over while this one stalled
    cancelled: int = 0  # deferred rows whose target is gone (see render.Skip)
    connection_error: str | None = None

    def add(self, other: DeliveryReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.lost += other.lost
        self.cancelled += other.cancelled
        self.connection_error = other.connection_error or self.connection_error


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def claim(session: Session, token: str, *, now: datetime, limit: int, lease: timedelta,
          policy: RetryPolicy) -> list[int]:
    """Take up to `limit` due rows for this claim token (the caller commits at once)."""
    M = OutboxMessage
    pg = _is_pg(session)
    # A row whose worker died with it `max_attempts` times is poison: stop re-trying it.
    stale = select(M.id).where(M.status == OutboxStatus.SENDING, M.locked_until < now,
                               M.attempts >= policy.max_attempts)
    if pg:
        stale = stale.with_for_update(skip_locked=True)
    session.execute(
        update(M).where(M.id.in_(stale))
        .values(status=OutboxStatus.FAILED, last_error=INTERRUPTED, locked_by=None,
                locked_until=None),
        execution_options={"synchronize_session": False},
    )
    # Two simple claims instead of one OR: each can walk its index in order, so a claim
    # stays cheap with hundreds of thousands of queued rows (a mailing to a segment).
    expired = ((M.status == OutboxStatus.SENDING) & (M.locked_until < now)
               & (M.attempts < policy.max_attempts))
    due = (M.status == OutboxStatus.QUEUED) & (M.next_attempt_at <= now)
    ids: list[int] = []
    for condition, order in ((expired, (M.locked_until, M.id)), (due, (M.next_attempt_at, M.id))):
        if len(ids) >= limit:
            break
        candidates = select(M.id).where(condition).order_by(*order).limit(limit - len(ids))
        if pg:
            candidates = candidates.with_for_update(skip_locked=True)
        ids += session.execute(
            update(M).where(M.id.in_(candidates), condition)
            .values(status=OutboxStatus.SENDING, locked_by=token, locked_until=now + lease,
                    attempts=M.attempts + 1)
            .returning(M.id),
            execution_options={"synchronize_session": False},
        ).scalars().all()
    return sorted(ids)


def _mine(token: str, ids):
    return (OutboxMessage.id.in_(ids), OutboxMessage.locked_by == token,
            OutboxMessage.status == OutboxStatus.SENDING)


def _finish(session: Session, token: str, item_id: int, **values) -> bool:
    result = session.execute(
        update(OutboxMessage).where(*_mine(token, [item_id]))
        .values(locked_by=None, locked_until=None, **values),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount == 1


def _back_off(session: Session, token: str, item: Item, error: str, now: datetime,
              policy: RetryPolicy) -> Outcome:
    """Queue again after a backoff, or fail when the attempts are used up."""
    if policy.gives_up(item.attempts):
        _finish(session, token, item.id, status=OutboxStatus.FAILED,
                last_error=f"gave up after {item.attempts} attempts: {error}")
        return Outcome.PERMANENT
    _finish(session, token, item.id, status=OutboxStatus.QUEUED, last_error=error,
            next_attempt_at=now + policy.backoff(item.attempts))
    return Outcome.RETRY


def _count(report: DeliveryReport, outcome: Outcome) -> None:
    if outcome is Outcome.PERMANENT:
        report.failed += 1
    else:
        report.retried += 1


def _store(session: Session, token: str, item_id: int, message: EmailMessage,
           message_id: str) -> bytes | None:
    """Fix the rendered message's identity and store its bytes; None when no longer ours."""
    # The Message-ID was assigned at enqueue time (the outbox page shows it); the rendered
    # message must carry that one, whatever the renderer set.
    del message["Message-ID"]
    message["Message-ID"] = message_id
    if message["Date"] is None:
        message["Date"] = format_datetime(utcnow())
    raw = message.as_bytes(policy=SMTP_POLICY)
    result = session.execute(
        update(OutboxMessage).where(*_mine(token, [item_id]), OutboxMessage.raw.is_(None))
        .values(raw=raw, subject=str(message["Subject"] or "")[:998],
                from_addr=_single(message, "From")),
        execution_options={"synchronize_session": False},
    )
    return raw if result.rowcount == 1 else None


def _single(message: EmailMessage, header: str) -> str:
    addresses = [a for _n, a in getaddresses([str(v) for v in message.get_all(header) or []])
                 if a]
    if len(addresses) != 1:
        raise ValueError(f"a rendered mail needs exactly one {header} address")
    return addresses[0]


def _render_batch(session: Session, kind: str, renderer: render.Renderer,
                  batch: list[render.RenderItem]) -> tuple[dict, dict[int, str]]:
    """The renderer's results for a batch, and an error text for items it could not build.

    When the batch fails, each item is rendered alone, so one bad record (a line break in
    one event's title, one member's name) fails alone instead of taking every mail of the
    batch with it. An InvalidMessage is returned as that item's result.
    """
    try:
        return dict(renderer(session, batch)), {}
    except Exception as exc:  # a renderer bug must not stall the whole queue
        session.rollback()
        if len(batch) == 1:
            if isinstance(exc, InvalidMessage):
                return {batch[0].id: exc}, {}
            log.exception("rendering %s outbox message %s failed", kind, batch[0].id)
            return {}, {batch[0].id: f"rendering failed: {_describe(exc)}"}
    results: dict = {}
    errors: dict[int, str] = {}
    for item in batch:
        one, error = _render_batch(session, kind, renderer, [item])
        results.update(one)
        errors.update(error)
    return results, errors


def render_deferred(session: Session, token: str, rows, report: DeliveryReport,
                    now: datetime, policy: RetryPolicy) -> list[Item]:
    """Build the claimed rows that have no bytes yet and store them in one commit.

    Each kind's renderer gets its rows as one batch. A Skip cancels the row with its
    reason (the invitation or mailing is gone, the member unsubscribed); a missing
    renderer fails the row (a person can retry after the fix); a renderer error backs off
    like a failed send. Stored bytes are what every later try sends, byte for byte.
    """
    ready: list[Item] = []
    by_kind: dict[str, list] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    for kind, group in by_kind.items():
        renderer = render.renderer_for(kind)
        if renderer is None:
            for row in group:
                _finish(session, token, row.id, status=OutboxStatus.FAILED,
                        last_error=f"no renderer registered for mail kind {kind!r}")
                report.failed += 1
            continue
        batch = [render.RenderItem(row.id, kind, row.to_addr, row.payload or {},
                                   row.message_id) for row in group]
        results, errors = _render_batch(session, kind, renderer, batch)
        for row in group:
            result = results.get(row.id)
            item = Item(*row[:6])
            error = errors.get(row.id, "the renderer returned no message")
            if isinstance(result, InvalidMessage):
                # Bad data (a line break in a title or name): every retry would fail the
                # same way, so it fails now, alone, with the reason on the outbox page.
                _finish(session, token, row.id, status=OutboxStatus.FAILED,
                        last_error=f"cannot be built: {result}")
                report.failed += 1
            elif isinstance(result, render.Skip):
                # Gives its dedupe key up like any cancelled row: it may be queued again.
                _finish(session, token, row.id, status=OutboxStatus.CANCELLED,
                        last_error=result.reason, dedupe_key=None)
                report.cancelled += 1
            elif isinstance(result, EmailMessage):
                try:
                    raw = _store(session, token, row.id, result, row.message_id)
                except (ValueError, TypeError, LookupError) as exc:
                    _finish(session, token, row.id, status=OutboxStatus.FAILED,
                            last_error=f"rendered message is invalid: {exc}")
                    report.failed += 1
                    continue
                if raw is None:
                    report.lost += 1
                else:
                    ready.append(item._replace(raw=raw, from_addr=_single(result, "From")))
            else:
                _count(report, _back_off(session, token, item, error, now, policy))
        # Per kind: rendered bytes are durable before anything is sent, and a later
        # kind's renderer error (rolled back) cannot take them away.
        session.commit()
    return ready


def deliver_due(session: Session, *, now: datetime | None = None, batch_size: int = 50,
                backend: Backend | None = None, worker: str | None = None,
                should_stop: Callable[[], bool] = lambda: False) -> DeliveryReport:
    """Claim one batch of due mail and deliver it; commits after every message.

    This is a transaction boundary like a request: call it with no pending changes.
    `now` fixes the clock (tests); without it the real time is read at every step.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    config = current_app.config
    policy = retry_policy(config)
    lease = timedelta(seconds=float(config["MAIL_LEASE_SECONDS"]))
    token = f"{worker or worker_name()}/{uuid.uuid4().hex[:12]}"
    report = DeliveryReport()

    session.commit()  # the claim must start its own short write transaction
    ids = claim(session, token, now=clock(), limit=batch_size, lease=lease, policy=policy)
    session.commit()
    if not ids:
        return report
    report.claimed = len(ids)
    M = OutboxMessage
    rows = session.execute(
        select(M.id, M.from_addr, M.to_addr, M.raw, M.attempts, M.created_at, M.kind,
               M.payload, M.message_id)
        .where(M.id.in_(ids)).order_by(M.id)).all()
    session.commit()  # do not keep a read snapshot open while talking to the server
    items = [Item(*row[:6]) for row in rows if row.raw is not None]
    deferred = [row for row in rows if row.raw is None]
    if deferred:
        items = sorted(items + render_deferred(session, token, deferred, report, clock(),
                                               policy), key=lambda item: item.id)

    pending = {item.id for item in items}
    renew_at = clock() + lease / 2
    with backend or default_backend() as out:
        for item in items:
            if should_stop():
                # Hand the rest back untouched (this try did not happen) for the next worker.
                session.execute(
                    update(M).where(*_mine(token, pending))
                    .values(status=OutboxStatus.QUEUED, attempts=M.attempts - 1,
                            locked_by=None, locked_until=None),
                    execution_options={"synchronize_session": False})
                session.commit()
                break
            if clock() >= renew_at:
                owned = set(session.execute(
                    update(M).where(*_mine(token, pending))
                    .values(locked_until=clock() + lease).returning(M.id),
                    execution_options={"synchronize_session": False}).scalars())
                session.commit()
                report.lost += len(pending - owned)
                pending = owned
                renew_at = clock() + lease / 2
            if item.id not in pending:
                continue
            try:
                out.send(item)
            except ConnectionFailure as exc:
                # Nothing more can go out now: every remaining row of the batch waits.
                report.connection_error = str(exc)
                for rest in items:
                    if rest.id in pending:
                        _count(report, _back_off(session, token, rest, str(exc), clock(), policy))
                session.commit()
                log.warning("mail delivery paused: %s", exc)
                break
            except MessageRefused as exc:
                if classify_smtp_code(exc.code) is Outcome.PERMANENT:
                    _finish(session, token, item.id, status=OutboxStatus.FAILED,
                            last_error=str(exc))
                    report.failed += 1
                else:
                    _count(report, _back_off(session, token, item, str(exc), clock(), policy))
            except Exception as exc:  # a bug or an odd server must not stall the queue
                log.exception("unexpected error delivering outbox message %s", item.id)
                _count(report, _back_off(session, token, item, _describe(exc), clock(), policy))
            else:
                if _finish(session, token, item.id, status=OutboxStatus.SENT, sent_at=clock()):
                    report.sent += 1
                else:
                    report.lost += 1
                    log.warning("outbox message %s was sent after its lease was taken over",
                                item.id)
            pending.discard(item.id)
            session.commit()
    return report


def deliver_all(session: Session, *, now: datetime | None = None, batch_size: int = 50,
                backend: Backend | None = None, worker: str | None = None,
                should_stop: Callable[[], bool] = lambda: False) -> DeliveryReport:
    """Deliver batches until nothing is due (or a connection failure pauses delivery)."""
    total = DeliveryReport()
    while not should_stop():
        report = deliver_due(session, now=now, batch_size=batch_size, backend=backend,
                             worker=worker, should_stop=should_stop)
        total.add(report)
        if report.claimed == 0 or report.connection_error:
            break
    return total
