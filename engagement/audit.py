"""Append-only, hash-chained audit log of every change by a person or a command.

Each row's hash covers its metadata, a digest of its content and the previous row's
hash, so editing, deleting or re-ordering rows breaks the chain; `flask audit verify`
finds the break. Writers serialise on the single `audit_head` row, so concurrent requests
cannot fork the chain. Database triggers (see the migrations) refuse DELETE and every
UPDATE except a logged redaction.

Why a content digest instead of hashing the content itself: a GDPR erasure must be able
to remove a member's name and address from earlier entries without breaking the chain.
The content (actor, before, after) is hashed with a random per-entry salt into
`content_digest`; the chain covers the digest. A redaction replaces the content, drops
the salt (so nobody can test a guessed e-mail address against the digest) and points
`redacted_by` at an `audit.redacted` entry that lists it. `verify` checks the content of
every unredacted entry against its digest and that every redacted entry is listed by a
redaction entry in the chain, so a redaction cannot be made silently.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click
from flask import Flask, g, has_request_context
from flask.cli import with_appcontext
from sqlalchemy import JSON, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .extensions import db
from .timeutil import UTCDateTime, utcnow

GENESIS = "0" * 64
REDACTED = "audit.redacted"


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(255), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Nullable only because the column was added to an existing table; every row has one.
    content_digest: Mapped[str | None] = mapped_column(String(64))
    salt: Mapped[str | None] = mapped_column(String(32))
    redacted_by: Mapped[int | None] = mapped_column(Integer)
    # The member an entry is about (their data, their RSVP, their grant), whatever its
    # object: a GDPR erasure finds the member's entries by this reference and the object
    # references, never by searching the content for a name. No foreign key: the log is a
    # leaf below community, and the reference must outlive nothing but itself.
    subject_member_id: Mapped[int | None] = mapped_column(Integer, index=True)


class AuditHead(db.Model):
    """The chain's tip; locking this single row serialises writers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    note: Mapped[str] = mapped_column(Text, default="")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def _normalise(value: Any) -> Any:
    """JSON round-trip so the stored value and the hashed value are identical."""
    return None if value is None else json.loads(json.dumps(value, default=_json_default))


