"""Write mail into the outbox (same transaction as the change) and manage queued rows."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import audit
from ..timeutil import utcnow
from . import render
from .compose import (
    SMTP_POLICY,
    InvalidMessage,
    default_sender,
    message_id_domain,
    new_message_id,
)
from .models import OutboxMessage, OutboxStatus


def _single_address(message: EmailMessage, header: str) -> str:
    values = message.get_all(header) or []
    addresses = [addr for _name, addr in getaddresses([str(v) for v in values]) if addr]
    if len(addresses) != 1:
        raise InvalidMessage(f"the outbox needs exactly one {header} address, got {len(addresses)}")
    return addresses[0]


def _row_values(message: EmailMessage, kind: str, send_after: datetime | None,
                dedupe_key: str | None) -> dict:
    # One recipient per row: a permanent refusal then fails exactly that mail, and the
    # UI can show per person what went out.
    if message.get_all("Cc") or message.get_all("Bcc"):
        raise InvalidMessage("the outbox sends to one recipient per message (no Cc/Bcc)")
    to_addr = _single_address(message, "To")
    from_addr = _single_address(message, "From")
    if message["Date"] is None:
        message["Date"] = format_datetime(utcnow())
    if message["Message-ID"] is None:
        message["Message-ID"] = new_message_id(from_addr.rpartition("@")[2] or "localhost")
    if send_after is not None and send_after.tzinfo is None:
        raise ValueError("send_after must be an aware datetime")
    now = utcnow()
    return dict(
        kind=kind, dedupe_key=dedupe_key, from_addr=from_addr, to_addr=to_addr,
        subject=str(message["Subject"] or "")[:998], message_id=str(message["Message-ID"]),
        # SMTP policy: CRLF line endings, as sent on the wire and written to .eml files.
        raw=message.as_bytes(policy=SMTP_POLICY),
        status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=send_after or now,
        created_at=now,
    )


def enqueue(session: Session, message: EmailMessage, *, kind: str,
            send_after: datetime | None = None, dedupe_key: str | None = None,
            member_id: int | None = None, user_id: int | None = None) -> OutboxMessage:
    """Store the message as an outbox row in the caller's transaction (flush only).

    `member_id` / `user_id` say whom the mail is for (a GDPR erasure deletes by them).

    With a `dedupe_key` already in the outbox, the existing row is returned and nothing
    is added, so double clicks and re-runs cannot send the same mail twice.
    """
    values = _row_values(message, kind, send_after, dedupe_key)
    values.update(member_id=member_id, user_id=user_id)
    if dedupe_key is None:
        row = OutboxMessage(**values)
        session.add(row)
        session.flush()
        return row
    session.flush()
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    # INSERT … ON CONFLICT DO NOTHING: a concurrent transaction enqueueing the same key
    # makes this a no-op instead of an IntegrityError that would abort the caller's work.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new_id = session.execute(
        insert(OutboxMessage).values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    ).scalar()
    if new_id is None:
        return session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        ).one()
    return session.get(OutboxMessage, new_id)


@dataclass(frozen=True)
class Deferred:
    """One mail to queue without bytes: the worker renders it from `payload` (see render.py)."""

    to_addr: str
    payload: dict[str, Any]
    dedupe_key: str | None = None
    subject: str = ""  # shown on the outbox page until the rendered subject replaces it
    send_after: datetime | None = None
    member_id: int | None = None  # whom it is for (see OutboxMessage.member_id)
    user_id: int | None = None


# A bare addr-spec (no display name, no spaces, no header syntax). A regex, not the email
# parser: this runs for every row of a bulk send, and the renderer checks the full address.
_PLAIN_ADDRESS = re.compile(r"[^\s@<>,;:\"()\[\]\\]+@[^\s@<>,;:\"()\[\]\\]+")


def is_plain_address(to_addr: str | None) -> bool:
    """Whether bulk mail can be queued to the address (no display name, line break or
    header syntax); callers skip the rest with a reason instead of failing the whole run."""
    return bool(to_addr) and _PLAIN_ADDRESS.fullmatch(to_addr.strip()) is not None


def _one_line(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text or "").split())


def enqueue_unsendable(session: Session, *, kind: str, to_addr: str, subject: str,
                       reason: str, dedupe_key: str | None = None,
                       member_id: int | None = None) -> OutboxMessage:
    """Record a mail that could not be built (bad data) as a failed row with the reason, so
    the outbox page shows it and the caller's own work (an RSVP) goes on."""
    sender = default_sender()
    row = OutboxMessage(
        kind=kind, dedupe_key=dedupe_key, from_addr=sender.addr_spec,
        to_addr=_one_line(to_addr)[:320], subject=_one_line(subject)[:998],
        message_id=new_message_id(message_id_domain(sender)), raw=None, payload=None,
        status=OutboxStatus.FAILED, attempts=0, next_attempt_at=utcnow(),
        last_error=f"cannot be built: {reason}", member_id=member_id)
    session.add(row)
    session.flush()
    return row


