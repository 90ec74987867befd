"""iCalendar (RFC 5545/5546) objects for events: REQUEST, CANCEL and PUBLISH.

What the clients rely on (compared with the Outlook/Exchange and Thunderbird invitations in
the shared reference data): METHOD matching the MIME part's method parameter, a VTIMEZONE for
every TZID used, a stable UID with an increasing SEQUENCE, DTSTAMP in UTC, ORGANIZER (where
calendar replies go), ATTENDEE with RSVP=TRUE, STATUS, TRANSP, CLASS and PRIORITY.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from icalendar import Calendar, Timezone, vCalAddress, vText
from icalendar import Event as VEvent

from ..rules import EventStatus, InvitationStatus, location_text
from .vtimezone import vtimezone

PRODID = "-//engagement//Events 1.0//EN"
METHODS = ("REQUEST", "CANCEL", "PUBLISH")
PARTSTATS = {InvitationStatus.ACCEPTED: "ACCEPTED", InvitationStatus.TENTATIVE: "TENTATIVE",
             InvitationStatus.DECLINED: "DECLINED"}


class EventLike(Protocol):
    uid: str
    sequence: int
    status: str
    title: str
    description: str
    venue: str
    address: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    organizer_name: str
    organizer_email: str
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class Attendee:
    """One invitee as the calendar names them."""

    name: str
    email: str
    status: str = InvitationStatus.INVITED  # the invitation's status; mapped to PARTSTAT


def _timezone_component(tz_name: str, start: datetime, end: datetime) -> Timezone:
    # Yearly rules (RRULE) where the zone has them: the same component in every mail.
    return vtimezone(tz_name, start.astimezone(ZoneInfo(tz_name)).year)


def add_event_details(vevent: VEvent, event: EventLike, url: str | None) -> None:
    """What, when and where: the same in invitations, downloads and the personal feed."""
    tz = UTC if event.timezone == "UTC" else ZoneInfo(event.timezone)
    vevent.add("dtstart", event.starts_at.astimezone(tz))
    vevent.add("dtend", event.ends_at.astimezone(tz))
    vevent.add("summary", event.title)
    description = (event.description or "").strip()
    if url:
        # Outlook does not show URL; the link in the description is what people click.
        description = f"{description}\n\n{url}" if description else url
        vevent.add("url", url)
    if description:
        vevent.add("description", description)
    location = location_text(event.venue or "", event.address or "")
    if location:
        vevent.add("location", location)


def address(email: str, name: str, **params: str) -> vCalAddress:
    """A calendar user address (mailto:) with its CN and parameters."""
    cal_address = vCalAddress(f"mailto:{email}")
    if name:
        cal_address.params["CN"] = vText(name)
    for key, value in params.items():
        cal_address.params[key.replace("_", "-").upper()] = value
    return cal_address


def build_calendar(event: EventLike, *, method: str, now: datetime,
                   attendee: Attendee | None = None, url: str | None = None) -> bytes:
    """The event as a VCALENDAR with the given METHOD, for one attendee (or none)."""
    if method not in METHODS:
        raise ValueError(f"unsupported METHOD {method!r}")
    cancelled = method == "CANCEL" or str(event.status) == EventStatus.CANCELLED
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    if event.timezone != "UTC":
        cal.add_component(_timezone_component(event.timezone, event.starts_at, event.ends_at))

    vevent = VEvent()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", now.astimezone(UTC))
    vevent.add("sequence", event.sequence)
    if event.created_at is not None:
        vevent.add("created", event.created_at.astimezone(UTC))
    if event.updated_at is not None:
        vevent.add("last-modified", event.updated_at.astimezone(UTC))
    add_event_details(vevent, event, url)
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    vevent.add("class", "PUBLIC")
    vevent.add("priority", 5)
    vevent.add("organizer", address(event.organizer_email, event.organizer_name))
    if attendee is not None and method != "PUBLISH":
        vevent.add("attendee", address(
            attendee.email, attendee.name, cutype="INDIVIDUAL", role="REQ-PARTICIPANT",
            partstat=PARTSTATS.get(str(attendee.status), "NEEDS-ACTION"), rsvp="TRUE"))
    cal.add_component(vevent)
    return cal.to_ical()
