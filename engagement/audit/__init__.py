"""Append-only, HMAC-chained audit log of every change by a person or a command.

Each row's hash is an HMAC-SHA256, under a key kept outside the database (`AUDIT_KEY`),
of its metadata, a digest of its content and the previous row's hash, so editing,
deleting or re-ordering rows breaks the chain, and someone with only database access
cannot re-seal a rewritten chain; `flask audit verify` finds the break. Cutting off the
newest entries needs no key, so `flask audit anchor` prints the head to keep elsewhere and
`flask audit verify --anchor` checks the chain still reaches it. Writers serialise on
the single `audit_head` row, so concurrent requests cannot fork the chain. Database
triggers (see the migrations) refuse DELETE and every UPDATE except a logged redaction.

Why a content digest instead of hashing the content itself: a GDPR erasure must be able
to remove a member's name and address from earlier entries without breaking the chain.
The content (actor, before, after) is hashed with a random per-entry salt into
`content_digest`; the chain covers the digest. A redaction replaces the content, drops
the salt (so nobody can test a guessed e-mail address against the digest) and points
`redacted_by` at an `audit.redacted` entry that lists it. `verify` checks the content of
every unredacted entry against its digest and that every redacted entry is listed by a
redaction entry in the chain, so a redaction cannot be made silently.

Key rotation: every entry names the key that sealed it (`key_id`). When `AUDIT_KEY`
changes, the next write (or `flask audit rotate-key`) first appends `audit.key_rotated`,
sealed with the new key and carrying the old key's consent; verify accepts a key change
only there, and needs the old keys in `AUDIT_OLD_KEYS` for the older entries.
"""
from __future__ import annotations

from flask import Flask

from . import keys
from .chain import (
    KEY_ROTATED,
    REDACTED,
    Redaction,
    acting_as,
    content_digest,
    entry_hash,
    record,
    redact,
    rotate_key,
)
from .check import Anchor, BadAnchor, VerifyResult, parse_anchor, verify
from .keys import AuditKeyError, KeyRing
from .models import GENESIS, AuditEntry, AuditHead

__all__ = [
    "GENESIS", "KEY_ROTATED", "REDACTED", "Anchor", "AuditEntry", "AuditHead",
    "AuditKeyError", "BadAnchor", "KeyRing", "Redaction", "VerifyResult", "acting_as",
    "content_digest", "entry_hash", "init_app", "parse_anchor", "record", "redact",
    "rotate_key", "verify",
]


def init_app(app: Flask) -> None:
    """Settle the chain's key (a start-up error in production without one); add `audit`."""
    from .cli import audit_cli

    keys.configure(app)
    app.cli.add_command(audit_cli)