def _check_recipient(to_addr: str) -> str:
    addr = to_addr.strip()
    if not _PLAIN_ADDRESS.fullmatch(addr):
        raise InvalidMessage(f"not a plain e-mail address: {to_addr!r}")
    return addr


def enqueue_many(session: Session, mails: Iterable[Deferred], *, kind: str,
                 send_after: datetime | None = None, batch_size: int = 1000) -> int:
    """Queue many deferred mails of one kind in the caller's transaction; returns rows added.

    No message is built here and no ORM object is made per row: each batch is one
    multi-row INSERT, so queueing 20,000 mails takes a fraction of a second. Rows whose
    dedupe key is already queued are skipped (ON CONFLICT DO NOTHING), so a re-run or a
    concurrent request cannot queue anyone twice. The kind needs a registered renderer.
    """
    if render.renderer_for(kind) is None:
        raise ValueError(f"no renderer registered for mail kind {kind!r}")
    if send_after is not None and send_after.tzinfo is None:
        raise ValueError("send_after must be an aware datetime")
    sender = default_sender()
    from_addr = sender.addr_spec
    domain = message_id_domain(sender)
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # On the Core table, not the mapped class: the ORM's bulk path costs more than the
    # INSERT itself at this volume, and no objects are wanted.
    table = OutboxMessage.__table__
    statement = (insert(table)
                 .on_conflict_do_nothing(index_elements=["dedupe_key"])
                 .returning(table.c.id))
    added = 0
    rows: list[dict[str, Any]] = []

    def flush_rows() -> None:
        nonlocal added
        if rows:
            added += len(session.execute(statement, rows).all())
            rows.clear()

    session.flush()  # pending ORM changes first: the caller's rows may be referenced
    for mail in mails:
        due = mail.send_after or send_after
        if due is not None and due.tzinfo is None:
            raise ValueError("send_after must be an aware datetime")
        rows.append(dict(
            kind=kind, dedupe_key=mail.dedupe_key, from_addr=from_addr,
            to_addr=_check_recipient(mail.to_addr), subject=mail.subject[:998],
            message_id=new_message_id(domain), raw=None, payload=mail.payload,
            status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=due or now,
            created_at=now, member_id=mail.member_id, user_id=mail.user_id))
        if len(rows) >= batch_size:
            flush_rows()
    flush_rows()
    return added


def cancel_pending(session: Session, dedupe_key_prefix: str) -> int:
    """Cancel queued (and failed) mails whose dedupe key starts with the prefix.

    A cancelled row gives its key up, so the same mail can be scheduled again later
    (a reminder moved with its event). Mails already being sent are left alone.
    """
    if not dedupe_key_prefix:
        raise ValueError("an empty prefix would cancel every keyed mail")
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedupe_key.startswith(dedupe_key_prefix, autoescape=True),
               OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.FAILED]))
        .values(status=OutboxStatus.CANCELLED, dedupe_key=None,
                locked_by=None, locked_until=None),
        execution_options={"synchronize_session": False},
    )
    session.flush()
    return result.rowcount


def status_counts(session: Session) -> dict[str, int]:
    """Number of outbox rows per status (every status present, zero when none)."""
    counts = dict(session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return {s.value: counts.get(s.value, 0) for s in OutboxStatus}


def retry(session: Session, message_id: int, *, now: datetime | None = None) -> bool:
    """Queue one failed (or cancelled) mail again with a fresh attempt budget."""
    now = now or utcnow()
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id,
               OutboxMessage.status.in_([OutboxStatus.FAILED, OutboxStatus.CANCELLED]))
        .values(status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=now,
                locked_by=None, locked_until=None),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount:
        audit.record(session, "mail.retry", "outbox_message", message_id,
                     after={"status": OutboxStatus.QUEUED.value})
    session.flush()
    return bool(result.rowcount)


def retry_all_failed(session: Session, *, now: datetime | None = None) -> int:
    """Queue every failed mail again (one audit entry for the whole batch)."""
    now = now or utcnow()
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=now,
                locked_by=None, locked_until=None),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount:
        audit.record(session, "mail.retry_all", "outbox_message", None,
                     after={"requeued": result.rowcount})
    session.flush()
    return result.rowcount


def cancel(session: Session, message_id: int) -> bool:
    """Withdraw one queued or failed mail (a person decided it must not go out)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id,
               OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.FAILED]))
        .values(status=OutboxStatus.CANCELLED, dedupe_key=None,
                locked_by=None, locked_until=None),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount:
        audit.record(session, "mail.cancel", "outbox_message", message_id,
                     after={"status": OutboxStatus.CANCELLED.value})
    session.flush()
    return bool(result.rowcount)


# Kinds whose body is a secret for its recipient (sign-in links): staff pages show their
# headers and status but never their content.
CONFIDENTIAL_KINDS: set[str] = set()


def mark_confidential(kind: str) -> None:
    """Hide the content of mails of `kind` from the outbox pages."""
    CONFIDENTIAL_KINDS.add(kind)


def is_confidential(kind: str) -> bool:
    return kind in CONFIDENTIAL_KINDS
