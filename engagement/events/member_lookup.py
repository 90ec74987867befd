"""Who may sign in by e-mail link: members invited to an event (registered into accounts).

Accounts sits below community and events and may not query their tables; events owns
invitations, so it answers accounts' question through `accounts.signin.links.MemberResolver`.
"""
from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..accounts.signin.links import MemberContact, MemberResolver, register_member_resolver
from ..accounts.signin.rules import pick_member
from ..community.models import Member
from .models import Invitation


def invited_member(session: Session, email: str) -> MemberContact | None:
    """The member with exactly this address who is invited to at least one event."""
    rows = session.execute(
        select(Member.id, func.max(Invitation.id))
        .join(Invitation, Invitation.member_id == Member.id)
        .where(Member.email.in_({email, email.lower()}))
        .group_by(Member.id)).all()
    member_id = pick_member([(int(m), int(i)) for m, i in rows])
    return member_by_id(session, member_id) if member_id is not None else None


def member_by_id(session: Session, member_id: int) -> MemberContact | None:
    """A member's id, language and display name (None when the record is gone)."""
    row = session.execute(select(Member.id, Member.locale, Member.display_name)
                          .where(Member.id == member_id)).first()
    return MemberContact(int(row.id), row.locale, row.display_name) if row else None


RESOLVER = MemberResolver(invited=invited_member, by_id=member_by_id)


def init_app(app: Flask) -> None:
    """Answer accounts' "which invited member has this address" for this app."""
    register_member_resolver(app, RESOLVER)
