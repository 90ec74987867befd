"""'My invitations': upcoming/past, status, links to the invitation page, .ics and Google."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from engagement.events.models import EventStatus, InvitationStatus
from engagement.extensions import db
from engagement.timeutil import utcnow
from tests.factories import make_event, make_invitation, make_member


def _setup(app, login_as, **user):
    with app.app_context():
        me = make_member(email="me@example.org", display_name="Me")
        other = make_member(email="other@example.org")
        soon = make_event("Winter Meetup", days=5)
        make_invitation(soon, me, InvitationStatus.ACCEPTED)
        make_invitation(make_event("Spring Camp", days=40), me, InvitationStatus.WAITLISTED).\
            waitlist_position = 3
        make_invitation(make_event("Autumn Talk", days=-20), me, InvitationStatus.ACCEPTED)
        make_invitation(make_event("Cancelled Party", days=8, status=EventStatus.CANCELLED,
                          cancelled_at=utcnow()), me, InvitationStatus.ACCEPTED)
        make_invitation(make_event("Said No", days=9), me, InvitationStatus.DECLINED)
        make_invitation(make_event("Not Mine", days=6), other, InvitationStatus.ACCEPTED)
        make_invitation(make_event("Draft Thing", days=7, status=EventStatus.DRAFT), me)
        db.session.commit()
        member_id = me.id
    login_as("member", member_id=member_id, **user)
    return member_id


def test_page_lists_own_invitations_with_status_and_links(app, client, login_as):
    _setup(app, login_as)
    r = client.get("/me/invitations")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    upcoming, past = html.split(">Past<")
    assert upcoming.index("Winter Meetup") < upcoming.index("Cancelled Party") < upcoming.index(
        "Spring Camp")
    assert "Autumn Talk" in past and "Autumn Talk" not in upcoming
    assert "Not Mine" not in html and "Draft Thing" not in html
    assert "Waiting list</span> (place 3)" in upcoming
    assert "This event has been cancelled." in upcoming
    links = client.get("/me/invitations").get_data(as_text=True)
    # Upcoming and past events the member still goes to: not the cancelled, not the declined.
    assert "Said No" in links and links.count("/event.ics") == 3
    assert links.count("https://calendar.google.com/calendar/render?action=TEMPLATE") == 3
    invitation_link = next(
        part.split('"')[0] for part in links.split('href="')[1:] if part.startswith("/i/"))
    page = client.get(invitation_link)
    assert page.status_code == 200 and "Winter Meetup" in page.get_data(as_text=True)
    ics = client.get(invitation_link + "/event.ics")
    assert ics.status_code == 200 and b"SUMMARY:Winter Meetup" in ics.data


def test_event_time_is_shown_on_the_event_clock_in_german(app, client, login_as):
    with app.app_context():
        me = make_member(email="zeit@example.org")
        event = make_event("Zeitfest", days=30)
        event.timezone = "America/New_York"
        make_invitation(event, me, InvitationStatus.ACCEPTED)
        db.session.commit()
        expected_hour = event.starts_at.astimezone(ZoneInfo("America/New_York")).strftime(
            "%H:%M")
        member_id = me.id
    login_as("member", member_id=member_id, locale="de")
    html = client.get("/me/invitations").get_data(as_text=True)
    assert "Meine Einladungen" in html and "America/New_York" in html
    assert expected_hour in html


def test_account_without_member_record(app, client, login_as):
    login_as("member")
    r = client.get("/me/invitations")
    assert r.status_code == 200
    assert "not linked to a member record" in r.get_data(as_text=True)


def test_staff_cannot_open_member_page(app, client, login_as):
    login_as("manager")
    assert client.get("/me/invitations").status_code == 403
    login_as("hr")
    assert client.get("/me/invitations").status_code == 403


def test_past_event_with_expired_link_is_listed_without_links(app, client, login_as):
    with app.app_context():
        me = make_member(email="long@example.org")
        make_invitation(make_event("Ancient Gala", days=-400), me, InvitationStatus.ACCEPTED)
        db.session.commit()
        member_id = me.id
    login_as("member", member_id=member_id)
    html = client.get("/me/invitations").get_data(as_text=True)
    assert "Ancient Gala" in html and "/i/" not in html
