"""Generated iCalendar parses back in icalendar, vobject and `ical`, with the right local times.

vobject resolves DTSTART through our own VTIMEZONE (not the system's zone database), so it
checks the generated time-zone rules, including events on and across DST changes.
"""
from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from ical.calendar_stream import IcsCalendarStream

from engagement.events.calendar.ics import Attendee, build_calendar

REFERENCE = Path(__file__).resolve().parents[3] / "shared/data/invitations-thunderbird"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)  # created in summer ...


def make_event(start_local: datetime, end_local: datetime, tz: str = "Europe/Berlin", **kw):
    zone = ZoneInfo(tz)
    values = dict(
        uid="3f2a9c1e-0000-4000-8000-000000000001@example.org", sequence=0,
        status="published", title="Power-User-Gipfel; Köln, \"Dom\"",
        description="Agenda:\n1. Hello\n2. Dinner", venue="Haus am Dom",
        address="Domkloster 2\n50667 Köln", starts_at=start_local.replace(tzinfo=zone),
        ends_at=end_local.replace(tzinfo=zone), timezone=tz, organizer_name="Community Team",
        organizer_email="events@example.org", created_at=NOW, updated_at=NOW)
    values.update(kw)
    return SimpleNamespace(**values)


def request_ics(event, **kw) -> bytes:
    return build_calendar(event, method=kw.pop("method", "REQUEST"), now=NOW,
                          attendee=Attendee("Anna Müller", "anna@example.org"),
                          url="https://engagement.example.org/i/tok", **kw)


CASES = [
    # ... for a date in November (winter time)
    (datetime(2026, 11, 5, 18, 0), datetime(2026, 11, 5, 22, 0), "+01:00"),
    # on the last Sunday of March, after the clocks went forward
    (datetime(2026, 3, 29, 10, 0), datetime(2026, 3, 29, 12, 0), "+02:00"),
    # on the last Sunday of October, after the clocks went back
    (datetime(2026, 10, 25, 10, 0), datetime(2026, 10, 25, 12, 0), "+01:00"),
]


@pytest.mark.parametrize("start, end, offset", CASES)
def test_three_parsers_agree_on_local_times(start, end, offset):
    event = make_event(start, end)
    data = request_ics(event)

    cal = icalendar.Calendar.from_ical(data)
    assert cal["METHOD"] == "REQUEST" and cal["VERSION"] == "2.0"
    vevent = cal.walk("VEVENT")[0]
    dtstart = vevent.decoded("DTSTART")
    assert dtstart.replace(tzinfo=None) == start
    assert dtstart.isoformat().endswith(offset)
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert vevent.decoded("DTEND").replace(tzinfo=None) == end
    assert vevent.decoded("DTSTAMP") == NOW
    assert len(cal.walk("VTIMEZONE")) == 1

    v = vobject.readOne(data.decode())
    vstart = v.vevent.dtstart.value
    assert vstart.replace(tzinfo=None) == start
    assert vstart.utcoffset() == event.starts_at.utcoffset()  # from our VTIMEZONE
    assert v.vevent.dtend.value.astimezone(UTC) == event.ends_at.astimezone(UTC)

    parsed = IcsCalendarStream.calendar_from_ics(data.decode())
    ev = parsed.events[0]
    assert ev.dtstart.astimezone(UTC) == event.starts_at.astimezone(UTC)
    assert ev.dtstart.replace(tzinfo=None) == start
    assert ev.uid == event.uid and ev.sequence == 0


def test_event_spanning_the_october_change_keeps_its_duration():
    # 00:30 CEST to 04:30 CET on 25 Oct: five real hours, not four.
    event = make_event(datetime(2026, 10, 25, 0, 30), datetime(2026, 10, 25, 4, 30))
    v = vobject.readOne(build_calendar(event, method="PUBLISH", now=NOW).decode())
    # (Same-tzinfo subtraction in Python is wall-clock time, so compare in UTC.)
    duration = v.vevent.dtend.value.astimezone(UTC) - v.vevent.dtstart.value.astimezone(UTC)
    assert duration.total_seconds() == 5 * 3600
    assert v.vevent.dtstart.value.utcoffset().total_seconds() == 7200
    assert v.vevent.dtend.value.utcoffset().total_seconds() == 3600


