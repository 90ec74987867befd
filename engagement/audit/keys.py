"""The audit chain's HMAC keys: the current `AUDIT_KEY` and the old ones verify still needs.

The keys never enter the database. Each entry stores only a key id (an HMAC of a fixed
text under the key, so the id reveals nothing about the key) saying which key sealed it;
a key change is only valid at a logged `audit.key_rotated` entry (see chain.py).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app

KEY_FILE = "audit_key"  # in the instance folder, outside production
_ID_TEXT = b"engagement audit key id"


class AuditKeyError(RuntimeError):
    """The audit chain cannot be extended: the key that sealed its newest entry is unknown."""


def key_id(key: bytes) -> str:
    """A short, non-secret name of a key, stored in every entry it seals."""
    return hmac.new(key, _ID_TEXT, hashlib.sha256).hexdigest()[:16]


def mac(key: bytes, payload: Mapping[str, Any]) -> str:
    """HMAC-SHA256 over the canonical JSON of `payload`."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class KeyRing:
    """The current key (new entries) and every key verify may use, by key id."""

    current_id: str
    keys: Mapping[str, bytes]

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    @classmethod
    def from_texts(cls, current: str, old: list[str] | tuple[str, ...] = ()) -> KeyRing:
        """The ring for `AUDIT_KEY` = current and `AUDIT_OLD_KEYS` = old."""
        keys = {key_id(t.encode("utf-8")): t.encode("utf-8") for t in old if t}
        now = current.encode("utf-8")
        keys[key_id(now)] = now
        return cls(key_id(now), keys)


def ring(config: Mapping[str, Any] | None = None) -> KeyRing:
    """The key ring of the app's configuration (the current app's by default)."""
    config = current_app.config if config is None else config
    key = config.get("AUDIT_KEY")
    if not key:
        raise AuditKeyError("AUDIT_KEY is not configured")
    return KeyRing.from_texts(key, config.get("AUDIT_OLD_KEYS") or ())


def configure(app: Flask) -> None:
    """Refuse to start in production without AUDIT_KEY; elsewhere keep one in the instance."""
    if app.config.get("AUDIT_KEY"):
        return
    if app.config["ENGAGEMENT_ENV"] == "production":
        raise RuntimeError("AUDIT_KEY must be set in production (ENGAGEMENT_ENV=production): "
                           "it keys the audit log's hash chain and must not live in the "
                           "database")
    key_file = Path(app.instance_path) / KEY_FILE
    if not key_file.exists():
        # Written aside and linked into place: processes starting together (web, mail
        # workers) must all end up with the same key, never each with their own.
        draft = key_file.with_name(f".{KEY_FILE}.{os.getpid()}")
        draft.write_text(os.urandom(32).hex())
        draft.chmod(0o600)
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    app.config["AUDIT_KEY"] = key_file.read_text().strip()
