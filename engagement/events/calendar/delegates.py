"""Recorded calendar delegates: who may answer a member's invitations with SENT-BY.

A REPLY's SENT-BY is whatever its sender wrote, so on its own it proves nothing; only an
address a manager recorded for that member makes a delegate's answer count. Services flush
and audit; the request or command commits.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ... import audit
from ...community.models import Member
from .models import CalendarDelegate, CalendarReplyLog

__all__ = ["CalendarDelegate", "DelegateError", "add_delegate", "delegates_of", "find_member",
           "for_member", "remove_delegate"]

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class DelegateError(ValueError):
    """The delegate cannot be recorded: `code` is "invalid_email" or "duplicate"."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def normal_address(email: str) -> str:
    """The address as matched against SENT-BY: trimmed, lower-cased; DelegateError if bad."""
    value = (email or "").strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    if len(value) > 255 or not _ADDRESS.match(value):
        raise DelegateError("invalid_email", f"not an e-mail address: {email!r}")
    return value


def add_delegate(session: Session, member_id: int, email: str, *, now: datetime,
                 note: str = "", user_id: int | None = None) -> CalendarDelegate:
    """Record `email` as allowed to answer for the member (flush only; audited)."""
    address = normal_address(email)
    existing = session.scalar(select(CalendarDelegate).where(
        CalendarDelegate.member_id == member_id, CalendarDelegate.email == address))
    if existing is not None:
        raise DelegateError("duplicate", f"{address} is already a delegate")
    row = CalendarDelegate(member_id=member_id, email=address, note=(note or "").strip()[:200],
                           created_at=now, created_by_id=user_id)
    session.add(row)
    session.flush()
    audit.record(session, "calendar_delegate.add", "member", member_id,
                 after={"delegate_id": row.id, "email": address, "note": row.note}, at=now)
    return row


def remove_delegate(session: Session, delegate: CalendarDelegate, *, now: datetime) -> None:
    """Stop the address answering for the member (flush only; audited)."""
    before = {"delegate_id": delegate.id, "email": delegate.email}
    member_id = delegate.member_id
    session.delete(delegate)
    session.flush()
    audit.record(session, "calendar_delegate.remove", "member", member_id, before=before,
                 at=now)


def for_member(session: Session, member_id: int) -> list[CalendarDelegate]:
    """The member's recorded delegates, by address."""
    return list(session.scalars(select(CalendarDelegate).where(
        CalendarDelegate.member_id == member_id).order_by(CalendarDelegate.email)))


def delegates_of(session: Session, member_ids: Iterable[int]) -> dict[int, list[str]]:
    """{member id: delegate addresses} for the members that have any (one query)."""
    ids = sorted(set(member_ids))
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    for member_id, email in session.execute(
            select(CalendarDelegate.member_id, CalendarDelegate.email)
            .where(CalendarDelegate.member_id.in_(ids))
            .order_by(CalendarDelegate.member_id, CalendarDelegate.email)):
        found.setdefault(member_id, []).append(email)
    return found


def find_member(session: Session, email: str) -> Member | None:
    """The one member with this e-mail address (any case); None when none or several."""
    rows = session.scalars(select(Member).where(
        func.lower(Member.email) == (email or "").strip().lower()).limit(2)).all()
    return rows[0] if len(rows) == 1 else None


def forget_member(session: Session, member_id: int, invitation_ids: Iterable[int]) -> dict:
    """GDPR erasure: drop the member's recorded delegates and the calendar replies logged
    for their invitations (they hold addresses). Found by reference, never by address text."""
    ids = list(invitation_ids)
    delegates = session.execute(
        delete(CalendarDelegate).where(CalendarDelegate.member_id == member_id)).rowcount
    replies = 0
    for start in range(0, len(ids), 500):
        replies += session.execute(delete(CalendarReplyLog).where(
            CalendarReplyLog.invitation_id.in_(ids[start:start + 500]))).rowcount
    return {"calendar_delegates": delegates, "calendar_replies": replies}
