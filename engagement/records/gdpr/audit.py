"""What an erasure removes from the audit log, and how.

The audit log keeps its entries (who did what, when, to which object) because the trail
itself is needed; an erasure removes what identifies the member from their content.
Which entries are the member's is decided by reference only, never by searching the
content for a name or address (a member called "manager" or imported with a staff
address must not rewrite other people's entries):
- entries about the member: their `subject_member_id`, or an object that is theirs (the
  member row, their invitations, grants, roles, agreement acceptances, member-years and
  logins). Values of personal fields (`PERSONAL_KEYS`: addresses, names, free-text answers
  and notes) become "[erased]", and the member's name and addresses inside longer free
  text become the pseudonym; statuses, amounts, tiers and other people's identities stay;
- entries the member made: their login as `actor_user_id`, or an actor that is exactly
  one of their logins ("member:their@login"). The actor becomes "role:pseudonym".
The changes go through `audit.redact`, which logs them in the chain.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ... import audit
from ...audit import AuditEntry

ERASED = "[erased]"
PERSONAL_KEYS = frozenset({
    "email", "display_name", "name", "region", "locale", "joined_at", "external_id",
    "answers", "note", "fulfilment_note", "tier_override_reason", "address", "ip",
})
# An actor-shaped value ("manager:mgr@example.org") names someone; it is only ever
# replaced when it is exactly one of the member's own logins.
_IDENTITY = re.compile(r"^[a-z_-]+:\S+$")
_CHUNK = 500


def _pattern(needles: Iterable[str]) -> re.Pattern | None:
    needles = sorted({n for n in needles if n}, key=len, reverse=True)
    if not needles:
        return None
    return re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)


def _scrub(value: Any, pattern: re.Pattern | None, pseudonym: str,
           own_actors: frozenset[str]) -> Any:
    """The content of an entry about the member, without their personal data."""
    if isinstance(value, dict):
        return {k: (ERASED if k in PERSONAL_KEYS and v not in (None, "", [], {})
                    else _scrub(v, pattern, pseudonym, own_actors))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, pattern, pseudonym, own_actors) for v in value]
    if isinstance(value, str):
        if value.lower() in own_actors:
            return f"{value.split(':', 1)[0]}:{pseudonym}"
        if pattern is None or _IDENTITY.match(value):
            return value
        # A value that *is* the needle under a non-personal key ("status": "published")
        # is a value, not the member's name; free text that contains it is theirs.
        match = pattern.fullmatch(value)
        return value if match else pattern.sub(pseudonym, value)
    return value


def _about(member_id: int, linked: Mapping[str, Iterable[int]], user_ids: list[int]):
    """Entries about the member: by reference to them or to rows of theirs, never by content."""
    about = [AuditEntry.subject_member_id == member_id,
             and_(AuditEntry.object_type == "member", AuditEntry.object_id == str(member_id)),
             and_(AuditEntry.object_type == "member_year",
                  AuditEntry.object_id.startswith(f"{member_id}/", autoescape=True))]
    for object_type, ids in linked.items():
        ids = [str(i) for i in ids]
        for start in range(0, len(ids), _CHUNK):
            about.append(and_(AuditEntry.object_type == object_type,
                              AuditEntry.object_id.in_(ids[start:start + _CHUNK])))
    if user_ids:
        about.append(and_(AuditEntry.object_type == "user",
                          AuditEntry.object_id.in_([str(i) for i in user_ids])))
    return or_(*about)


# Entries on an event that list the invitations they touched (waiting-list offers).
EVENT_LISTS = ("invitation.offer", "invitation.offer_expired")


def member_audit_entries(session: Session, member_id: int, *,
                         linked: Mapping[str, Iterable[int]], user_ids: Iterable[int],
                         invitations: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every audit entry about the member (their rows, RSVPs, offers, check-ins, grants,
    agreements, logins) or made by their logins, for their data export. An event's offer
    entry is cut down to the member's own invitations."""
    user_ids = list(user_ids)
    own = {int(r["id"]) for r in invitations}
    event_ids = sorted({str(r["event_id"]) for r in invitations})
    conditions = [_about(member_id, linked, user_ids)]
    if user_ids:
        conditions.append(AuditEntry.actor_user_id.in_(user_ids))
    for start in range(0, len(event_ids), _CHUNK):
        conditions.append(and_(AuditEntry.action.in_(EVENT_LISTS),
                               AuditEntry.object_type == "event",
                               AuditEntry.object_id.in_(event_ids[start:start + _CHUNK])))
    out = []
    for e in session.scalars(select(AuditEntry).where(or_(*conditions))
                             .order_by(AuditEntry.id)):
        after = e.after
        if e.action in EVENT_LISTS and e.object_type == "event":
            mine = [i for i in (after or {}).get("invitations", []) if i in own]
            if not mine:
                continue
            after = {**after, "invitations": mine}
        out.append({"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                    "object_type": e.object_type, "object_id": e.object_id,
                    "before": e.before, "after": after})
    return out


def redact_member(
    session: Session, member_id: int, *, needles: Iterable[str], pseudonym: str,
    linked: Mapping[str, Iterable[int]], user_ids: Iterable[int],
    own_actors: Iterable[str] = (),
) -> int:
    """Redact the audit entries about or by the member; returns how many changed.

    `linked` maps an audit object type (e.g. "invitation") to the ids of the member's rows
    of that kind; `user_ids` are the member's logins and `own_actors` their actor strings
    ("member:their@login"); `needles` (their name and addresses) are replaced only inside
    free text of entries already found to be about them.
    """
    user_ids = list(user_ids)
    about_clause = _about(member_id, linked, user_ids)
    own_actors = frozenset(a.lower() for a in own_actors if a)
    acted = []
    if user_ids:
        acted.append(AuditEntry.actor_user_id.in_(user_ids))
    if own_actors:
        acted.append(AuditEntry.actor.in_(sorted(own_actors)))
    acted_clause = or_(*acted) if acted else None
    columns = [AuditEntry.id, AuditEntry.actor, AuditEntry.actor_user_id,
               AuditEntry.before, AuditEntry.after, about_clause.label("about")]
    query = select(*columns).where(
        or_(about_clause, *([acted_clause] if acted_clause is not None else [])),
        AuditEntry.action != audit.REDACTED).order_by(AuditEntry.id)
    pattern = _pattern(needles)
    changes: dict[int, audit.Redaction] = {}
    for row in session.execute(query).all():
        actor = row.actor
        if (row.actor_user_id is not None and row.actor_user_id in user_ids) \
                or actor.lower() in own_actors:
            actor = f"{actor.split(':', 1)[0]}:{pseudonym}"
        before, after = row.before, row.after
        if row.about:
            before = _scrub(before, pattern, pseudonym, own_actors)
            after = _scrub(after, pattern, pseudonym, own_actors)
        new = audit.Redaction(actor=actor, before=before, after=after)
        if (new.actor, new.before, new.after) != (row.actor, row.before, row.after):
            changes[row.id] = new
    audit.redact(session, changes, object_type="member", object_id=member_id,
                 reason=f"GDPR Art. 17 erasure of member #{member_id}")
    return len(changes)
