"""Personal calendar feed: create, subscribe, parse in icalendar and vobject, reset, switch off."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import vobject
from icalendar import Calendar
from sqlalchemy import select

from engagement.events.calendar import feed
from engagement.events.models import EventStatus, InvitationStatus
from engagement.extensions import db
from engagement.timeutil import utcnow
from tests.conftest import csrf_token
from tests.factories import make_event, make_invitation, make_member

WEBCAL = re.compile(r'value="(webcal://localhost/calendar/([A-Za-z0-9_\-]+)\.ics)"')


def _events(app, member):
    """One event of each kind for `member`; returns {title: uid}."""
    e = {}
    berlin = make_event("Berlin Evening", days=20)
    berlin.starts_at = datetime(2031, 3, 30, 16, 0, tzinfo=UTC)  # 18:00 CEST, after DST start
    berlin.ends_at = berlin.starts_at + timedelta(hours=2)
    tokyo = make_event("Tokyo Lunch", days=25)
    tokyo.timezone = "Asia/Tokyo"
    tokyo.starts_at = datetime(2031, 1, 15, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
    tokyo.ends_at = tokyo.starts_at + timedelta(hours=1)
    for title, event, status in [
        ("Berlin Evening", berlin, InvitationStatus.ACCEPTED),
        ("Tokyo Lunch", tokyo, InvitationStatus.ACCEPTED),
        ("Maybe Brunch", make_event("Maybe Brunch", days=3), InvitationStatus.TENTATIVE),
        ("Declined Dinner", make_event("Declined Dinner", days=4), InvitationStatus.DECLINED),
        ("Waiting Walk", make_event("Waiting Walk", days=5), InvitationStatus.WAITLISTED),
        ("Called Off", make_event("Called Off", days=6, status=EventStatus.CANCELLED,
                                  cancelled_at=utcnow() - timedelta(days=2)),
         InvitationStatus.ACCEPTED),
        ("Long Cancelled", make_event("Long Cancelled", days=-5, status=EventStatus.CANCELLED,
                                      cancelled_at=utcnow() - timedelta(days=40)),
         InvitationStatus.ACCEPTED),
        ("Ancient", make_event("Ancient", days=-200), InvitationStatus.ACCEPTED),
        ("Recent Past", make_event("Recent Past", days=-10), InvitationStatus.ACCEPTED),
    ]:
        make_invitation(event, member, status)
        e[title] = event.uid
    other = make_member(email="someone@example.org")
    make_invitation(make_event("Someone Else's", days=9), other, InvitationStatus.ACCEPTED)
    return e


@pytest.fixture
def subscribed(app, client, login_as):
    with app.app_context():
        me = make_member(email="feed@example.org", display_name="Feed Fan")
        uids = _events(app, me)
        db.session.commit()
        member_id = me.id
    login_as("member", member_id=member_id)
    page = client.get("/me/invitations").get_data(as_text=True)
    assert "webcal://" not in page and "Create my calendar address" in page
    r = client.post("/me/calendar-feed", data={"csrf_token": csrf_token(client, "/me/invitations")})
    assert r.status_code == 302
    page = client.get("/me/invitations").get_data(as_text=True)
    webcal, token = WEBCAL.search(page).groups()
    assert f'value="http://localhost/calendar/{token}.ics"' in page
    assert "cid=http%3A%2F%2Flocalhost%2Fcalendar%2F" in page
    assert len(token) >= 43  # 32 random bytes
    return {"token": token, "uids": uids, "member_id": member_id, "webcal": webcal}


def test_feed_holds_only_accepted_events_of_the_member(app, subscribed):
    r = app.test_client().get(f"/calendar/{subscribed['token']}.ics")  # no session needed
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert r.headers["Cache-Control"] == "private, max-age=900"
    cal = Calendar.from_ical(r.data)
    assert cal.get("METHOD") is None
    summaries = {str(ev["SUMMARY"]): ev for ev in cal.walk("VEVENT")}
    assert set(summaries) == {"Berlin Evening", "Tokyo Lunch", "Called Off", "Recent Past"}
    assert str(summaries["Called Off"]["STATUS"]) == "CANCELLED"
    assert str(summaries["Berlin Evening"]["STATUS"]) == "CONFIRMED"
    uids = subscribed["uids"]
    assert {str(ev["UID"]) for ev in summaries.values()} == {
        uids[t] for t in ("Berlin Evening", "Tokyo Lunch", "Called Off", "Recent Past")}
    # Local wall-clock times with their zone, and a VTIMEZONE for every TZID used.
    berlin = summaries["Berlin Evening"].decoded("DTSTART")
    assert berlin.replace(tzinfo=None) == datetime(2031, 3, 30, 18, 0)
    assert berlin.utcoffset() == timedelta(hours=2)
    assert b"DTSTART;TZID=Europe/Berlin:20310330T180000" in r.data
    assert b"DTSTART;TZID=Asia/Tokyo:20310115T120000" in r.data
    assert {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")} == {"Europe/Berlin", "Asia/Tokyo"}
    # A read-only event page goes along, never the personal invitation link.
    assert str(summaries["Tokyo Lunch"]["URL"]).startswith("http://localhost/e/")


def test_feed_carries_no_invitation_or_ticket_token(app, subscribed):
    """A feed URL is shared with calendar apps (and whoever sees the calendar): what it
    carries must not answer the invitation or check anyone in."""
    from engagement.events import notifications
    from engagement.events.checkin import tickets
    from engagement.events.models import Invitation

    with app.app_context():
        invs = db.session.scalars(select(Invitation).where(
            Invitation.member_id == subscribed["member_id"])).all()
        secrets = {name: token for inv in invs for name, token in (
            (f"invitation {inv.id}", notifications.make_token(inv.id, inv.nonce)),
            (f"ticket {inv.id}", tickets.make_token(inv.id, inv.nonce)),
            (f"nonce {inv.id}", inv.nonce))}
    data = app.test_client().get(f"/calendar/{subscribed['token']}.ics").data
    cal = Calendar.from_ical(data)
    vevents = cal.walk("VEVENT")
    assert vevents
    for vevent in vevents:
        texts = [str(vevent.get(p, "")) for p in ("URL", "DESCRIPTION", "LOCATION",
                                                  "SUMMARY", "ATTACH")]
        for name, secret in secrets.items():
            assert not any(secret in t for t in texts), f"{name} in {vevent['SUMMARY']}"
        assert "/i/" not in "".join(texts) and "/checkin/" not in "".join(texts)
    for name, secret in secrets.items():
        assert secret.encode() not in data, name
    # The link it carries shows the event and changes nothing.
    with app.app_context():
        before = {i.id: (str(i.status), i.checked_in_at) for i in db.session.scalars(
            select(Invitation).where(Invitation.member_id == subscribed["member_id"]))}
    anonymous = app.test_client()
    url = urlsplit(str(vevents[0]["URL"]))
    page = anonymous.get(url.path)
    assert page.status_code == 200 and str(vevents[0]["SUMMARY"]) in page.get_data(as_text=True)
    token = url.path.rsplit("/", 1)[1]
    for path, form in ((url.path, {"status": "declined"}),
                       (f"{url.path}/rsvp", {"status": "declined"}),
                       (f"/i/{token}/rsvp", {"status": "declined"}),
                       (f"/i/{token}", {})):
        # 400: no CSRF token; 404: not an invitation token; 405: a read-only page.
        assert anonymous.post(path, data=form).status_code in (400, 404, 405), path
    assert anonymous.get(f"/i/{token}").status_code == 404  # not an invitation link
    assert anonymous.get(f"/i/{token}/ticket").status_code == 404
    login_manager = app.test_client()
    assert login_manager.get(f"/checkin/{token}").status_code in (302, 404)
    with app.app_context():
        after = {i.id: (str(i.status), i.checked_in_at) for i in db.session.scalars(
            select(Invitation).where(Invitation.member_id == subscribed["member_id"]))}
    assert before == after
    # A forged read-only link is refused.
    assert anonymous.get(url.path[:-2] + "xx").status_code == 404


def test_feed_parses_in_vobject_with_correct_instants(app, subscribed):
    data = app.test_client().get(f"/calendar/{subscribed['token']}.ics").data
    cal = vobject.readOne(data.decode())
    events = {ev.summary.value: ev for ev in cal.vevent_list}
    tokyo = events["Tokyo Lunch"].dtstart.value
    assert tokyo.astimezone(UTC) == datetime(2031, 1, 15, 3, 0, tzinfo=UTC)
    assert tokyo.astimezone(ZoneInfo("Asia/Tokyo")).hour == 12
    berlin = events["Berlin Evening"].dtstart.value
    assert berlin.astimezone(UTC) == datetime(2031, 3, 30, 16, 0, tzinfo=UTC)


def test_unchanged_feed_answers_304(app, subscribed):
    client = app.test_client()
    url = f"/calendar/{subscribed['token']}.ics"
    first = client.get(url)
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert client.get(url).data == first.data  # stable bytes while nothing changes


def test_reset_revokes_the_old_address(app, client, subscribed):
    old = subscribed["token"]
    client.post("/me/calendar-feed", data={"csrf_token": csrf_token(client, "/me/invitations")})
    page = client.get("/me/invitations").get_data(as_text=True)
    new = WEBCAL.search(page).group(2)
    assert new != old
    anon = app.test_client()
    assert anon.get(f"/calendar/{old}.ics").status_code == 404
    assert anon.get(f"/calendar/{new}.ics").status_code == 200


def test_switch_off_and_unknown_tokens(app, client, subscribed):
    token = subscribed["token"]
    r = client.post("/me/calendar-feed/disable",
                    data={"csrf_token": csrf_token(client, "/me/invitations")})
    assert r.status_code == 302
    anon = app.test_client()
    assert anon.get(f"/calendar/{token}.ics").status_code == 404
    assert anon.get("/calendar/x.ics").status_code == 404
    assert anon.get("/calendar/" + "a" * 200 + ".ics").status_code == 404
    page = client.get("/me/invitations").get_data(as_text=True)
    assert "webcal://" not in page and "Create my calendar address" in page
    with app.app_context():
        actions = [a for (a,) in db.session.execute(db.text(
            "SELECT action FROM audit_log WHERE action LIKE 'calendar_feed.%' ORDER BY id"))]
    assert actions == ["calendar_feed.create", "calendar_feed.revoke"]


def test_feed_reset_needs_csrf(app, client, subscribed):
    assert client.post("/me/calendar-feed", data={}).status_code == 400


@pytest.mark.parametrize("inv, event, ends_days, cancelled_days, expected", [
    ("accepted", "published", 5, None, True),
    ("tentative", "published", 5, None, False),
    ("waitlisted", "published", 5, None, False),
    ("accepted", "draft", 5, None, False),
    ("accepted", "published", -89, None, True),
    ("accepted", "published", -91, None, False),
    ("accepted", "cancelled", 5, -29, True),
    ("accepted", "cancelled", 5, -31, False),
])
def test_in_feed_rule(inv, event, ends_days, cancelled_days, expected):
    now = datetime(2030, 1, 1, tzinfo=UTC)
    cancelled = None if cancelled_days is None else now + timedelta(days=cancelled_days)
    assert feed.in_feed(inv, event, now + timedelta(days=ends_days), cancelled,
                        now) is expected


def test_feed_rows_match_the_rule_on_both_databases(app_any):
    with app_any.app_context():
        me = make_member(email="rows@example.org")
        _events(app_any, me)
        db.session.commit()
        now = utcnow()
        rows = feed.feed_rows(db.session, me.id, now)
        from engagement.events.models import Event, Invitation

        every = db.session.execute(db.select(Invitation, Event).join(
            Event, Event.id == Invitation.event_id).where(Invitation.member_id == me.id)).all()
        expected = {e.title for i, e in every
                    if feed.in_feed(i.status, e.status, e.ends_at, e.cancelled_at, now)}
        assert {e.title for _i, e in rows} == expected == {
            "Berlin Evening", "Tokyo Lunch", "Called Off", "Recent Past"}


def test_feed_ttl_is_an_rfc5545_duration(app, subscribed):
    """Issue 12.7: X-PUBLISHED-TTL was written as a Python timedelta ("1:00:00")."""
    data = app.test_client().get(f"/calendar/{subscribed['token']}.ics").data
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in data and b"1:00:00" not in data
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in data


def test_feed_etag_stays_while_nothing_changes(app, subscribed, monkeypatch):
    """Issue 12.7: the ETag changed on every fetch although nothing changed (the links then
    carried their signing time); an hour later, with nothing changed, it must be the same."""
    import itsdangerous.timed

    client = app.test_client()
    url = f"/calendar/{subscribed['token']}.ics"
    clock = [1_900_000_000.0]
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: clock[0])
    first = client.get(url)
    clock[0] += 3600
    later = client.get(url)
    assert later.headers["ETag"] == first.headers["ETag"]  # nothing changed
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    # A real change (the event moved) gives a new ETag.
    with app.app_context():
        from engagement.events.models import Event
        event = db.session.scalar(db.select(Event).where(Event.title == "Tokyo Lunch"))
        event.sequence += 1
        db.session.commit()
    assert client.get(url).headers["ETag"] != first.headers["ETag"]