def _sha256(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_digest(*, salt: str, actor: str, before: Any, after: Any) -> str:
    """SHA-256 over the salted content: what a redaction may later replace."""
    return _sha256({"salt": salt, "actor": actor, "before": before, "after": after})


def entry_hash(
    *, id: int, at: datetime, action: str, object_type: str, object_id: str | None,
    content_digest: str, prev_hash: str,
) -> str:
    """SHA-256 over the entry's metadata, its content digest and its predecessor's hash."""
    return _sha256({
        "id": id, "at": at.isoformat(timespec="microseconds"), "action": action,
        "object_type": object_type, "object_id": object_id, "content": content_digest,
        "prev": prev_hash,
    })


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Name the actor for audit entries written outside a request (CLI commands)."""
    previous = _cli_actor.get("actor")
    _cli_actor["actor"] = actor
    try:
        yield
    finally:
        _cli_actor["actor"] = previous


_cli_actor: dict[str, str | None] = {"actor": None}


def _current_actor() -> tuple[str, int | None]:
    if has_request_context():
        user = g.get("api_user") or g.get("audit_actor_user")
        if user is not None:
            return f"{user.role}:{user.email}", user.id
        return "anonymous", None
    actor = _cli_actor.get("actor")
    if actor:
        return actor, None
    return "cli:" + " ".join(sys.argv[1:3]) if len(sys.argv) > 1 else "system", None


def record(
    session: Session, action: str, object_type: str, object_id: Any = None,
    before: Any = None, after: Any = None, *, actor: str | None = None,
    at: datetime | None = None, subject_member_id: int | None = None,
) -> AuditEntry:
    """Append one entry to the chain (flushes; committed with the caller's transaction).

    `subject_member_id` names the member the entry is about when its object is not the
    member row itself (an RSVP, a grant, a login); an erasure redacts by it.
    """
    who, user_id = _current_actor()
    if actor is not None:
        who = actor
    # Taking the write lock on the head row first means no one else can read the same tip.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(note=""))
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS, note="")
        session.add(head)
        session.flush()
    at = at or utcnow()
    content = dict(actor=who[:255], before=_normalise(before), after=_normalise(after))
    salt = secrets.token_hex(16)
    meta = dict(
        id=head.last_id + 1, at=at, action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id), prev_hash=head.last_hash,
        content_digest=content_digest(salt=salt, **content),
    )
    digest = entry_hash(**meta)
    if subject_member_id is None and object_type == "member" and str(object_id).isdigit():
        subject_member_id = int(object_id)
    entry = AuditEntry(**meta, **content, salt=salt, hash=digest, actor_user_id=user_id,
                       subject_member_id=subject_member_id)
    session.add(entry)
    head.last_id = entry.id
    head.last_hash = digest
    session.flush()
    return entry


@dataclass(frozen=True)
class Redaction:
    """The new content of one earlier entry."""

    actor: str
    before: Any
    after: Any


def redact(
    session: Session, changes: Mapping[int, Redaction], *, object_type: str,
    object_id: Any, reason: str,
) -> AuditEntry | None:
    """Replace the content of earlier entries, logged by one `audit.redacted` entry.

    The redaction entry lists the ids it changed (never their old content); the changed
    rows lose their salt and point at it. Nothing else of a row may change (the trigger
    enforces that), so the chain still verifies.
    """
    if not changes:
        return None
    entry = record(session, REDACTED, object_type, object_id,
                   after={"entries": sorted(changes), "reason": reason})
    for entry_id, new in sorted(changes.items()):
        session.execute(
            update(AuditEntry).where(AuditEntry.id == entry_id, AuditEntry.id < entry.id)
            .values(actor=new.actor[:255], before=_normalise(new.before),
                    after=_normalise(new.after), salt=None, redacted_by=entry.id)
            .execution_options(synchronize_session="fetch")
        )
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None
    entry_id: int | None = None
    redacted: int = 0


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the chain in id order: links, hashes, content digests and redactions."""
    prev_hash, expected_id, checked, redacted = GENESIS, 1, 0, 0
    last_id = 0
    # redaction entry id -> ids of redacted entries that name it, checked when it is reached
    waiting: dict[int, list[int]] = {}

    def fail(problem: str, entry_id: int) -> VerifyResult:
        return VerifyResult(False, checked, problem, entry_id, redacted)

    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            if e.id != expected_id:
                return fail(f"entry {expected_id} is missing", expected_id)
            if e.prev_hash != prev_hash:
                return fail(f"entry {e.id} does not follow its predecessor", e.id)
            if e.redacted_by is None:
                if e.salt is None or e.content_digest != content_digest(
                        salt=e.salt, actor=e.actor, before=e.before, after=e.after):
                    return fail(f"entry {e.id} was altered", e.id)
            elif e.redacted_by <= e.id:
                return fail(f"entry {e.id} was altered", e.id)
            else:
                waiting.setdefault(e.redacted_by, []).append(e.id)
                redacted += 1
            digest = entry_hash(
                id=e.id, at=e.at, action=e.action, object_type=e.object_type,
                object_id=e.object_id, content_digest=e.content_digest or "",
                prev_hash=e.prev_hash,
            )
            if digest != e.hash:
                return fail(f"entry {e.id} was altered", e.id)
            if e.id in waiting:
                listed = (e.after or {}).get("entries", []) if e.action == REDACTED else []
                unlisted = sorted(set(waiting.pop(e.id)) - set(listed))
                if unlisted:
                    return fail(f"entry {unlisted[0]} was redacted without a logged redaction",
                                unlisted[0])
            prev_hash, expected_id, checked, last_id = e.hash, e.id + 1, checked + 1, e.id
        session.expunge_all()
    if waiting:
        first = min(min(ids) for ids in waiting.values())
        return fail(f"entry {first} was redacted without a logged redaction", first)
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != checked or head.last_hash != prev_hash):
        return fail("the newest entries were removed", head.last_id)
    return VerifyResult(True, checked, redacted=redacted)


@click.group("audit", help="Inspect the audit log.")
def audit_cli() -> None:
    pass


@audit_cli.command("verify", help="Check the audit log's hash chain; exit 1 on tampering.")
@with_appcontext
def verify_command() -> None:
    result = verify(db.session)
    if result.ok:
        note = f" ({result.redacted} redacted by logged erasures)" if result.redacted else ""
        click.echo(f"audit log intact: {result.checked} entries verified{note}")
        return
    click.echo(f"audit log TAMPERED: {result.problem} "
               f"({result.checked} entries ok before it)", err=True)
    sys.exit(1)


def init_app(app: Flask) -> None:
    """Register the `audit` command group."""
    app.cli.add_command(audit_cli)
