"""Per-member private calendar feed (webcal://…/calendar/<token>.ics) of accepted events.

The token is a random 32-byte secret stored in plain text: the feed is read-only and its
owner must be able to copy the URL again later (Google and Outlook ask for it when the
calendar is added on another device), which a hashed token could not offer. It is long
enough not to be guessed, and "reset" replaces it, so a leaked URL stops working at once.

What the feed holds: events the member ACCEPTED (not tentative or waitlisted: a feed is for
the days they are expected), upcoming plus the last FEED_PAST_DAYS days. A cancelled event
stays FEED_CANCELLED_DAYS as STATUS:CANCELLED so subscribed clients remove it instead of
keeping a stale entry. UIDs and SEQUENCE are the invitation mails', so a client that got
the invitation and subscribes to the feed shows one entry, not two.

What the feed links to: a read-only event page (`details_url`), never the invitation or
ticket link. Feed URLs end up in shared calendars, synced devices and calendar providers;
whoever reads the feed must not be able to answer the invitation or check the member in.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, vDuration
from icalendar import Event as VEvent
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ... import audit, signing
from ..models import Event, EventStatus, Invitation, InvitationStatus
from .ics import PRODID, add_event_details, address
from .models import CalendarFeed
from .vtimezone import vtimezone

FEED_PAST_DAYS = 90
FEED_CANCELLED_DAYS = 30
REFRESH = timedelta(hours=1)  # how often clients should poll (REFRESH-INTERVAL)


def new_token() -> str:
    """A fresh feed secret (stored in plain text: see the module doc)."""
    return signing.random_token(32)


__all__ = ["CalendarFeed", "build_feed", "details_token", "disable_feed", "feed_etag",
           "feed_of", "feed_rows", "in_feed", "member_for_token", "read_details_token",
           "reset_feed"]


def details_token(event_id: int) -> str:
    """The signed token of the event's read-only page (`/e/<token>`)."""
    return signing.make("event", [int(event_id)])


def read_details_token(token: str) -> int:
    """The event id of a read-only page token; signing.LinkInvalid when forged."""
    data = signing.read("event", token)
    if (not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], int)
            or isinstance(data[0], bool) or not 0 < data[0] < 2**63):
        raise signing.LinkInvalid("invalid event link")
    return data[0]


def feed_of(session: Session, member_id: int) -> CalendarFeed | None:
    return session.scalar(select(CalendarFeed).where(CalendarFeed.member_id == member_id))


def reset_feed(session: Session, member_id: int, *, now: datetime) -> CalendarFeed:
    """Give the member a (new) feed URL; the previous one stops working (flush only)."""
    feed = feed_of(session, member_id)
    had_token = feed is not None and feed.token is not None
    if feed is None:
        feed = CalendarFeed(member_id=member_id, created_at=now)
        session.add(feed)
    feed.token = new_token()
    feed.created_at = now
    feed.revoked_at = None
    session.flush()
    audit.record(session, "calendar_feed.reset" if had_token else "calendar_feed.create",
                 "member", member_id, after={"feed_id": feed.id}, at=now)
    return feed


def disable_feed(session: Session, member_id: int, *, now: datetime) -> bool:
    """Switch the feed off (the URL answers 404); False when there was none."""
    feed = feed_of(session, member_id)
    if feed is None or feed.token is None:
        return False
    feed.token = None
    feed.revoked_at = now
    session.flush()
    audit.record(session, "calendar_feed.revoke", "member", member_id,
                 after={"feed_id": feed.id}, at=now)
    return True


def member_for_token(session: Session, token: str) -> int | None:
    """The member whose live feed has this token, or None (unknown, reset or switched off)."""
    if not token or len(token) > 64:
        return None
    return session.scalar(select(CalendarFeed.member_id).where(CalendarFeed.token == token))


def in_feed(invitation_status: str, event_status: str, ends_at: datetime,
            cancelled_at: datetime | None, now: datetime) -> bool:
    """Whether an invitation's event belongs in the feed (pure; mirrors `feed_rows`)."""
    if str(invitation_status) != InvitationStatus.ACCEPTED:
        return False
    if str(event_status) == EventStatus.DRAFT:
        return False
    if ends_at < now - timedelta(days=FEED_PAST_DAYS):
        return False
    if str(event_status) == EventStatus.CANCELLED:
        return cancelled_at is not None and cancelled_at >= now - timedelta(
            days=FEED_CANCELLED_DAYS)
    return True


def feed_rows(session: Session, member_id: int, now: datetime) -> list[tuple[Invitation, Event]]:
    """The member's invitations and events for the feed, oldest first (one query)."""
    return [tuple(row) for row in session.execute(
        select(Invitation, Event).join(Event, Event.id == Invitation.event_id)
        .where(Invitation.member_id == member_id,
               Invitation.status == InvitationStatus.ACCEPTED,
               Event.status != EventStatus.DRAFT,
               Event.ends_at >= now - timedelta(days=FEED_PAST_DAYS),
               or_(Event.status != EventStatus.CANCELLED,
                   Event.cancelled_at >= now - timedelta(days=FEED_CANCELLED_DAYS)))
        .order_by(Event.starts_at, Event.id)).all()]


def build_feed(events: Sequence[tuple[Event, str | None]], *, name: str) -> bytes:
    """A METHOD-less VCALENDAR (a published calendar, not a scheduling message).

    `events` are (event, read-only event page URL): see the module doc. DTSTAMP is the
    event's last change, as RFC 5545 asks for calendars without METHOD; it also keeps the
    bytes (and the ETag) unchanged until something really changed.
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    # An X- property is text unless typed: a bare timedelta would be written "1:00:00".
    cal.add("x-published-ttl", vDuration(REFRESH))
    first_year: dict[str, int] = {}
    for event, _url in events:
        if event.timezone != "UTC":
            year = event.starts_at.astimezone(ZoneInfo(event.timezone)).year
            first_year[event.timezone] = min(year, first_year.get(event.timezone, year))
    for tz_name in sorted(first_year):
        cal.add_component(vtimezone(tz_name, first_year[tz_name]))
    for event, url in events:
        cal.add_component(_vevent(event, url))
    return cal.to_ical()


def feed_etag(rows: Sequence[tuple[Invitation, Event]], *, name: str) -> str:
    """An ETag that changes only when the feed's content does: the feed built with a
    stable stand-in for each personal link (the signed links carry their signing time, so
    the served bytes differ from second to second while nothing changed)."""
    stable = build_feed([(event, f"urn:engagement:invitation:{inv.id}:{inv.nonce}")
                         for inv, event in rows], name=name)
    return hashlib.sha256(stable).hexdigest()


def _vevent(event: Event, url: str | None) -> VEvent:
    vevent = VEvent()
    vevent.add("uid", event.uid)
    stamp = (event.updated_at or event.created_at).astimezone(UTC)
    vevent.add("dtstamp", stamp)
    vevent.add("last-modified", stamp)
    vevent.add("sequence", event.sequence)
    add_event_details(vevent, event, url)
    cancelled = str(event.status) == EventStatus.CANCELLED
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    vevent.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    vevent.add("class", "PRIVATE")
    vevent.add("organizer", address(event.organizer_email, event.organizer_name))
    return vevent
