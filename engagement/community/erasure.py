"""Erased platform identities: a keyed hash replaces the external id of an erased member.

It lives in community (not records) because the importer must recognise an erased
platform user and skip them, so a re-import of an old export does not bring them back.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

ERASED_PREFIX = "erased-"


def erasure_key(config: Mapping) -> str:
    """The key for erased ids: GDPR_ERASURE_KEY, else SECRET_KEY (changing it forgets them)."""
    return config["GDPR_ERASURE_KEY"] or config["SECRET_KEY"]


def erased_external_id(key: str, source: str, external_id: str) -> str:
    """Keyed hash of the platform identity: stable for re-imports, not reversible."""
    digest = hmac.new(key.encode(), f"{source}\x00{external_id}".encode(), hashlib.sha256)
    return ERASED_PREFIX + digest.hexdigest()[:40]