def test_request_properties_and_escaping():
    data = request_ics(make_event(datetime(2026, 11, 5, 18), datetime(2026, 11, 5, 22)))
    vevent = icalendar.Calendar.from_ical(data).walk("VEVENT")[0]
    assert str(vevent["SUMMARY"]) == "Power-User-Gipfel; Köln, \"Dom\""
    assert str(vevent["LOCATION"]) == "Haus am Dom, Domkloster 2, 50667 Köln"
    assert str(vevent["URL"]) == "https://engagement.example.org/i/tok"
    assert "https://engagement.example.org/i/tok" in str(vevent["DESCRIPTION"])
    assert str(vevent["ORGANIZER"]) == "mailto:events@example.org"
    assert vevent["ORGANIZER"].params["CN"] == "Community Team"
    attendee = vevent["ATTENDEE"]
    assert str(attendee) == "mailto:anna@example.org"
    assert attendee.params["CN"] == "Anna Müller"
    assert attendee.params["RSVP"] == "TRUE"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert b"\r\n" in data and all(len(line) <= 75 for line in data.split(b"\r\n"))


def test_cancel_and_update():
    event = make_event(datetime(2026, 11, 5, 18), datetime(2026, 11, 5, 22), sequence=3)
    cal = icalendar.Calendar.from_ical(request_ics(event, method="CANCEL"))
    vevent = cal.walk("VEVENT")[0]
    assert cal["METHOD"] == "CANCEL" and str(vevent["STATUS"]) == "CANCELLED"
    assert vevent["SEQUENCE"] == 3 and str(vevent["UID"]) == event.uid


def test_publish_has_no_attendee_and_utc_zone_has_no_vtimezone():
    event = make_event(datetime(2026, 11, 5, 18), datetime(2026, 11, 5, 22), tz="UTC")
    cal = icalendar.Calendar.from_ical(build_calendar(event, method="PUBLISH", now=NOW))
    assert cal["METHOD"] == "PUBLISH" and not cal.walk("VTIMEZONE")
    vevent = cal.walk("VEVENT")[0]
    assert "ATTENDEE" not in vevent
    assert vevent.decoded("DTSTART") == datetime(2026, 11, 5, 18, tzinfo=UTC)


def test_other_zone_gets_its_own_vtimezone():
    event = make_event(datetime(2026, 3, 10, 9), datetime(2026, 3, 10, 10),
                       tz="America/New_York")
    data = build_calendar(event, method="PUBLISH", now=NOW)
    v = vobject.readOne(data.decode())
    assert v.vtimezone.tzid.value == "America/New_York"
    # 8 March 2026 the US moved to EDT: 9:00 local is 13:00 UTC.
    assert v.vevent.dtstart.value.astimezone(UTC) == datetime(2026, 3, 10, 13, tzinfo=UTC)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        build_calendar(make_event(datetime(2026, 11, 5, 18), datetime(2026, 11, 5, 22)),
                       method="REPLY", now=NOW)


def _reference_request() -> icalendar.Calendar:
    msg = email.message_from_bytes((REFERENCE / "outlook-test-invite.eml").read_bytes(),
                                   policy=email.policy.default)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "REQUEST"
    return icalendar.Calendar.from_ical(base64.b64decode(part.get_payload()))


def test_our_request_carries_what_the_outlook_request_carries():
    """Every standard property of Exchange's REQUEST that clients use is in ours too."""
    reference = _reference_request()
    ours = icalendar.Calendar.from_ical(
        request_ics(make_event(datetime(2026, 11, 5, 18), datetime(2026, 11, 5, 22))))
    # Vendor X- properties and the alarm are Outlook's own; everything else must be there.
    ref_props = {k for k in reference.walk("VEVENT")[0] if not k.startswith("X-")}
    our_props = set(ours.walk("VEVENT")[0])
    assert ref_props - our_props == set()
    assert {"METHOD", "PRODID", "VERSION"} <= set(ours)
    assert ours.walk("VTIMEZONE") and reference.walk("VTIMEZONE")
    ref_att = reference.walk("VEVENT")[0]["ATTENDEE"]
    our_att = ours.walk("VEVENT")[0]["ATTENDEE"]
    for param in ("ROLE", "PARTSTAT", "RSVP", "CN"):
        assert param in ref_att.params and param in our_att.params


def test_thunderbird_request_properties_are_covered():
    msg = email.message_from_bytes((REFERENCE / "single-event.eml").read_bytes(),
                                   policy=email.policy.default)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    reference = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    ours = icalendar.Calendar.from_ical(
        request_ics(make_event(datetime(2026, 11, 5, 18), datetime(2026, 11, 5, 22))))
    # DURATION is an alternative to DTEND (both together are invalid, RFC 5545 3.6.1).
    wanted = {k for k in reference.walk("VEVENT")[0]} - {"DURATION"}
    assert wanted - set(ours.walk("VEVENT")[0]) == set()
