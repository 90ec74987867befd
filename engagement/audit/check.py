"""Verifying the chain: links, keyed hashes, content digests, redactions, rotations, anchors.

An anchor (`flask audit anchor`) is the id and hash of the newest entry, kept somewhere
the database's writers cannot reach. The keyed hashes stop anyone without the key from
rewriting entries, but anyone with write access can still cut the newest entries off and
point the head at what is left; only a copy of the head kept elsewhere shows that.
"""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .chain import KEY_ROTATED, REDACTED, content_digest, entry_hash, handover
from .keys import KeyRing, ring
from .models import GENESIS, AuditEntry, AuditHead

_ANCHOR = re.compile(r"^(\d{1,12}):([0-9a-f]{64})$")


class BadAnchor(ValueError):
    """An anchor value is not `ENTRY_ID:HASH`."""


@dataclass(frozen=True)
class Anchor:
    """The id and hash of one entry, kept outside the database to check the chain against."""

    entry_id: int
    hash: str

    def __str__(self) -> str:
        return f"{self.entry_id}:{self.hash}"


def parse_anchor(text: str) -> Anchor:
    """The anchor printed by `flask audit anchor`; BadAnchor for anything else."""
    match = _ANCHOR.match(text.strip().lower())
    if not match:
        raise BadAnchor(f"not an audit anchor (ENTRY_ID:HASH, 64 hex digits): {text!r}")
    return Anchor(int(match.group(1)), match.group(2))


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None
    entry_id: int | None = None
    redacted: int = 0
    wrong_key: bool = False  # the configured keys cannot check the chain (not tampering)
    last_id: int = 0
    last_hash: str = GENESIS

    @property
    def anchor(self) -> Anchor:
        return Anchor(self.last_id, self.last_hash)


class _Failed(Exception):
    def __init__(self, problem: str, entry_id: int, wrong_key: bool = False) -> None:
        super().__init__(problem)
        self.problem, self.entry_id, self.wrong_key = problem, entry_id, wrong_key


class _Walk:
    """The state of one walk along the chain in id order."""

    def __init__(self, keys: KeyRing, anchor: Anchor | None) -> None:
        self.keys, self.anchor = keys, anchor
        self.prev_hash, self.checked, self.redacted = GENESIS, 0, 0
        self.key_id: str | None = None
        # redaction entry id -> ids of redacted entries that name it, checked when reached
        self.waiting: dict[int, list[int]] = {}

    def step(self, e: AuditEntry) -> None:
        if e.id != self.checked + 1:
            raise _Failed(f"entry {self.checked + 1} is missing", self.checked + 1)
        if e.prev_hash != self.prev_hash:
            raise _Failed(f"entry {e.id} does not follow its predecessor", e.id)
        key = self._key(e)
        self._content(e)
        digest = entry_hash(
            key=key, key_id=e.key_id or "", id=e.id, at=e.at, action=e.action,
            object_type=e.object_type, object_id=e.object_id,
            content_digest=e.content_digest or "", prev_hash=e.prev_hash,
        )
        if not hmac.compare_digest(digest, e.hash):
            raise _Failed(f"entry {e.id} was altered", e.id)
        self._listed(e)
        if self.anchor and e.id == self.anchor.entry_id and e.hash != self.anchor.hash:
            raise _Failed(f"entry {e.id} is not the anchored entry: the chain was rewritten "
                          "since the anchor was taken", e.id)
        self.prev_hash, self.checked, self.key_id = e.hash, e.id, e.key_id

    def _key(self, e: AuditEntry) -> bytes:
        if self.key_id is not None and e.key_id != self.key_id:
            self._rotation(e)
        key = self.keys.keys.get(e.key_id or "")
        if key is None:
            raise _Failed(
                f"entry {e.id} is sealed with audit key {e.key_id}, which is not configured: "
                "AUDIT_KEY is wrong or that key is missing from AUDIT_OLD_KEYS (or someone "
                "re-sealed the log with a key of their own)", e.id,
                wrong_key=True)
        return key

    def _rotation(self, e: AuditEntry) -> None:
        """A key change is valid only at a rotation entry the previous key consented to."""
        after = e.after if isinstance(e.after, dict) else {}
        expected = handover(self.keys.keys[self.key_id or ""], id=e.id, prev_hash=e.prev_hash,
                            new_key_id=e.key_id or "")
        if (e.action != KEY_ROTATED or after.get("previous_key") != self.key_id
                or after.get("key") != e.key_id
                or not hmac.compare_digest(str(after.get("handover", "")), expected)):
            raise _Failed(f"entry {e.id} changes the audit key without a logged rotation", e.id)

    def _content(self, e: AuditEntry) -> None:
        if e.redacted_by is None:
            if e.salt is None or e.content_digest != content_digest(
                    salt=e.salt, actor=e.actor, before=e.before, after=e.after):
                raise _Failed(f"entry {e.id} was altered", e.id)
        elif e.redacted_by <= e.id:
            raise _Failed(f"entry {e.id} was altered", e.id)
        else:
            self.waiting.setdefault(e.redacted_by, []).append(e.id)
            self.redacted += 1

    def _listed(self, e: AuditEntry) -> None:
        if e.id in self.waiting:
            listed = (e.after or {}).get("entries", []) if e.action == REDACTED else []
            unlisted = sorted(set(self.waiting.pop(e.id)) - set(listed))
            if unlisted:
                raise _Failed(f"entry {unlisted[0]} was redacted without a logged redaction",
                              unlisted[0])

    def finish(self, head: AuditHead | None) -> None:
        if self.waiting:
            first = min(min(ids) for ids in self.waiting.values())
            raise _Failed(f"entry {first} was redacted without a logged redaction", first)
        if self.anchor and self.checked < self.anchor.entry_id:
            raise _Failed(f"the chain ends at entry {self.checked}, but the anchor names entry "
                          f"{self.anchor.entry_id}: entries were removed since the anchor "
                          "was taken", self.checked + 1)
        if head is not None and (head.last_id != self.checked
                                 or head.last_hash != self.prev_hash):
            raise _Failed("the newest entries were removed", head.last_id)
        if self.key_id is not None and self.key_id != self.keys.current_id:
            raise _Failed(
                f"the newest entry ({self.checked}) is sealed with an old key ({self.key_id}), "
                f"not AUDIT_KEY ({self.keys.current_id}): run `flask audit rotate-key` if "
                "AUDIT_KEY was just changed; otherwise entries after a key rotation were "
                "removed", self.checked)


def verify(session: Session, batch: int = 5000, *, keys: KeyRing | None = None,
           anchor: Anchor | None = None) -> VerifyResult:
    """Walk the chain in id order with the configured keys (and against an anchor)."""
    walk = _Walk(keys or ring(), anchor)
    try:
        while True:
            rows = session.scalars(
                select(AuditEntry).where(AuditEntry.id > walk.checked)
                .order_by(AuditEntry.id).limit(batch)
            ).all()
            if not rows:
                break
            for e in rows:
                walk.step(e)
            session.expunge_all()
        walk.finish(session.get(AuditHead, 1))
    except _Failed as failed:
        return VerifyResult(False, walk.checked, failed.problem, failed.entry_id,
                            walk.redacted, failed.wrong_key, walk.checked, walk.prev_hash)
    return VerifyResult(True, walk.checked, redacted=walk.redacted, last_id=walk.checked,
                        last_hash=walk.prev_hash)
