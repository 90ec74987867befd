"""Writing the chain: append an entry, redact earlier content, rotate the HMAC key."""
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

from flask import g, has_request_context
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..timeutil import utcnow
from .keys import AuditKeyError, KeyRing, mac, ring
from .models import GENESIS, AuditEntry, AuditHead

REDACTED = "audit.redacted"
KEY_ROTATED = "audit.key_rotated"
# A fixed actor: no person is named, so a GDPR erasure never redacts a rotation entry.
ROTATION_ACTOR = "system:audit-key-rotation"


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


def content_digest(*, salt: str, actor: str, before: Any, after: Any) -> str:
    """SHA-256 over the salted content: what a redaction may later replace."""
    text = json.dumps({"salt": salt, "actor": actor, "before": before, "after": after},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(
    *, key: bytes, key_id: str, id: int, at: datetime, action: str, object_type: str,
    object_id: str | None, content_digest: str, prev_hash: str,
) -> str:
    """HMAC-SHA256 (keyed: no one without the key can re-seal a rewritten entry) over the
    entry's metadata, its content digest, its key id and its predecessor's hash."""
    return mac(key, {
        "id": id, "at": at.isoformat(timespec="microseconds"), "action": action,
        "object_type": object_type, "object_id": object_id, "content": content_digest,
        "key": key_id, "prev": prev_hash,
    })


def handover(old_key: bytes, *, id: int, prev_hash: str, new_key_id: str) -> str:
    """The old key's consent to the rotation at entry `id`: only its holder can rotate."""
    return mac(old_key, {"rotate_at": id, "prev": prev_hash, "to": new_key_id})


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


def _lock_head(session: Session) -> AuditHead:
    # Taking the write lock on the head row first means no one else can read the same tip.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(note=""))
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS, note="")
        session.add(head)
        session.flush()
    return head


def _append(
    session: Session, head: AuditHead, keys: KeyRing, *, action: str, object_type: str,
    object_id: Any, actor: str, user_id: int | None, before: Any, after: Any, at: datetime,
    subject_member_id: int | None = None,
) -> AuditEntry:
    content = dict(actor=actor[:255], before=_normalise(before), after=_normalise(after))
    salt = secrets.token_hex(16)
    meta = dict(
        id=head.last_id + 1, at=at, action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id), prev_hash=head.last_hash,
        content_digest=content_digest(salt=salt, **content), key_id=keys.current_id,
    )
    digest = entry_hash(key=keys.current, **meta)
    if subject_member_id is None and object_type == "member" and str(object_id).isdigit():
        subject_member_id = int(object_id)
    entry = AuditEntry(**meta, **content, salt=salt, hash=digest, actor_user_id=user_id,
                       subject_member_id=subject_member_id)
    session.add(entry)
    head.last_id = entry.id
    head.last_hash = digest
    session.flush()
    return entry


def _rotate_if_needed(session: Session, head: AuditHead, keys: KeyRing,
                      at: datetime) -> AuditEntry | None:
    """Write `audit.key_rotated` when AUDIT_KEY is not the key of the newest entry."""
    if head.last_id == 0:
        return None
    last_key = session.scalar(select(AuditEntry.key_id).where(AuditEntry.id == head.last_id))
    if last_key == keys.current_id:
        return None
    if last_key not in keys.keys:
        raise AuditKeyError(
            f"the audit log's newest entry ({head.last_id}) is sealed with key {last_key}, "
            f"which is not configured: keep that key in AUDIT_OLD_KEYS to rotate to "
            f"AUDIT_KEY (key {keys.current_id})")
    consent = handover(keys.keys[last_key], id=head.last_id + 1, prev_hash=head.last_hash,
                       new_key_id=keys.current_id)
    return _append(session, head, keys, action=KEY_ROTATED, object_type="audit_log",
                   object_id=None, actor=ROTATION_ACTOR, user_id=None, before=None,
                   after={"previous_key": last_key, "key": keys.current_id,
                          "handover": consent}, at=at)


def record(
    session: Session, action: str, object_type: str, object_id: Any = None,
    before: Any = None, after: Any = None, *, actor: str | None = None,
    at: datetime | None = None, subject_member_id: int | None = None,
) -> AuditEntry:
    """Append one entry to the chain (flushes; committed with the caller's transaction).

    `subject_member_id` names the member the entry is about when its object is not the
    member row itself (an RSVP, a grant, a login); an erasure redacts by it. After
    AUDIT_KEY changed, the first entry written is an `audit.key_rotated` entry.
    """
    who, user_id = _current_actor()
    if actor is not None:
        who = actor
    keys = ring()
    head = _lock_head(session)
    at = at or utcnow()
    _rotate_if_needed(session, head, keys, at)
    return _append(session, head, keys, action=action, object_type=object_type,
                   object_id=object_id, actor=who, user_id=user_id, before=before,
                   after=after, at=at, subject_member_id=subject_member_id)


def rotate_key(session: Session, *, at: datetime | None = None) -> AuditEntry | None:
    """Log the switch to the current AUDIT_KEY now (None: the chain already uses it)."""
    keys = ring()
    head = _lock_head(session)
    return _rotate_if_needed(session, head, keys, at or utcnow())


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
