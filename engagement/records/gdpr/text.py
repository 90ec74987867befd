"""Free text an erasure redacts: the member's name and addresses inside the rows that stay.

Which rows are the member's is decided by reference only (a foreign key to their member
row or one of their logins, and the rows hanging off those, e.g. an invitation's consents),
never by searching other people's rows for the name. Inside those rows every free-text
column is redacted: `Text` columns, `String` columns marked `info={"free_text": True}`
(e.g. `agreement_acceptances.source`, which may hold "entered by phone for a@b.c") and JSON
values (RSVP answers, sign-off snapshots). The match ignores case ("ZEBULON" is the same
person). Code-like strings (statuses, enum values, "role:who" actors) are left alone,
except an actor that is one of the member's own logins, which becomes "role:pseudonym".
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Column, Enum, String, Table, Text, or_, select, update
from sqlalchemy.orm import Session

from ...extensions import db

# An actor-shaped value ("manager:mgr@example.org") names someone; only ever replaced when
# it is exactly one of the member's own logins (see gdpr/audit.py).
_IDENTITY = re.compile(r"^[a-z_-]+:\S+$")
_CHUNK = 500


def needle_pattern(needles: Iterable[str]) -> re.Pattern | None:
    """One case-insensitive pattern for the name and addresses, longest first."""
    ordered = sorted({n for n in needles if n}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(re.escape(n) for n in ordered), re.IGNORECASE)


def redact_text(value: Any, pattern: re.Pattern | None, pseudonym: str,
                own_actors: frozenset[str] = frozenset()) -> Any:
    """`value` (a string or JSON structure) with the member's name/addresses replaced."""
    if isinstance(value, dict):
        return {k: redact_text(v, pattern, pseudonym, own_actors) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_text(v, pattern, pseudonym, own_actors) for v in value]
    if not isinstance(value, str) or not value:
        return value
    if value.lower() in own_actors:
        return f"{value.split(':', 1)[0]}:{pseudonym}"
    if pattern is None or _IDENTITY.match(value):
        return value
    return pattern.sub(pseudonym, value)


def _free_text(table: Table) -> list[Column]:
    cols = []
    for col in table.columns:
        if isinstance(col.type, Enum):
            continue
        if isinstance(col.type, Text | JSON) or (
                isinstance(col.type, String) and col.info.get("free_text")):
            cols.append(col)
    return cols


def _referencing(target: str, skip: frozenset[str]) -> list[tuple[Table, list[Column]]]:
    found = []
    for table in db.metadata.sorted_tables:
        cols = [fk.parent for fk in table.foreign_keys
                if fk.column.table.name == target and fk.column.name == "id"]
        if cols and table.name not in skip:
            found.append((table, cols))
    return found


def _fit(col: Column, value: Any) -> Any:
    length = getattr(col.type, "length", None)
    if isinstance(value, str) and length and len(value) > length:
        return value[:length]  # PostgreSQL enforces varchar lengths
    return value


def _redact_rows(session: Session, table: Table, where: Any, pattern: re.Pattern,
                 pseudonym: str, own_actors: frozenset[str]) -> int:
    cols = _free_text(table)
    if not cols or "id" not in table.c:
        return 0
    changed = 0
    rows = session.execute(select(table.c.id, *cols).where(where)).all()
    for row in rows:
        values = {}
        for col in cols:
            old = row._mapping[col]
            new = redact_text(old, pattern, pseudonym, own_actors)
            if new != old:
                values[col.name] = _fit(col, new)
        if values:
            session.execute(update(table).where(table.c.id == row.id).values(**values))
            changed += 1
    return changed


def redact_member_rows(session: Session, member_id: int, user_ids: list[int], *,
                       needles: Iterable[str], pseudonym: str, own_actors: Iterable[str],
                       skip: frozenset[str]) -> int:
    """Redact the free text of every row of the member's that stays; returns rows changed.

    Rows found: tables with a foreign key to the member and tables with a foreign key to
    those rows (one level further down), plus rows of the member's logins (`user_ids`).
    Tables in `skip` are handled by the erasure itself.
    """
    pattern = needle_pattern(needles)
    actors = frozenset(a.lower() for a in own_actors if a)
    if pattern is None and not actors:
        return 0
    pattern = pattern or re.compile(r"(?!)")  # matches nothing; actors still handled
    changed = 0
    direct = _referencing("members", skip)
    seen = {table.name for table, _ in direct}
    for table, cols in direct:
        where = or_(*(c == member_id for c in cols))
        changed += _redact_rows(session, table, where, pattern, pseudonym, actors)
        if "id" not in table.c:
            continue
        # Rows hanging off the member's rows (an invitation's consents) are theirs too.
        ids = list(session.scalars(select(table.c.id).where(where)))
        for child, child_cols in _referencing(table.name, skip | seen):
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                changed += _redact_rows(
                    session, child, or_(*(c.in_(chunk) for c in child_cols)),
                    pattern, pseudonym, actors)
    # Rows of the member's own logins (e.g. an API token's name); not one level further:
    # a login's rows may be shared things (an event it organised), not the member's.
    for table, cols in _referencing("users", skip | seen):
        for start in range(0, len(user_ids), _CHUNK):
            chunk = user_ids[start:start + _CHUNK]
            changed += _redact_rows(session, table, or_(*(c.in_(chunk) for c in cols)),
                                    pattern, pseudonym, actors)
    return changed
