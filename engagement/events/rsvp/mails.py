"""The mails of RSVP answers: confirmation with ticket, waiting list, seat offers, expiry,
and the request to complete an answer that misses required answers or consents."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ...community.models import Member
from ...formatting import wall_clock
from ...mail import outbox
from ...mail.compose import InvalidMessage, build_message
from ...mail.language import configured_mail_language
from .. import notifications
from ..calendar.ics import Attendee, build_calendar
from ..checkin import qr, tickets
from ..models import Event, Invitation, InvitationStatus
from ..rules import location_text

MAIL_KIND = "event-rsvp"


def _subject(kind: str, title: str) -> str:
    return {
        "accepted": _("Confirmed: you are attending %(title)s", title=title),
        "tentative": _("Noted: you might attend %(title)s", title=title),
        "declined": _("Cancelled: your place at %(title)s", title=title),
        "declined-plain": _("Noted: you are not attending %(title)s", title=title),
        "waitlisted": _("Waiting list: %(title)s", title=title),
        "offer": _("A seat is free for you: %(title)s", title=title),
        "expired": _("Your offer for %(title)s has expired", title=title),
        "action-needed": _("Action needed: complete your answer for %(title)s", title=title),
        "hold-expired": _("Your seat at %(title)s was released", title=title),
    }[kind]


# The calendar part each RSVP mail carries (RFC 5546): the attendee's own copy with their
# PARTSTAT, or a CANCEL that takes it out of their calendar. A waiting-list place and an
# offer say NEEDS-ACTION: the calendar must not keep showing "attending" after a
# calendar "Accept" landed on the waiting list.
CALENDAR_METHOD = {
    InvitationStatus.ACCEPTED: "REQUEST", InvitationStatus.TENTATIVE: "REQUEST",
    InvitationStatus.DECLINED: "CANCEL", "declined-plain": None,
    InvitationStatus.WAITLISTED: "REQUEST", "offer": "REQUEST", "expired": "CANCEL",
    "hold-expired": "REQUEST", "action-needed": None,
}
PARTSTAT_STATUS = {"offer": InvitationStatus.WAITLISTED,
                   "hold-expired": InvitationStatus.INVITED,
                   "expired": InvitationStatus.DECLINED}


def send_rsvp_mail(session: Session, event: Event, inv: Invitation, kind: str, *, now: datetime,
                   dedupe_key: str | None = None) -> None:
    """Queue the RSVP mail of `kind` to the invitee (confirmation, waiting list, offer...)."""
    member = session.get(Member, inv.member_id)
    if member is None or not member.email:
        return
    lang = configured_mail_language(member.locale)
    url = notifications.invitation_url(inv.id, inv.nonce)
    calendar = None
    attachments: list[tuple[str, str, bytes]] = []
    method = CALENDAR_METHOD.get(kind)
    if method is not None:
        ics = build_calendar(event, method=method, now=now, url=url, attendee=Attendee(
            member.display_name, member.email, PARTSTAT_STATUS.get(kind, kind)))
        calendar = (ics, method)
        attachments.append(("invite.ics", "text/calendar", ics))
    if kind == InvitationStatus.ACCEPTED:
        # The ticket: the door staff scan this QR code (PNG for mail clients, SVG to print);
        # the mail says so, and names the venue.
        scan_url = tickets.checkin_url(inv.id, inv.nonce)
        attachments.append(("ticket-qr.png", "image/png", qr.qr_png(scan_url)))
        attachments.append(("ticket-qr.svg", "image/svg+xml", qr.qr_svg_file(scan_url)))
    with force_locale(lang):
        expires = (wall_clock(inv.offer_expires_at, event.timezone, "medium", lang)
                   if inv.offer_expires_at else "")
        hold_until = (wall_clock(inv.action_needed_until, event.timezone, "medium", lang)
                      if inv.action_needed_until else "")
        context = dict(kind=kind, event=event, name=member.display_name, url=url, lang=lang,
                       when=notifications.when_text(event, lang), plus_one=inv.plus_one,
                       position=inv.waitlist_position, expires=expires, hold_until=hold_until,
                       location=location_text(event.venue or "", event.address or ""),
                       complete_url=f"{url}?answer=accepted#rsvp",
                       ticket_url=f"{url}/ticket" if kind == InvitationStatus.ACCEPTED else None)
        subject = _subject(kind, event.title)
        env = current_app.jinja_env
        text = env.get_template("events/mail/rsvp_mail.txt").render(**context)
        html = env.get_template("events/mail/rsvp_mail.html").render(subject=subject, **context)
    try:
        message = build_message(
            to=member.email, to_name=member.display_name, subject=subject, text=text,
            html=html, calendar=calendar, attachments=attachments,
            reply_to=event.organizer_email,
            headers={"Auto-Submitted": "auto-generated", "Content-Language": lang})
    except InvalidMessage as exc:
        # Bad data (a line break in an old title or name) must not undo the RSVP itself:
        # the mail fails alone and the outbox page says why.
        outbox.enqueue_unsendable(session, kind=MAIL_KIND, to_addr=member.email,
                                  subject=subject, reason=str(exc), dedupe_key=dedupe_key,
                                  member_id=inv.member_id)
        return
    outbox.enqueue(session, message, kind=MAIL_KIND, dedupe_key=dedupe_key,
                   member_id=inv.member_id)
