"""The mails of RSVP answers: confirmation with ticket, waiting list, seat offers, expiry."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ...community.models import Member
from ...mail import outbox
from ...mail.compose import InvalidMessage, build_message
from ...mail.language import configured_mail_language
from .. import notifications
from ..calendar.ics import Attendee, build_calendar
from ..checkin import qr, tickets
from ..models import Event, Invitation, InvitationStatus

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
    }[kind]


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
    if kind in (InvitationStatus.ACCEPTED, InvitationStatus.TENTATIVE,
                InvitationStatus.DECLINED):
        # RFC 5546: the attendee's own copy; a CANCEL removes it from their calendar.
        method = "CANCEL" if kind == InvitationStatus.DECLINED else "REQUEST"
        ics = build_calendar(event, method=method, now=now, url=url, attendee=Attendee(
            member.display_name, member.email, kind))
        calendar = (ics, method)
        attachments.append(("invite.ics", "text/calendar", ics))
    if kind == InvitationStatus.ACCEPTED:
        # The ticket: the door staff scan this QR code (PNG for mail clients, SVG to print).
        scan_url = tickets.checkin_url(inv.id, inv.nonce)
        attachments.append(("ticket-qr.png", "image/png", qr.qr_png(scan_url)))
        attachments.append(("ticket-qr.svg", "image/svg+xml", qr.qr_svg_file(scan_url)))
    with force_locale(lang):
        expires = (format_datetime(inv.offer_expires_at, "medium",
                                   tzinfo=ZoneInfo(event.timezone), locale=lang)
                   if inv.offer_expires_at else "")
        context = dict(kind=kind, event=event, name=member.display_name, url=url, lang=lang,
                       when=notifications.when_text(event, lang), plus_one=inv.plus_one,
                       position=inv.waitlist_position, expires=expires,
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
