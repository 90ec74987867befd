"""Builders of calendar replies as Outlook/Exchange and Google Calendar send them, shared by
the tests of calendar-reply ingestion (RFC 5546 §4.2 REPLY in their MIME envelopes), built
from the REQUEST our own invitation mail carries, so UID and SEQUENCE are real events'."""
from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import icalendar
from sqlalchemy import select

from engagement.events import rules, services
from engagement.events.calendar.ics import Attendee, build_calendar
from engagement.events.models import Event, Invitation
from engagement.extensions import db
from tests.factories import make_member

NOW = datetime(2030, 10, 1, 9, 0, tzinfo=UTC)
BERLIN = rules.zone("Europe/Berlin")
THUNDERBIRD = (Path(__file__).resolve().parents[1].parent / "shared" / "data"
               / "invitations-thunderbird")


def published_event(**changes) -> Event:
    values = dict(
        title="Community Summit", description="Talks.", venue="Haus", address="Köln",
        starts_at=rules.parse_local("2030-11-05T18:00", BERLIN),
        ends_at=rules.parse_local("2030-11-05T22:00", BERLIN), timezone="Europe/Berlin",
        organizer_name="Community Events", organizer_email="events@example.org", capacity=10)
    values.update(changes)
    event = services.create_event(db.session, rules.validate_event(rules.EventInput(**values)),
                                  now=NOW - timedelta(days=2), base_url="http://localhost")
    services.publish_event(db.session, event, now=NOW - timedelta(days=2))
    return event


def invite(event: Event, *emails: str) -> list[Invitation]:
    members = [make_member(email=e, display_name=e.split("@")[0].title()) for e in emails]
    services.invite(db.session, event, now=NOW - timedelta(days=1),
                    member_ids=[m.id for m in members])
    by_member = {i.member_id: i for i in db.session.scalars(
        select(Invitation).where(Invitation.event_id == event.id))}
    return [by_member[m.id] for m in members]


# --- what the clients send -----------------------------------------------------------------

def reply_calendar(event: Event, email: str, partstat: str, *, dtstamp: datetime,
                   client: str, name: str = "", sequence: int | None = None,
                   method: str = "REPLY", uid: str | None = None) -> bytes:
    """The REPLY a client makes from the REQUEST it received: same UID and SEQUENCE, METHOD
    REPLY, only the answering ATTENDEE with its PARTSTAT, a new DTSTAMP (RFC 5546 §3.2.3)."""
    request = build_calendar(event, method="REQUEST", now=NOW - timedelta(days=1),
                             attendee=Attendee(name=name, email=email))
    cal = icalendar.Calendar.from_ical(request)
    cal["METHOD"] = method
    cal["PRODID"] = ("Microsoft Exchange Server 2010" if client == "outlook"
                     else "-//Google Inc//Google Calendar 70.9054//EN")
    vevent = cal.walk("VEVENT")[0]
    del vevent["ATTENDEE"]
    del vevent["DTSTAMP"]
    vevent.add("dtstamp", dtstamp)
    if sequence is not None:
        vevent["SEQUENCE"] = sequence
    if uid is not None:
        vevent["UID"] = uid
    if client == "outlook":
        # Exchange upper-cases the scheme and keeps the address as the user's mailbox has it.
        attendee = icalendar.vCalAddress(f"MAILTO:{email}")
        attendee.params["PARTSTAT"] = partstat
        attendee.params["CN"] = name or email
        vevent.add("attendee", attendee)
        vevent.add("comment", "Gern, bis dann!")
        for key, value in (("X-MICROSOFT-CDO-APPT-SEQUENCE", str(vevent["SEQUENCE"])),
                           ("X-MICROSOFT-CDO-OWNERAPPTID", "2118123456"),
                           ("X-MICROSOFT-CDO-BUSYSTATUS", "BUSY"),
                           ("X-MICROSOFT-CDO-INTENDEDSTATUS", "BUSY"),
                           ("X-MICROSOFT-CDO-IMPORTANCE", "1")):
            vevent.add(key, value)
    else:
        attendee = icalendar.vCalAddress(f"mailto:{email}")
        for key, value in (("CUTYPE", "INDIVIDUAL"), ("ROLE", "REQ-PARTICIPANT"),
                           ("PARTSTAT", partstat), ("CN", name or email),
                           ("X-NUM-GUESTS", "0")):
            attendee.params[key] = value
        vevent.add("attendee", attendee)
    return cal.to_ical()


SUBJECTS = {"ACCEPTED": "Accepted", "TENTATIVE": "Tentative", "DECLINED": "Declined"}


def outlook_mail(ics: bytes, sender: str, *, message_id: str, name: str = "") -> bytes:
    """Exchange: multipart/alternative, the calendar base64 with method=REPLY on the part."""
    partstat = next(iter(icalendar.Calendar.from_ical(ics).walk("VEVENT")))["ATTENDEE"] \
        .params["PARTSTAT"]
    boundary = "_000_AM0PR07MB4417A1B2C3D4E5F6AM0PR07MB4417eurp_"
    body = base64.encodebytes(ics).decode()
    return (
        f"From: {name or sender} <{sender}>\r\nTo: Community Events <events@example.org>\r\n"
        f"Subject: {SUBJECTS.get(partstat, 'Reply')}: Community Summit\r\n"
        f"Thread-Topic: Community Summit\r\nDate: {format_datetime(NOW)}\r\n"
        f"Message-ID: {message_id}\r\nX-MS-Has-Attach:\r\nX-MS-TNEF-Correlator:\r\n"
        f"Content-Type: multipart/alternative;\r\n\tboundary=\"{boundary}\"\r\n"
        f"MIME-Version: 1.0\r\n\r\n--{boundary}\r\n"
        f"Content-Type: text/plain; charset=\"us-ascii\"\r\n\r\nGern, bis dann!\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/calendar; charset=\"utf-8\"; method=REPLY\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--{boundary}--\r\n").encode()


def google_mail(ics: bytes, sender: str, *, message_id: str, name: str = "",
                method: str = "REPLY") -> bytes:
    """Google: the REPLY inline in multipart/alternative plus the same as invite.ics."""
    msg = EmailMessage()
    msg["From"] = f"{name or sender} <{sender}>"
    msg["To"] = "events@example.org"
    msg["Subject"] = "Accepted: Community Summit @ Tue Nov 5, 2030 6pm - 10pm (CET)"
    msg["Message-ID"] = message_id
    msg.set_content(f"{name or sender} has replied to this invitation.")
    msg.add_alternative("<p>replied</p>", subtype="html")
    msg.add_alternative(ics, maintype="text", subtype="calendar",
                        params={"method": method, "charset": "UTF-8"})
    msg.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    return msg.as_bytes()


# --- the use case --------------------------------------------------------------------------

