"""Every signed link the product sends: invitation, ticket, unsubscribe, feed and sign-in.

One place decides how a link's secret part is made and read, so each kind is shaped the
same way: `make(kind, ...)` creates it, `read(kind, token, ...)` returns its payload or
raises `LinkInvalid` (forged, garbled, of another kind) or `LinkExpired`.
Revocation is the owner's: a signed link names a row plus that row's nonce, so replacing
the nonce (or the stored random token) stops every copy of the old link at once.

Kinds and what they carry (the salts and shapes are those of links already in mailboxes,
so changing them would break links people still hold):
- invitation: [invitation id, nonce]; time-stamped (the RSVP page shows no expiry today,
  but the stamp lets a later rule refuse very old links).
- ticket: [invitation id, nonce]; the check-in rule decides expiry from the event's end.
- unsubscribe: {"m": member id}; never expires (RFC 8058 one-click must keep working).
- invite-opt-out: {"m": member id}; never expires (stops event invitations only).
- login-device: {"e": e-mail, "n": nonce}; a cookie, not a link: "this browser signed in to
  this account before" (accounts.signin.device), time-stamped so it ages out.
- event: [event id]; a read-only event page (what the personal feed links to): it names
  no person and can change nothing, so it never expires.
- feed and sign-in links are random secrets (`random_token`), stored by their owner
  (a feed in plain text so it can be shown again, a sign-in link as a SHA-256 hash).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import (
    BadSignature,
    SignatureExpired,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

MAX_TOKEN_LENGTH = 512  # longer "tokens" are garbage or an attack; refuse before decoding


class LinkInvalid(Exception):
    """The link is forged, damaged, of another kind or names nothing that exists."""


class LinkExpired(LinkInvalid):
    """The link was genuine but its time is up."""


@dataclass(frozen=True)
class LinkKind:
    """How one kind of link is signed: its salt and whether it carries a time stamp."""

    name: str
    salt: str
    timed: bool


KINDS: dict[str, LinkKind] = {
    "invitation": LinkKind("invitation", "invitation", timed=True),
    "ticket": LinkKind("ticket", "checkin", timed=False),
    "unsubscribe": LinkKind("unsubscribe", "engagement.mailing-unsubscribe", timed=False),
    "invite-opt-out": LinkKind("invite-opt-out", "engagement.invitation-opt-out", timed=False),
    "login-device": LinkKind("login-device", "engagement.login-device", timed=True),
    "event": LinkKind("event", "engagement.event-details", timed=False),
}


def _serializer(kind: LinkKind, secret: str | None):
    key = secret if secret is not None else current_app.config["SECRET_KEY"]
    cls = URLSafeTimedSerializer if kind.timed else URLSafeSerializer
    return cls(key, salt=kind.salt)


def make(kind: str, payload: Any, *, secret: str | None = None) -> str:
    """The signed token for `payload` (JSON-able) as link kind `kind`."""
    return _serializer(KINDS[kind], secret).dumps(payload)


def read(kind: str, token: str, *, max_age: int | None = None,
         secret: str | None = None) -> Any:
    """The payload of a genuine token of this kind; LinkInvalid / LinkExpired otherwise."""
    spec = KINDS[kind]
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkInvalid(f"invalid {kind} link")
    serializer = _serializer(spec, secret)
    try:
        if spec.timed and max_age is not None:
            return serializer.loads(token, max_age=max_age)
        return serializer.loads(token)
    except SignatureExpired as exc:
        raise LinkExpired(f"{kind} link expired") from exc
    except (BadSignature, ValueError, TypeError, UnicodeError) as exc:
        raise LinkInvalid(f"invalid {kind} link") from exc


def make_pair(kind: str, row_id: int, nonce: str) -> str:
    """A token naming one row and that row's current nonce (invitation, ticket)."""
    return make(kind, [int(row_id), nonce])


def read_pair(kind: str, token: str, *, max_age: int | None = None) -> tuple[int, str]:
    """(row id, nonce) from a `make_pair` token; LinkInvalid for any other shape."""
    data = read(kind, token, max_age=max_age)
    if (not isinstance(data, list) or len(data) != 2 or not isinstance(data[0], int)
            or isinstance(data[0], bool) or not isinstance(data[1], str)
            or not 0 < data[0] < 2**63):
        raise LinkInvalid(f"invalid {kind} link")
    return data[0], data[1]


def same_secret(expected: str | None, given: str) -> bool:
    """Constant-time comparison of a stored nonce/token with the one from a link."""
    return expected is not None and secrets.compare_digest(expected, given)


def random_token(nbytes: int = 32) -> str:
    """A fresh unguessable secret for links that are stored, not signed (feed, sign-in)."""
    return secrets.token_urlsafe(nbytes)


def new_nonce() -> str:
    """A row's nonce; replacing it revokes every signed link that names the row."""
    return secrets.token_hex(16)


def token_digest(token: str) -> str:
    """SHA-256 of a stored secret: a leaked table does not let anyone use the links."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
