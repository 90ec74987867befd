"""Check-in at the door (issue 6): signed scan links, QR codes, check-in/undo, walk-ins.

The QR code on a ticket encodes `/checkin/<token>`; the token is the invitation id and
nonce signed with the salt "checkin" (a separate salt, so an invitation link is never a
check-in link and vice versa). Replacing an invitation's nonce revokes both.
"""
from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import segno
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .. import audit
from ..community.models import Member
from .checkin_rules import can_check_in, checkin_expiry
from .models import Event, EventStatus, Invitation, InvitationStatus
from .notifications import base_url

SALT = "checkin"


class CheckinError(Exception):
    """A check-in that cannot happen.

    `code`: "expired", "not_accepted", "not_published" or "already_invited".
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(invitation_id: int, nonce: str) -> str:
    return _serializer().dumps([invitation_id, nonce])


def read_token(token: str) -> tuple[int, str]:
    """(invitation id, nonce); raises BadSignature for forged, garbled or foreign tokens."""
    try:
        data = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError) as exc:
        raise BadSignature("invalid check-in link") from exc
    if (not isinstance(data, list) or len(data) != 2 or not isinstance(data[0], int)
            or isinstance(data[0], bool) or not isinstance(data[1], str)):
        raise BadSignature("invalid check-in link")
    return data[0], data[1]


def checkin_url(invitation_id: int, nonce: str) -> str:
    return f"{base_url()}/checkin/{make_token(invitation_id, nonce)}"


def load_by_token(session: Session, token: str, *, now: datetime) -> Invitation:
    """The invitation behind a scan token; BadSignature (404) or CheckinError("expired")."""
    invitation_id, nonce = read_token(token)
    inv = session.get(Invitation, invitation_id)
    if inv is None or not secrets.compare_digest(inv.nonce, nonce):
        raise BadSignature("invalid check-in link")
    if now > checkin_expiry(inv.event.ends_at):
        raise CheckinError("expired", "this check-in link has expired")
    return inv


# --- QR codes --------------------------------------------------------------------------

def qr_code(url: str) -> segno.QRCode:
    # Error level M survives a scuffed phone screen or a creased print-out.
    return segno.make(url, error="m", micro=False)


def qr_svg(url: str) -> str:
    """Inline SVG (no XML declaration) for a page."""
    return qr_code(url).svg_inline(scale=5, border=4, title="QR")


def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def qr_svg_file(url: str) -> bytes:
    out = io.BytesIO()
    qr_code(url).save(out, kind="svg", scale=6, border=4)
    return out.getvalue()


# --- use cases -------------------------------------------------------------------------

def check_in(session: Session, inv: Invitation, *, now: datetime, source: str) -> bool:
    """Mark as arrived; True when newly checked in, False when it already was (idempotent)."""
    if not can_check_in(str(inv.status), str(inv.event.status)):
        raise CheckinError("not_accepted", f"the invitation is {inv.status}")
    if inv.checked_in_at is not None:
        return False
    inv.checked_in_at = now
    session.flush()
    audit.record(session, "invitation.checked_in", "invitation", inv.id,
                 after={"event_id": inv.event_id, "member_id": inv.member_id,
                        "source": source}, at=now)
    return True


def undo_check_in(session: Session, inv: Invitation, *, now: datetime) -> bool:
    """Take a check-in back; True when there was one."""
    if inv.checked_in_at is None:
        return False
    before = inv.checked_in_at
    inv.checked_in_at = None
    session.flush()
    audit.record(session, "invitation.check_in_undone", "invitation", inv.id,
                 before={"checked_in_at": before}, after={"event_id": inv.event_id}, at=now)
    return True


def record_walk_in(session: Session, event: Event, member_id: int, *,
                   now: datetime) -> Invitation:
    """A member who was not invited came anyway: an accepted, checked-in walk-in invitation.

    Walk-ins may exceed the capacity: the person is already in the room, and the door staff
    decided to let them in. They count as attendees everywhere (segments, history).
    """
    if event.status != EventStatus.PUBLISHED:
        raise CheckinError("not_published", "the event is not published")
    member = session.get(Member, member_id)
    if member is None:
        raise LookupError(member_id)
    existing = session.scalar(select(Invitation).where(
        Invitation.event_id == event.id, Invitation.member_id == member_id))
    if existing is not None:
        raise CheckinError("already_invited", f"already invited ({existing.status})")
    inv = Invitation(event_id=event.id, member_id=member_id, status=InvitationStatus.ACCEPTED,
                     nonce=secrets.token_hex(16), created_at=now, responded_at=now,
                     checked_in_at=now, rsvp_source="walk-in", walk_in=True)
    session.add(inv)
    session.flush()
    audit.record(session, "invitation.walk_in", "invitation", inv.id,
                 after={"event_id": event.id, "member_id": member_id}, at=now)
    return inv


@dataclass(frozen=True)
class DoorCounts:
    accepted: int
    checked_in: int
    walk_ins: int

    @property
    def remaining(self) -> int:
        return max(self.accepted - self.checked_in, 0)


def door_counts(session: Session, event_id: int) -> DoorCounts:
    """One aggregate query over the event's accepted invitations."""
    row = session.execute(select(
        func.count(Invitation.id),
        func.count(Invitation.checked_in_at),
        func.coalesce(func.sum(case((Invitation.walk_in.is_(True), 1), else_=0)), 0),
    ).where(Invitation.event_id == event_id,
            Invitation.status == InvitationStatus.ACCEPTED)).one()
    return DoorCounts(int(row[0]), int(row[1]), int(row[2]))


def no_shows_query(event_id: int):
    """Accepted but never checked in (callers show it only once the event is over)."""
    return (select(Invitation, Member).join(Member, Member.id == Invitation.member_id)
            .where(Invitation.event_id == event_id,
                   Invitation.status == InvitationStatus.ACCEPTED,
                   Invitation.checked_in_at.is_(None))
            .order_by(Member.display_name, Invitation.id))


# --- segment criterion ------------------------------------------------------------------

def _no_show_within_days(value: Any):
    from ..timeutil import utcnow

    now = utcnow()
    since = now - timedelta(days=int(value))
    return Member.id.in_(
        select(Invitation.member_id).join(Event, Event.id == Invitation.event_id).where(
            Invitation.status == InvitationStatus.ACCEPTED,
            Invitation.checked_in_at.is_(None),
            Event.status != EventStatus.CANCELLED,
            Event.ends_at < now, Event.ends_at >= since))


def register_segment_criteria() -> None:
    """Offer "no-show within N days" to segments (no-shows stay on the member's invitations)."""
    try:
        from ..community.segments.services import register_criterion_filter
    except ImportError:  # segments not installed in this build
        return
    from flask_babel import lazy_gettext as _l

    from . import _positive_days

    register_criterion_filter("no_show_within_days", _no_show_within_days,
                              label=_l("Did not show up at an event within (days)"),
                              in_form=True, validate=_positive_days)
