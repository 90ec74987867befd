"""Make a member's data export readable: names next to ids, answers keyed by question text.

The export stays complete by the schema (every row of every table that references the
member); this adds what a person needs to understand it: the event's title next to
`event_id`, the tier's name next to `tier_id`, the item next to `item_id`, the agreement's
title and version next to `agreement_id`, and RSVP answers keyed by the question's text
instead of its id (in the invitations and in the audit entries about them).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...community.models import Tier
from ...events.models import Event, EventQuestion, Invitation
from ..models import Agreement

try:  # rewards <- records: an installation without the rewards package has no items
    from ...rewards.models import RewardItem
except ModuleNotFoundError:
    RewardItem = None


def _ids(data: dict[str, Any], column: str) -> set[int]:
    found = set()
    for rows in data.values():
        if isinstance(rows, list):
            found |= {r[column] for r in rows if isinstance(r, dict)
                      and isinstance(r.get(column), int)}
        elif isinstance(rows, dict) and isinstance(rows.get(column), int):
            found.add(rows[column])
    return found


def _names(session: Session, data: dict[str, Any]) -> dict[str, dict[int, str]]:
    """{id column: {id: readable name}} for the reference columns the export holds."""
    tier_ids = _ids(data, "tier_id") | _ids(data, "from_tier_id") | _ids(data, "to_tier_id")
    tiers = dict(session.execute(select(Tier.id, Tier.name).where(Tier.id.in_(tier_ids))).all()
                 ) if tier_ids else {}
    invitation_ids = _ids(data, "invitation_id")
    by_invitation = dict(session.execute(
        select(Invitation.id, Invitation.event_id).where(Invitation.id.in_(invitation_ids)))
        .all()) if invitation_ids else {}
    event_ids = _ids(data, "event_id") | set(by_invitation.values())
    events = dict(session.execute(select(Event.id, Event.title)
                                  .where(Event.id.in_(event_ids))).all()) if event_ids else {}
    agreement_ids = _ids(data, "agreement_id")
    agreements = {a.id: f"{a.title} (version {a.version})" for a in session.scalars(
        select(Agreement).where(Agreement.id.in_(agreement_ids)))} if agreement_ids else {}
    items: dict[int, str] = {}
    item_ids = _ids(data, "item_id")
    if RewardItem is not None and item_ids:
        items = dict(session.execute(select(RewardItem.id, RewardItem.name)
                                     .where(RewardItem.id.in_(item_ids))).all())
    return {"tier_id": tiers, "from_tier_id": tiers, "to_tier_id": tiers, "event_id": events,
            "agreement_id": agreements, "item_id": items,
            "invitation_id": {i: events.get(e, "") for i, e in by_invitation.items()}}


# The readable key written next to each id column.
_LABEL = {"tier_id": "tier", "from_tier_id": "from_tier", "to_tier_id": "to_tier",
          "event_id": "event", "agreement_id": "agreement", "item_id": "item",
          "invitation_id": "event"}


def _questions(session: Session, event_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """{event id: {question id (str): question text}}."""
    ids = sorted(set(event_ids))
    out: dict[int, dict[str, str]] = {}
    if ids:
        for q in session.scalars(select(EventQuestion).where(EventQuestion.event_id.in_(ids))):
            out.setdefault(q.event_id, {})[str(q.id)] = q.label
    return out


def by_question_text(answers: Any, labels: dict[str, str]) -> Any:
    """{question id: answer} -> {question text: answer}; an id whose question is gone stays
    recognisable as such."""
    if not isinstance(answers, dict):
        return answers
    return {labels.get(str(k), f"question #{k} (removed)"): v for k, v in answers.items()}


def readable(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """The export with readable names added and answers keyed by question text."""
    names = _names(session, data)

    def named(row: dict[str, Any]) -> dict[str, Any]:
        extra = {_LABEL[col]: names[col].get(value, "") for col, value in row.items()
                 if col in names and isinstance(value, int) and _LABEL[col] not in row}
        return {**row, **extra} if extra else row

    out: dict[str, Any] = {}
    for key, rows in data.items():
        if key == "member" and isinstance(rows, dict):
            out[key] = named(rows)
        elif isinstance(rows, list) and key not in ("audit_entries", "mail_received"):
            out[key] = [named(r) if isinstance(r, dict) else r for r in rows]
        else:
            out[key] = rows
    invitations = out.get("invitations", [])
    questions = _questions(session, [r["event_id"] for r in invitations])
    event_of = {r["id"]: r["event_id"] for r in invitations}
    for row in invitations:
        row["answers"] = by_question_text(row.get("answers"),
                                          questions.get(row["event_id"], {}))
    entries = []
    for e in out.get("audit_entries", []):
        if e.get("object_type") == "invitation" and str(e.get("object_id")).isdigit():
            event_id = event_of.get(int(e["object_id"]))
            labels = questions.get(event_id, {}) if event_id else {}
            e = {**e, "event": names["event_id"].get(event_id, "") if event_id else ""}
            for side in ("before", "after"):
                if isinstance(e.get(side), dict) and "answers" in e[side]:
                    e[side] = {**e[side],
                               "answers": by_question_text(e[side]["answers"], labels)}
        entries.append(e)
    if "audit_entries" in out:
        out["audit_entries"] = entries
    return out
