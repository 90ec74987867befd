"""Check-in (security issue, item 15): one window for scan, door list and API; re-scans say
"already checked in"; a ticket of another event is refused at this event's door.

The clock of the pages and the API is set per test (their module's `utcnow`), never slept on.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engagement.accounts.services import create_token
from engagement.api.events import checkins as api_checkins
from engagement.events.checkin import tickets
from engagement.events.checkin import views as checkin_views
from engagement.events.models import Invitation
from engagement.extensions import db
from tests.checkin_helpers import accepted, future_event, scan_path
from tests.conftest import csrf_token
from tests.factories import make_user

# The event of future_event(): 18:00-22:00 Berlin = 17:00-21:00 UTC.
START = datetime(2030, 11, 5, 17, 0, tzinfo=UTC)
END = datetime(2030, 11, 5, 21, 0, tzinfo=UTC)
DURING = START + timedelta(minutes=5)
OUTSIDE = {"weeks_before": START - timedelta(weeks=3),
           "days_after": END + timedelta(days=3)}


@pytest.fixture
def clock(monkeypatch):
    """Set the time the check-in pages and the API see."""
    def set_to(moment: datetime) -> None:
        for module in (checkin_views, api_checkins):
            monkeypatch.setattr(module, "utcnow", lambda: moment)
    set_to(DURING)
    return set_to


@pytest.fixture
def two_events(app):
    with app.app_context():
        here = future_event(title="Here Summit")
        there = future_event(title="Elsewhere Meetup")
        (mine,) = accepted(here)
        (theirs,) = accepted(there)
        out = {"here": here.id, "there": there.id, "mine": mine.id, "theirs": theirs.id,
               "mine_path": scan_path(mine), "theirs_path": scan_path(theirs),
               "mine_token": tickets.make_token(mine.id, mine.nonce),
               "theirs_token": tickets.make_token(theirs.id, theirs.nonce)}
        manager = make_user(role="manager")
        _t, out["api_token"] = create_token(db.session, manager, "door app")
        db.session.commit()
    return out


def _checked_in(app, invitation_id):
    with app.app_context():
        return db.session.get(Invitation, invitation_id).checked_in_at


def _api(app, body, token):
    return app.test_client().post("/api/v1/checkins", json=body,
                                  headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("when", sorted(OUTSIDE))
def test_scan_refuses_outside_the_window(app, client, login_as, clock, two_events, when):
    login_as("manager")
    path = two_events["mine_path"]
    token = csrf_token(client, path)
    clock(OUTSIDE[when])
    page = client.get(path)
    assert ">Check in<" not in page.get_data(as_text=True)
    r = client.post(path, data={"csrf_token": token}, follow_redirects=True)
    assert r.status_code in (200, 409, 410)
    text = r.get_data(as_text=True)
    assert ("opens at" in text) if when == "weeks_before" else ("expired" in text)
    assert _checked_in(app, two_events["mine"]) is None


@pytest.mark.parametrize("when", sorted(OUTSIDE))
def test_door_list_refuses_outside_the_window(app, client, login_as, clock, two_events,
                                              when):
    login_as("manager")
    door = f"/events/{two_events['here']}/door"
    token = csrf_token(client, door)
    clock(OUTSIDE[when])
    r = client.post(f"{door}/{two_events['mine']}/check-in", data={"csrf_token": token},
                    follow_redirects=True)
    text = r.get_data(as_text=True)
    assert ("opens at" in text) if when == "weeks_before" else ("closed" in text)
    assert _checked_in(app, two_events["mine"]) is None
    r = client.post(f"{door}/scan", data={"csrf_token": token,
                                          "ticket": two_events["mine_path"]},
                    follow_redirects=True)
    assert _checked_in(app, two_events["mine"]) is None


@pytest.mark.parametrize("when", sorted(OUTSIDE))
@pytest.mark.parametrize("by", ["token", "invitation_id"])
def test_api_refuses_outside_the_window(app, clock, two_events, when, by):
    clock(OUTSIDE[when])
    body = ({"token": two_events["mine_token"]} if by == "token"
            else {"invitation_id": two_events["mine"]})
    r = _api(app, body, two_events["api_token"])
    assert r.status_code == 409, r.get_json()
    closed = "expired" if by == "token" else "closed"  # a token's link expired with it
    assert r.get_json()["error"]["code"] == ("not_open" if when == "weeks_before" else closed)
    assert _checked_in(app, two_events["mine"]) is None


def test_window_follows_the_settings(app, clock, two_events):
    app.config["CHECKIN_OPENS_HOURS"] = 24 * 30
    clock(START - timedelta(weeks=3))
    r = _api(app, {"invitation_id": two_events["mine"]}, two_events["api_token"])
    assert r.status_code == 200, r.get_json()


def test_a_rescan_warns_already_checked_in_at(app, client, login_as, clock, two_events):
    login_as("manager")
    path = two_events["mine_path"]
    token = csrf_token(client, path)
    first = client.post(path, data={"csrf_token": token}, follow_redirects=True)
    text = first.get_data(as_text=True)
    assert "is checked in" in text and "checkin-done" in text
    clock(DURING + timedelta(minutes=40))
    rescan = client.get(path).get_data(as_text=True)
    # 17:05 UTC is 18:05 in Berlin, the event's wall clock.
    assert "Already checked in at 18:05" in rescan
    assert "checkin-done" not in rescan and "checkin-again" in rescan
    again = client.post(path, data={"csrf_token": token}, follow_redirects=True)
    assert "Already checked in at 18:05" in again.get_data(as_text=True)
    body = _api(app, {"token": two_events["mine_token"]}, two_events["api_token"]).get_json()
    assert body["already_checked_in"] is True


def test_a_ticket_of_another_event_is_refused(app, client, login_as, clock, two_events):
    login_as("manager")
    door = f"/events/{two_events['here']}/door"
    token = csrf_token(client, door)  # the manager is at this event's door
    page = client.get(two_events["theirs_path"])
    text = page.get_data(as_text=True)
    assert page.status_code == 409
    assert "Elsewhere Meetup" in text and "Here Summit" in text and ">Check in<" not in text
    client.post(two_events["theirs_path"], data={"csrf_token": token})
    assert _checked_in(app, two_events["theirs"]) is None
    # Typed or scanned into the door list: refused with the same message.
    r = client.post(f"{door}/scan", data={"csrf_token": token,
                                          "ticket": "http://localhost" + two_events[
                                              "theirs_path"]}, follow_redirects=True)
    assert "This ticket is for Elsewhere Meetup" in r.get_data(as_text=True)
    assert _checked_in(app, two_events["theirs"]) is None
    # The API at this event's door.
    r = _api(app, {"token": two_events["theirs_token"], "event_id": two_events["here"]},
             two_events["api_token"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_event"
    r = _api(app, {"invitation_id": two_events["theirs"], "event_id": two_events["here"]},
             two_events["api_token"])
    assert r.status_code == 409
    assert _checked_in(app, two_events["theirs"]) is None
    # This event's own ticket works through the door list's scan field.
    r = client.post(f"{door}/scan", data={"csrf_token": token,
                                          "ticket": two_events["mine_token"]},
                    follow_redirects=True)
    assert "is checked in" in r.get_data(as_text=True)
    assert _checked_in(app, two_events["mine"]) is not None
    with app.app_context():
        assert db.session.scalar(select(Invitation.id).where(
            Invitation.checked_in_at.is_not(None))) == two_events["mine"]
