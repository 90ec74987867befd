"""Staff in a member's data export: shown by their role, never by address or name.

A member's export (GDPR Art. 15) holds staff identities in many places: audit actors
("manager:mgr@example.org"), tier-history actors, "granted by" / "signed by" user ids and
free text. Staff are people too, and their addresses are not the member's data, so each
becomes its role ("community manager"). The member's own logins stay as they are.
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...accounts.models import User

ROLE_LABELS = {"admin": "administrator", "manager": "community manager",
               "hr": "HR/legal reviewer", "door": "door staff", "member": "member"}
# Columns that hold a user id of whoever did something to the member's rows.
_BY_USER = re.compile(r"^(.+_by(_user)?_id|actor_user_id|created_by_id)$")
_ACTOR_KEYS = frozenset({"actor", "created_by", "sent_by", "by"})


def role_label(role: str) -> str:
    """How the export names someone by their role."""
    return ROLE_LABELS.get(role, role)


def _actor(value: str, own: frozenset[str]) -> str:
    """ "manager:mgr@x" -> "community manager"; the member's own actor and commands stay."""
    role, sep, who = value.partition(":")
    if not sep or who.lower() in own:
        return value
    return role_label(role) if role in ROLE_LABELS else role


def hide_staff(session: Session, data: dict[str, Any], member_id: int) -> dict[str, Any]:
    """The export with every other user's address and name replaced by their role."""
    own_rows = data.get("users", [])
    own = frozenset(str(u.get("email", "")).lower() for u in own_rows if u.get("email"))
    own_ids = {u["id"] for u in own_rows}
    member = data.get("member", {})
    own_texts = {str(member.get("email") or "").lower(),
                 str(member.get("display_name") or "").lower(), *own}
    staff = session.execute(select(User.id, User.email, User.name, User.role)
                            .where(User.id.not_in(own_ids) if own_ids else True)).all()
    by_id = {u.id: role_label(str(u.role)) for u in staff}
    # Longest first, so "Anna Manager" goes before "Anna"; the member's own name and
    # address are not replaced even when a staff user shares them.
    texts = sorted({(t, role_label(str(u.role))) for u in staff for t in (u.email, u.name)
                    if t and len(t) >= 3 and t.lower() not in own_texts},
                   key=lambda pair: len(pair[0]), reverse=True)
    labels = {t.lower(): label for t, label in texts}
    pattern = (re.compile("|".join(re.escape(t) for t, _ in texts), re.IGNORECASE)
               if texts else None)

    def text(value: str) -> str:
        if pattern is None:
            return value
        return pattern.sub(lambda m: labels[m.group(0).lower()], value)

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and _BY_USER.match(key):
            return by_id.get(value, value) if value not in own_ids else value
        if isinstance(value, str):
            if key in _ACTOR_KEYS:
                return text(_actor(value, own))
            return text(value)
        return value

    return {k: (v if k == "users" else walk(v, k)) for k, v in data.items()}
