"""Append-only, hash-chained audit log of every change by a person or a command.

Each row's hash covers its own content and the previous row's hash, so editing,
deleting or re-ordering rows breaks the chain; `flask audit verify` finds the break.
Writers serialise on the single `audit_head` row, so concurrent requests cannot fork
the chain. Database triggers (see the migration) refuse UPDATE and DELETE.
"""
from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
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


def entry_hash(
    *, id: int, at: datetime, actor: str, action: str, object_type: str,
    object_id: str | None, before: Any, after: Any, prev_hash: str,
) -> str:
    """SHA-256 over a canonical JSON form of the entry and its predecessor's hash."""
    payload = json.dumps(
        {
            "id": id, "at": at.isoformat(timespec="microseconds"), "actor": actor,
            "action": action, "object_type": object_type, "object_id": object_id,
            "before": before, "after": after, "prev": prev_hash,
        },
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


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
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the chain (flushes; committed with the caller's transaction)."""
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
    fields = dict(
        id=head.last_id + 1, at=at, actor=who[:255], action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=_normalise(before), after=_normalise(after), prev_hash=head.last_hash,
    )
    digest = entry_hash(**fields)
    entry = AuditEntry(**fields, hash=digest, actor_user_id=user_id)
    session.add(entry)
    head.last_id = entry.id
    head.last_hash = digest
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None
    entry_id: int | None = None


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the chain in id order and recompute every hash."""
    prev_hash, expected_id, checked = GENESIS, 1, 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            if e.id != expected_id:
                return VerifyResult(False, checked, f"entry {expected_id} is missing", expected_id)
            if e.prev_hash != prev_hash:
                problem = f"entry {e.id} does not follow its predecessor"
                return VerifyResult(False, checked, problem, e.id)
            digest = entry_hash(
                id=e.id, at=e.at, actor=e.actor, action=e.action, object_type=e.object_type,
                object_id=e.object_id, before=e.before, after=e.after, prev_hash=e.prev_hash,
            )
            if digest != e.hash:
                return VerifyResult(False, checked, f"entry {e.id} was altered", e.id)
            prev_hash, expected_id, checked, last_id = e.hash, e.id + 1, checked + 1, e.id
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != checked or head.last_hash != prev_hash):
        return VerifyResult(False, checked, "the newest entries were removed", head.last_id)
    return VerifyResult(True, checked)


@click.group("audit", help="Inspect the audit log.")
def audit_cli() -> None:
    pass


@audit_cli.command("verify", help="Check the audit log's hash chain; exit 1 on tampering.")
@with_appcontext
def verify_command() -> None:
    result = verify(db.session)
    if result.ok:
        click.echo(f"audit log intact: {result.checked} entries verified")
        return
    click.echo(f"audit log TAMPERED: {result.problem} "
               f"({result.checked} entries ok before it)", err=True)
    sys.exit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_cli)
