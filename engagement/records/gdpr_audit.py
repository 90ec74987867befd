"""What an erasure removes from the audit log, and how.

The audit log keeps its entries (who did what, when, to which object) because the trail
itself is needed; an erasure removes what identifies the member from their content:
- everywhere: the member's name and e-mail addresses (as the other kept rows do, they
  become the pseudonym), in the actor and in before/after;
- in entries about the member's own objects (the member row, their invitations, grants,
  roles, agreement acceptances, member-years): values of personal fields (`PERSONAL_KEYS`:
  addresses, names, free-text answers and notes) become "[erased]", while statuses,
  amounts and tiers stay.
The changes go through `audit.redact`, which logs them in the chain.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from .. import audit
from ..audit import AuditEntry

ERASED = "[erased]"
PERSONAL_KEYS = frozenset({
    "email", "display_name", "name", "region", "locale", "joined_at", "external_id",
    "answers", "note", "fulfilment_note", "tier_override_reason", "address", "ip",
})
_CHUNK = 500


def _like_forms(needle: str) -> set[str]:
    """The needle as JSON stores it (non-ASCII escaped or not), lower-cased."""
    return {needle.lower(), json.dumps(needle)[1:-1].lower()}


def _scrub(value: Any, pattern: re.Pattern, pseudonym: str, personal: bool) -> Any:
    if isinstance(value, dict):
        return {k: (ERASED if personal and k in PERSONAL_KEYS and v not in (None, "", [], {})
                    else _scrub(v, pattern, pseudonym, personal))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, pattern, pseudonym, personal) for v in value]
    if isinstance(value, str):
        return pattern.sub(pseudonym, value)
    return value


def redact_member(
    session: Session, member_id: int, *, needles: Iterable[str], pseudonym: str,
    linked: Mapping[str, Iterable[int]], user_ids: Iterable[int],
) -> int:
    """Redact the audit entries that name or concern the member; returns how many changed.

    `linked` maps an audit object type (e.g. "invitation") to the ids of the member's rows
    of that kind; `user_ids` are the member's logins (entries they acted in).
    """
    needles = sorted({n for n in needles if n}, key=len, reverse=True)
    about = [and_(AuditEntry.object_type == "member", AuditEntry.object_id == str(member_id)),
             and_(AuditEntry.object_type == "member_year",
                  AuditEntry.object_id.startswith(f"{member_id}/", autoescape=True))]
    for object_type, ids in linked.items():
        ids = [str(i) for i in ids]
        for start in range(0, len(ids), _CHUNK):
            about.append(and_(AuditEntry.object_type == object_type,
                              AuditEntry.object_id.in_(ids[start:start + _CHUNK])))
    user_ids = list(user_ids)
    if user_ids:
        about.append(and_(AuditEntry.object_type == "user",
                          AuditEntry.object_id.in_([str(i) for i in user_ids])))
    mentions = [
        func.lower(column).contains(form, autoescape=True)
        for needle in needles for form in _like_forms(needle)
        for column in (AuditEntry.actor, cast(AuditEntry.before, Text),
                       cast(AuditEntry.after, Text))
    ]
    if user_ids:
        mentions.append(AuditEntry.actor_user_id.in_(user_ids))
    about_clause = or_(*about)
    rows = session.execute(
        select(AuditEntry.id, AuditEntry.actor, AuditEntry.before, AuditEntry.after,
               about_clause.label("about"))
        .where(or_(about_clause, *mentions), AuditEntry.action != audit.REDACTED)
        .order_by(AuditEntry.id)
    ).all()
    pattern = (re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
               if needles else re.compile(r"(?!x)x"))
    changes: dict[int, audit.Redaction] = {}
    for row in rows:
        personal = bool(row.about)
        new = audit.Redaction(
            actor=pattern.sub(pseudonym, row.actor),
            before=_scrub(row.before, pattern, pseudonym, personal),
            after=_scrub(row.after, pattern, pseudonym, personal),
        )
        if (new.actor, new.before, new.after) != (row.actor, row.before, row.after):
            changes[row.id] = new
    audit.redact(session, changes, object_type="member", object_id=member_id,
                 reason=f"GDPR Art. 17 erasure of member #{member_id}")
    return len(changes)
