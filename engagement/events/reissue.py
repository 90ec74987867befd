"""Revoke an invitation's links by giving it a new nonce (invitation and ticket links).

An invitation link and a ticket are signed (invitation id, nonce): replacing the nonce
stops every copy of the old links at once, wherever they were forwarded. A manager does it
for one invitee (optionally mailing the new link); a GDPR erasure does it for all of a
member's invitations, so an erased member's old links no longer open or accept anything.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, signing
from ..community.models import Member
from . import notifications
from .models import ACTIVE_STATUSES, Event, Invitation

# Invitees in these states get the new link by mail when the manager asks for it.
_MAILABLE = ACTIVE_STATUSES


def reissue_link(session: Session, invitation: Invitation, *, now: datetime,
                 send_mail: bool = False) -> bool:
    """Give the invitation a new nonce (old links stop working); True when a mail was queued.

    Flush only; audited without the nonce itself.
    """
    invitation.nonce = signing.new_nonce()
    session.flush()
    mailed = False
    member = session.get(Member, invitation.member_id)
    event = session.get(Event, invitation.event_id)
    if send_mail and member is not None and member.email and \
            invitation.status in _MAILABLE:
        recipient = notifications.Recipient(
            invitation.id, invitation.nonce, str(invitation.status), member.display_name,
            member.email, member.locale)
        # The nonce's start keeps the dedupe key unique per reissue (a double click on
        # the same reissue cannot queue two mails, a later reissue can).
        mailed = notifications.enqueue_mails(
            session, event, [recipient], kind="invitation", now=now,
            key_part=f"reissue-{invitation.nonce[:12]}:") > 0
    audit.record(session, "invitation.link_reissued", "invitation", invitation.id,
                 after={"event_id": invitation.event_id, "mailed": mailed}, at=now,
                 subject_member_id=invitation.member_id)
    return mailed


def reissue_member_links(session: Session, member_id: int) -> int:
    """New nonces for all of the member's invitations (no mail); returns how many."""
    invitations = session.scalars(
        select(Invitation).where(Invitation.member_id == member_id)
        .order_by(Invitation.id)).all()
    for invitation in invitations:
        invitation.nonce = signing.new_nonce()
    session.flush()
    return len(invitations)
