"""Calendars: iCalendar objects, time zones, the personal feed and calendar replies (iMIP)."""
