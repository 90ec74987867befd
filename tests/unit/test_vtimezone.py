"""Rule-based VTIMEZONE: the same component for every event of a zone, right in any year."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import vobject
from icalendar import Calendar

from engagement.events.calendar.vtimezone import transitions_in_year, vtimezone


def _calendar_with(tz_name: str, local: datetime) -> str:
    cal = Calendar()
    cal.add("VERSION", "2.0")
    cal.add("PRODID", "-//test//EN")
    cal.add_component(vtimezone(tz_name, local.year))
    return cal.to_ical().decode().replace(
        "END:VCALENDAR",
        "BEGIN:VEVENT\r\nUID:x@test\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;TZID={tz_name}:{local:%Y%m%dT%H%M%S}\r\nEND:VEVENT\r\nEND:VCALENDAR")


@pytest.mark.parametrize("tz_name, local", [
    ("Europe/Berlin", datetime(2026, 3, 29, 10, 0)),   # first day of summer time
    ("Europe/Berlin", datetime(2026, 10, 25, 10, 0)),  # first day of winter time
    ("Europe/Berlin", datetime(2031, 7, 1, 18, 0)),    # a later year: the rule, not a list
    ("America/New_York", datetime(2026, 3, 10, 9, 0)),
    ("Australia/Sydney", datetime(2026, 10, 4, 12, 0)),
    ("Asia/Tokyo", datetime(2026, 8, 1, 9, 0)),
])
def test_parsers_resolve_local_times_like_zoneinfo(tz_name, local):
    text = _calendar_with(tz_name, local)
    expected = local.replace(tzinfo=ZoneInfo(tz_name)).utcoffset()
    by_vobject = vobject.readOne(text).vevent.dtstart.value
    assert by_vobject.utcoffset() == expected
    by_icalendar = Calendar.from_ical(text).walk("VEVENT")[0].decoded("DTSTART")
    assert by_icalendar.utcoffset() == expected


def test_one_definition_per_zone_whatever_the_year():
    assert vtimezone("Europe/Berlin", 2026).to_ical() == vtimezone("Europe/Berlin", 2029).to_ical()
    text = vtimezone("Europe/Berlin", 2026).to_ical().decode()
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in text
    assert "DTSTART:19700329T020000" in text and "TZOFFSETFROM:+0100" in text


def test_irregular_zone_falls_back_to_the_transitions_of_its_years():
    text = vtimezone("Africa/Casablanca", 2026).to_ical().decode()
    assert "RRULE" not in text and "2026" in text


def test_transitions_are_found_to_the_minute():
    spring, autumn = transitions_in_year(ZoneInfo("Europe/Berlin"), 2026)
    assert spring.local_before == datetime(2026, 3, 29, 2, 0)
    assert (spring.offset_from, spring.offset_to) == (timedelta(hours=1), timedelta(hours=2))
    assert autumn.local_before == datetime(2026, 10, 25, 3, 0) and not autumn.is_dst
